// Package budget bounds in bytes what a service holds between reading a
// record and the next stage's acknowledgement of it: the agent's records
// sent to Kafka and not yet acknowledged, the transfer's records consumed
// from Kafka and not yet indexed. A bound in records alone lets a few
// thousand large records hold gigabytes.
package budget

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// ErrClosed is returned by a Take that was waiting when its closed channel
// closed.
var ErrClosed = errors.New("closed while waiting for the memory budget")

// Bytes is a budget of max bytes (the services' max_inflight_bytes).
// Waiters are served first come, first served, so a large record is not
// starved by small ones slipping past it; a record larger than the whole
// budget claims all of it (Claim) and so passes alone, never waiting
// forever.
type Bytes struct {
	max int64
	// OnChange, when set before use, learns the bytes in use after every
	// change (a gauge); it is called with the budget's lock held.
	OnChange func(used int64)

	mu      sync.Mutex
	used    int64
	waiters []*waiter
}

type waiter struct {
	n     int64
	ready chan struct{} // closed once the bytes are claimed for the waiter
}

// New returns a budget of max bytes.
func New(max int64) *Bytes { return &Bytes{max: max} }

// Claim is what a record of n bytes takes from the budget; TryTake, Take
// and Give count in claims.
func (b *Bytes) Claim(n int64) int64 { return min(n, b.max) }

// TryTake claims n bytes if they are free and nobody waits before.
func (b *Bytes) TryTake(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) == 0 && b.used+n <= b.max {
		b.add(n)
		return true
	}
	return false
}

// Take claims n bytes, waiting until they are free, ctx ends (its error)
// or closed is closed (ErrClosed; nil: never).
func (b *Bytes) Take(ctx context.Context, closed <-chan struct{}, n int64) error {
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.max {
		b.add(n)
		b.mu.Unlock()
		return nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	var err error
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-closed:
		err = ErrClosed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted while giving up: hand the bytes back
		b.add(-n)
	default:
		b.waiters = slices.DeleteFunc(b.waiters, func(x *waiter) bool { return x == w })
	}
	b.grant() // the waiters behind w may fit now
	return err
}

// Give frees n bytes that Take or TryTake claimed (several claims at once).
func (b *Bytes) Give(n int64) {
	b.mu.Lock()
	b.add(-n)
	b.grant()
	b.mu.Unlock()
}

// InUse is the number of bytes claimed.
func (b *Bytes) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// grant hands freed bytes to waiters in arrival order; b.mu is held.
func (b *Bytes) grant() {
	for len(b.waiters) > 0 {
		w := b.waiters[0]
		if b.used+w.n > b.max {
			return
		}
		b.add(w.n)
		close(w.ready)
		b.waiters[0] = nil
		b.waiters = b.waiters[1:]
	}
}

// add changes the bytes in use; b.mu is held.
func (b *Bytes) add(n int64) {
	b.used += n
	if b.OnChange != nil {
		b.OnChange(b.used)
	}
}
