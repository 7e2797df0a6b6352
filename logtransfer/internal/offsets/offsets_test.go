package offsets

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

type marks struct {
	mu  sync.Mutex
	got []int64
}

func (m *marks) mark(next int64) {
	m.mu.Lock()
	m.got = append(m.got, next)
	m.mu.Unlock()
}

func (m *marks) last() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.got) == 0 {
		return -1
	}
	return m.got[len(m.got)-1]
}

func track(t *testing.T, p *Partition, offsets ...int64) {
	t.Helper()
	for _, o := range offsets {
		if err := p.Track(o); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMarksOnlyContiguousDoneOffsets(t *testing.T) {
	var m marks
	p := NewPartition("web_log", 0, m.mark)
	track(t, p, 10, 11, 12, 13, 14)

	steps := []struct {
		done     int64
		wantMark int64 // last mark after the step; -1: none yet
	}{
		{12, -1}, // 10 and 11 outstanding
		{14, -1},
		{11, -1}, // 10 still outstanding
		{10, 13}, // 10,11,12 done: resume at 13
		{13, 15}, // everything done
	}
	for _, s := range steps {
		p.Done(s.done)
		if got := m.last(); got != s.wantMark {
			t.Fatalf("after Done(%d): last mark %d, want %d (all marks %v)", s.done, got, s.wantMark, m.got)
		}
	}
	if p.Pending() != 0 {
		t.Errorf("pending = %d, want 0", p.Pending())
	}
}

func TestGapsFromCompactionAndUnknownOffsets(t *testing.T) {
	var m marks
	p := NewPartition("t", 1, m.mark)
	track(t, p, 5, 9, 20) // compacted topic: offsets jump
	if p.Done(7) {
		t.Fatal("Done of an untracked offset marked something")
	}
	p.Done(9)
	p.Done(5)
	if got := m.last(); got != 10 {
		t.Fatalf("mark = %d, want 10", got)
	}
	if p.Done(5) {
		t.Fatal("Done twice marked again")
	}
	p.Done(20)
	if got := m.last(); got != 21 {
		t.Fatalf("mark = %d, want 21", got)
	}
	if err := p.Track(20); err == nil {
		t.Fatal("Track of a non-increasing offset: want error")
	}
}

func TestRetriedRecordHoldsBackTheMark(t *testing.T) {
	// A record that keeps failing with a retryable error is not Done; the
	// records after it finish but the mark must not pass it.
	var m marks
	p := NewPartition("t", 0, m.mark)
	track(t, p, 0, 1, 2, 3)
	p.Done(0)
	p.Done(2)
	p.Done(3)
	if got := m.last(); got != 1 {
		t.Fatalf("mark = %d, want 1 (record 1 still retrying)", got)
	}
	p.Done(1) // the retry finally succeeded
	if got := m.last(); got != 4 {
		t.Fatalf("mark = %d, want 4", got)
	}
}

func TestCloseAbandonsWithoutMarking(t *testing.T) {
	var m marks
	p := NewPartition("t", 0, m.mark)
	track(t, p, 0, 1, 2)
	p.Done(0)
	if n := p.Close(); n != 2 {
		t.Fatalf("Close abandoned %d, want 2", n)
	}
	p.Done(1)
	p.Done(2)
	if got := m.last(); got != 1 {
		t.Fatalf("mark after close = %d, want it to stay 1", got)
	}
	if err := p.Track(3); err != ErrClosed {
		t.Fatalf("Track after Close = %v, want ErrClosed", err)
	}
	if !p.Closed() {
		t.Fatal("Closed() = false")
	}
}

func TestWaitReturnsWhenIdleOrOnDeadline(t *testing.T) {
	var m marks
	p := NewPartition("t", 0, m.mark)
	if err := p.Wait(context.Background()); err != nil {
		t.Fatalf("Wait on an empty partition: %v", err)
	}
	track(t, p, 0, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := p.Wait(ctx); err == nil {
		t.Fatal("Wait with outstanding records returned nil before the deadline")
	}
	done := make(chan error, 1)
	go func() { done <- p.Wait(context.Background()) }()
	p.Done(1)
	p.Done(0)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after every record was done")
	}
}

// TestConcurrentWorkersOutOfOrder: several workers complete records in
// random order while the reader keeps tracking; the marks must be
// increasing and never pass an offset that is not done yet.
func TestConcurrentWorkersOutOfOrder(t *testing.T) {
	const n = 20000
	var (
		mu       sync.Mutex
		doneSet        = make(map[int64]bool, n)
		lastMark int64 = -1
	)
	var p *Partition
	p = NewPartition("t", 0, func(next int64) {
		// Called under p's lock: every offset below next must be done.
		mu.Lock()
		defer mu.Unlock()
		if next <= lastMark {
			t.Errorf("mark %d not above previous %d", next, lastMark)
		}
		for o := max(lastMark, 0); o < next; o++ {
			if !doneSet[o] {
				t.Errorf("marked %d but offset %d is not done", next, o)
				return
			}
		}
		lastMark = next
	})
	work := make(chan int64, 64)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Go(func() {
			var batch []int64
			flush := func() {
				rand.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
				for _, o := range batch {
					mu.Lock()
					doneSet[o] = true
					mu.Unlock()
					p.Done(o)
				}
				batch = batch[:0]
			}
			for o := range work {
				batch = append(batch, o)
				if len(batch) == 1+rand.IntN(50) {
					flush()
				}
			}
			flush()
		})
	}
	for o := int64(0); o < n; o++ {
		if err := p.Track(o); err != nil {
			t.Fatal(err)
		}
		work <- o
	}
	close(work)
	wg.Wait()
	if lastMark != n {
		t.Fatalf("final mark %d, want %d", lastMark, n)
	}
	if len(p.entries) > 64 {
		t.Errorf("%d entries kept after everything was marked", len(p.entries))
	}
}

func TestForgetTheRecordThatNeverLeft(t *testing.T) {
	var m marks
	p := NewPartition("t", 0, m.mark)
	track(t, p, 0, 1)
	p.Forget(0) // not the last: ignored
	p.Forget(1)
	if p.Pending() != 1 {
		t.Fatalf("pending = %d, want 1", p.Pending())
	}
	p.Done(0)
	if err := p.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m.last() != 1 {
		t.Fatalf("mark = %d, want 1 (offset 1 was never processed)", m.last())
	}
}
