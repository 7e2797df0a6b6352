package sink

import (
	"context"
	"errors"
	"slices"
	"sync"
	"unsafe"
)

// messageOverhead is what a record costs besides its key, value and event id
// bytes: the Message itself and the caller's pointer to it.
const messageOverhead = int64(unsafe.Sizeof(Message{})) + 8

// heldBytes is the memory a record holds until Kafka acknowledged it. The
// key is shared by a file's records, so counting it per record errs on the
// safe side.
func heldBytes(m *Message) int64 {
	return int64(len(m.Key)+len(m.Value)+len(m.EventID)) + messageOverhead
}

// errSinkClosed is returned to senders waiting when the sink closes.
var errSinkClosed = errors.New("kafka sink closed")

// byteBudget bounds the bytes of records sent and not yet acknowledged
// (max_inflight_bytes): chan_max_size alone bounds records, and 5,000 lines
// of 512 KiB are gigabytes. Waiters are served first come, first served, so
// a large record is not starved by small ones slipping past it; a record
// larger than the whole budget claims all of it and so passes alone, never
// waiting forever.
type byteBudget struct {
	max     int64
	mu      sync.Mutex
	used    int64
	waiters []*budgetWaiter
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed once the bytes are claimed for the waiter
}

func newByteBudget(max int64) *byteBudget { return &byteBudget{max: max} }

// claim is what a record of n bytes takes from the budget; take, tryTake
// and give count in claims.
func (b *byteBudget) claim(n int64) int64 { return min(n, b.max) }

// tryTake claims n bytes if they are free and nobody waits before.
func (b *byteBudget) tryTake(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) == 0 && b.used+n <= b.max {
		b.used += n
		return true
	}
	return false
}

// take claims n bytes (at most max: a claim), waiting until they are free,
// ctx ends (its error) or closed is closed (errSinkClosed).
func (b *byteBudget) take(ctx context.Context, closed <-chan struct{}, n int64) error {
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.max {
		b.used += n
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	var err error
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-closed:
		err = errSinkClosed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted while giving up: hand the bytes back
		b.used -= n
	default:
		b.waiters = slices.DeleteFunc(b.waiters, func(x *budgetWaiter) bool { return x == w })
	}
	b.grant() // the waiters behind w may fit now
	return err
}

// give frees n bytes that take or tryTake claimed (several claims at once).
func (b *byteBudget) give(n int64) {
	b.mu.Lock()
	b.used -= n
	b.grant()
	b.mu.Unlock()
}

// grant hands freed bytes to waiters in arrival order; b.mu is held.
func (b *byteBudget) grant() {
	for len(b.waiters) > 0 {
		w := b.waiters[0]
		if b.used+w.n > b.max {
			return
		}
		b.used += w.n
		close(w.ready)
		b.waiters[0] = nil
		b.waiters = b.waiters[1:]
	}
}

// inUse is the number of bytes claimed.
func (b *byteBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
