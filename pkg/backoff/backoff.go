// Package backoff is capped exponential backoff with jitter, bound to a
// context, for retrying retryable errors against etcd, Kafka and
// Elasticsearch.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff yields growing delays: Min, Min*Factor, ... capped at Max, each
// randomised by ±Jitter so a fleet of agents does not retry in lockstep.
// The zero value uses 100ms, 30s, 2 and 0.2.
type Backoff struct {
	Min, Max time.Duration
	Factor   float64
	Jitter   float64

	attempt int
}

// Next returns the delay before the next attempt and advances.
func (b *Backoff) Next() time.Duration {
	min, max, factor, jitter := b.Min, b.Max, b.Factor, b.Jitter
	if min <= 0 {
		min = 100 * time.Millisecond
	}
	if max <= 0 {
		max = 30 * time.Second
	}
	if factor < 1 {
		factor = 2
	}
	if jitter <= 0 {
		jitter = 0.2
	}
	d := float64(min)
	for i := 0; i < b.attempt && d < float64(max); i++ {
		d *= factor
	}
	if d > float64(max) {
		d = float64(max)
	}
	b.attempt++
	d *= 1 + jitter*(2*rand.Float64()-1)
	return time.Duration(d)
}

// Attempt is how many delays Next has handed out since the last Reset.
func (b *Backoff) Attempt() int { return b.attempt }

// Reset starts again from Min after a success.
func (b *Backoff) Reset() { b.attempt = 0 }

// Wait sleeps for Next() or until ctx is done, returning ctx.Err() then.
func (b *Backoff) Wait(ctx context.Context) error {
	return Sleep(ctx, b.Next())
}

// Sleep waits for d or until ctx is done.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
