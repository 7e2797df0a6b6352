package processor

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for rate_limit.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func rateChain(t *testing.T, cfg string) (*Chain, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: readTime}
	c, err := Parse([]byte(cfg), Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return c, clock
}

// kept counts the lines of source that pass out of n.
func kept(c *Chain, source string, n int) int {
	k := 0
	for range n {
		if c.Apply(&Line{Message: "m", Source: source}) == Keep {
			k++
		}
	}
	return k
}

func TestRateLimit(t *testing.T) {
	c, clock := rateChain(t, `[{"type":"rate_limit","lines_per_second":10,"burst":5}]`)
	if k := kept(c, "a", 20); k != 5 {
		t.Errorf("first burst: %d kept, want 5", k)
	}
	clock.Advance(300 * time.Millisecond) // 3 tokens
	if k := kept(c, "b", 20); k != 3 {
		t.Errorf("after 300ms: %d kept, want 3 (the limit is per entry, whatever the file)", k)
	}
	clock.Advance(time.Hour) // refills to the burst, not beyond
	if k := kept(c, "a", 20); k != 5 {
		t.Errorf("after an hour: %d kept, want 5", k)
	}
	clock.Advance(-time.Minute) // a clock that goes back refills nothing and breaks nothing
	if k := kept(c, "a", 5); k != 0 {
		t.Errorf("clock went back: %d kept", k)
	}
	if got := c.Stats().RateLimited; got != 20-5+20-3+20-5+5 {
		t.Errorf("RateLimited = %d", got)
	}
}

func TestRateLimitDefaultBurstAndFraction(t *testing.T) {
	c, clock := rateChain(t, `[{"type":"rate_limit","lines_per_second":0.5}]`)
	if k := kept(c, "a", 3); k != 1 {
		t.Errorf("burst of a 0.5/s limit: %d, want 1", k)
	}
	clock.Advance(time.Second)
	if k := kept(c, "a", 3); k != 0 {
		t.Errorf("half a token: %d", k)
	}
	clock.Advance(time.Second)
	if k := kept(c, "a", 3); k != 1 {
		t.Errorf("a whole token: %d", k)
	}
}

func TestRateLimitPerFile(t *testing.T) {
	c, clock := rateChain(t, `[{"type":"rate_limit","lines_per_second":1,"burst":2,"per_file":true}]`)
	if ka, kb := kept(c, "a", 5), kept(c, "b", 5); ka != 2 || kb != 2 {
		t.Errorf("per file: a %d, b %d, want 2 each", ka, kb)
	}
	// Many files: idle (full) buckets are forgotten, busy ones are not.
	r := c.steps[0].(*rateLimit)
	for i := range 3 * maxIdleBuckets {
		clock.Advance(10 * time.Millisecond)
		kept(c, fmt.Sprint("f", i), 1)
	}
	if n := len(r.files); n > maxIdleBuckets+1 {
		t.Errorf("%d buckets kept, want at most %d", n, maxIdleBuckets+1)
	}
	clock.Advance(time.Hour)
	if k := kept(c, "a", 5); k != 2 {
		t.Errorf("a after an hour: %d", k)
	}
}

func TestRateLimitConcurrent(t *testing.T) {
	c, _ := rateChain(t, `[{"type":"rate_limit","lines_per_second":1,"burst":100}]`)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 8 {
		wg.Go(func() {
			k := kept(c, "a", 50)
			mu.Lock()
			total += k
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != 100 || c.Stats().RateLimited != 300 {
		t.Errorf("kept %d, limited %d; want 100 and 300", total, c.Stats().RateLimited)
	}
}
