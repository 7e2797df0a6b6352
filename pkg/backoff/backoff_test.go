package backoff

import (
	"context"
	"testing"
	"time"
)

func TestNextGrowsAndCaps(t *testing.T) {
	b := Backoff{Min: 10 * time.Millisecond, Max: 80 * time.Millisecond, Factor: 2, Jitter: 0.01}
	want := []time.Duration{10, 20, 40, 80, 80, 80}
	for i, w := range want {
		w *= time.Millisecond
		got := b.Next()
		if got < w*99/100 || got > w*101/100 {
			t.Errorf("attempt %d: %v, want about %v", i, got, w)
		}
	}
	b.Reset()
	if got := b.Next(); got > 11*time.Millisecond {
		t.Errorf("after Reset: %v, want about Min", got)
	}
}

func TestWaitStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := Backoff{Min: time.Hour}
	if err := b.Wait(ctx); err != context.Canceled {
		t.Errorf("Wait on cancelled ctx = %v, want context.Canceled", err)
	}
}
