package processor

import (
	"math"
	"sync"
	"time"
)

// rateLimitConfig drops lines over a rate, per entry or per file:
//
//	{"type":"rate_limit","lines_per_second":1000,"burst":5000}
//	{"type":"rate_limit","lines_per_second":100,"per_file":true}
//
// burst (default: one second's worth) is how many lines may pass at once
// after a quiet spell. A dropped line is acknowledged without being sent
// and counted (Stats.RateLimited).
type rateLimitConfig struct {
	Type           string  `json:"type"`
	LinesPerSecond float64 `json:"lines_per_second"`
	Burst          int     `json:"burst"`
	PerFile        bool    `json:"per_file"`
}

// maxIdleBuckets bounds the per-file buckets kept; past it, the buckets
// of files quiet long enough to be full again are forgotten (a full
// bucket is what a new one starts as, so forgetting it changes nothing).
const maxIdleBuckets = 1024

type rateLimit struct {
	rate    float64 // tokens per second
	burst   float64
	perFile bool
	now     func() time.Time

	mu    sync.Mutex
	entry bucket
	files map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func (c *rateLimitConfig) compile(opts Options) (step, error) {
	if !(c.LinesPerSecond > 0) || math.IsInf(c.LinesPerSecond, 0) {
		return nil, badValue("lines_per_second", c.LinesPerSecond, "must be more than 0",
			`write the lines per second to let through, e.g. 1000 (to drop every line use {"type":"drop","pattern":"^"})`)
	}
	if c.Burst < 0 {
		return nil, badValue("burst", c.Burst, "negative", "leave it out (one second's worth) or write a positive count")
	}
	burst := float64(c.Burst)
	if c.Burst == 0 {
		burst = math.Max(1, math.Ceil(c.LinesPerSecond))
	}
	r := &rateLimit{rate: c.LinesPerSecond, burst: burst, perFile: c.PerFile, now: opts.Now}
	r.entry.tokens = burst
	if c.PerFile {
		r.files = map[string]*bucket{}
	}
	return r, nil
}

func (r *rateLimit) apply(l *Line) Verdict {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	b := &r.entry
	if r.perFile {
		b = r.files[l.Source]
		if b == nil {
			if len(r.files) >= maxIdleBuckets {
				r.forgetFull(now)
			}
			b = &bucket{tokens: r.burst, last: now}
			r.files[l.Source] = b
		}
	}
	if r.take(b, now) {
		return Keep
	}
	return Drop
}

// take refills b for the time since its last line and takes a token.
func (r *rateLimit) take(b *bucket, now time.Time) bool {
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 || b.last.IsZero() {
		if b.last.IsZero() {
			elapsed = 0
		}
		b.tokens = math.Min(r.burst, b.tokens+elapsed*r.rate)
		b.last = now
	} // a clock that went back refills nothing
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (r *rateLimit) forgetFull(now time.Time) {
	for k, b := range r.files {
		if b.tokens+now.Sub(b.last).Seconds()*r.rate >= r.burst {
			delete(r.files, k)
		}
	}
}
