package budget

import (
	"context"
	"errors"
	"testing"
	"time"
)

// waitTaken reports whether the goroutine's take returned within d.
func waitTaken(ch <-chan error, d time.Duration) (error, bool) {
	select {
	case err := <-ch:
		return err, true
	case <-time.After(d):
		return nil, false
	}
}

func TestBytes(t *testing.T) {
	closed := make(chan struct{})
	takeAsync := func(b *Bytes, ctx context.Context, n int64) <-chan error {
		ch := make(chan error, 1)
		go func() { ch <- b.Take(ctx, closed, n) }()
		return ch
	}
	waitQueued := func(b *Bytes, n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			b.mu.Lock()
			q := len(b.waiters)
			b.mu.Unlock()
			if q == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d waiters, want %d", q, n)
			}
		}
	}
	ctx := context.Background()

	t.Run("a record larger than the budget passes alone", func(t *testing.T) {
		b := New(100)
		if !b.TryTake(60) {
			t.Fatal("60 of 100 free bytes not taken")
		}
		big := takeAsync(b, ctx, b.Claim(500))
		waitQueued(b, 1)
		if b.TryTake(10) {
			t.Fatal("a small record slipped past the large one waiting")
		}
		small := takeAsync(b, ctx, 10)
		waitQueued(b, 2)
		b.Give(60)
		if err, ok := waitTaken(big, 10*time.Second); !ok || err != nil {
			t.Fatalf("large record: taken %v, err %v; want taken once the budget was empty", ok, err)
		}
		if got := b.InUse(); got != 100 {
			t.Fatalf("in use %d, want the whole budget 100", got)
		}
		if _, ok := waitTaken(small, 100*time.Millisecond); ok {
			t.Fatal("a record was taken beside the large one")
		}
		b.Give(b.Claim(500))
		if err, ok := waitTaken(small, 10*time.Second); !ok || err != nil {
			t.Fatalf("small record: taken %v, err %v", ok, err)
		}
		if got := b.InUse(); got != 10 {
			t.Fatalf("in use %d, want 10", got)
		}
	})

	t.Run("cancel and close unblock, and let the next waiter in", func(t *testing.T) {
		b := New(100)
		b.TryTake(90)
		cctx, cancel := context.WithCancel(ctx)
		first := takeAsync(b, cctx, 50)
		waitQueued(b, 1)
		second := takeAsync(b, ctx, 10) // fits, but waits behind first
		waitQueued(b, 2)
		cancel()
		if err, ok := waitTaken(first, 10*time.Second); !ok || !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled take: returned %v, err %v; want context.Canceled", ok, err)
		}
		if err, ok := waitTaken(second, 10*time.Second); !ok || err != nil {
			t.Fatalf("take behind the cancelled one: returned %v, err %v", ok, err)
		}
		third := takeAsync(b, ctx, 50)
		waitQueued(b, 1)
		close(closed)
		if err, ok := waitTaken(third, 10*time.Second); !ok || !errors.Is(err, ErrClosed) {
			t.Fatalf("take on a closed sink: returned %v, err %v", ok, err)
		}
		if got := b.InUse(); got != 100 {
			t.Fatalf("in use %d, want 100 (nothing leaked by the abandoned takes)", got)
		}
	})
}
