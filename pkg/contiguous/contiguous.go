// Package contiguous tracks work items that are added in order and complete
// out of order, and yields the position up to which everything completed:
// the position of the last item of the contiguous completed run from the
// start. It is the one implementation of "nothing lost" for every stage
// that saves a resume point:
//
//   - the agent's file checkpoint: the byte offset just past the last line
//     of the run Kafka acknowledged;
//   - the agent's journal cursor: the sequence number of the last entry of
//     that run;
//   - the transfer's Kafka commit: the next offset to consume, once every
//     record below it was indexed or dead-lettered.
//
// Saving the highest completed position instead would skip an unfinished
// item after a crash (acks come back out of order: retries, several
// partitions or workers in flight).
package contiguous

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrClosed is returned by Add once the tracker was closed.
var ErrClosed = errors.New("tracker closed")

// ErrNotAfter is wrapped by Add when a position is not above the last
// added one: positions must increase, or the run could move back.
var ErrNotAfter = errors.New("position not after the last added one")

// Tracker is safe for concurrent use: typically one goroutine adds items
// in order and others acknowledge them. P is the caller's unit of position
// (a byte offset, a sequence number, a Kafka offset).
type Tracker[P cmp.Ordered] struct {
	mu sync.Mutex
	// Items not yet in the completed run are items[head:], in the order
	// added; the first of them has sequence number base. Items before
	// head are dropped in bulk (see compact), so an ack costs O(1)
	// amortised instead of a copy of every pending item.
	items    []item[P]
	head     int
	base     uint64
	position P   // position of the last item of the completed run
	open     int // items added and not yet acknowledged
	advanced func(P)
	closed   bool
	// idle, when not nil, is closed once no item is open; it is made
	// only when WaitIdle has to wait, so Add and Ack never allocate it.
	idle chan struct{}
}

type item[P cmp.Ordered] struct {
	pos  P
	done bool
}

// New starts tracking at start (the position resumed from: nothing before
// it is tracked). advanced, if not nil, is called with the new position
// each time the completed run grows. It is called under the tracker's lock,
// so calls arrive in order and never after Close returned; it must not
// call the tracker.
func New[P cmp.Ordered](start P, advanced func(P)) *Tracker[P] {
	return &Tracker[P]{position: start, advanced: advanced}
}

// Add registers the next item, whose completion (with every item before
// it) moves the run to pos, and returns its sequence number for Ack. pos
// must be above the position of the last item added (or the start).
func (t *Tracker[P]) Add(pos P) (uint64, error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return 0, ErrClosed
	}
	if last := t.last(); pos <= last {
		t.mu.Unlock()
		return 0, fmt.Errorf("add %v after %v: %w", pos, last, ErrNotAfter)
	}
	t.items = append(t.items, item[P]{pos: pos})
	t.open++
	seq := t.base + uint64(len(t.items)-t.head-1)
	t.mu.Unlock() // not deferred: Add is the hot path, once per line
	return seq, nil
}

// last is the position of the last item added, or of the run when none is
// pending.
func (t *Tracker[P]) last() P {
	if len(t.items) > t.head {
		return t.items[len(t.items)-1].pos
	}
	return t.position
}

// Ack marks item seq complete (delivered, indexed or dead-lettered) and
// advances the run over every contiguous completed item. Acking an item
// twice, or one that was never added, is a no-op; on a closed tracker,
// Ack does nothing.
func (t *Tracker[P]) Ack(seq uint64) { t.AckRun(seq, 1) }

// AckRun acks items seq to seq+n-1 as Ack does each, with one advance.
func (t *Tracker[P]) AckRun(seq uint64, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pending := uint64(len(t.items) - t.head)
	if t.closed || n <= 0 || seq >= t.base+pending || seq+uint64(n) <= t.base {
		return
	}
	from, to := max(seq, t.base), min(seq+uint64(n), t.base+pending) // clipped to the pending items
	i := t.head + int(from-t.base)
	for k := i; k < i+int(to-from); k++ {
		if !t.items[k].done {
			t.items[k].done = true
			t.open--
		}
	}
	if t.open == 0 && t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
	if i != t.head {
		// The first pending item is not complete (it would have
		// joined the run), so the run cannot advance yet.
		return
	}
	j := i
	for j < len(t.items) && t.items[j].done {
		j++
	}
	t.position = t.items[j-1].pos
	t.base += uint64(j - t.head)
	t.head = j
	t.compact()
	if t.advanced != nil {
		t.advanced(t.position)
	}
}

// compact drops the items of the run once they are at least half of the
// slice, so the backing array stays bounded by the pending items (which
// the caller bounds) while each item is copied O(1) times on average.
func (t *Tracker[P]) compact() {
	switch {
	case t.head == len(t.items):
		t.items, t.head = t.items[:0], 0
	case t.head >= 64 && 2*t.head >= len(t.items):
		n := copy(t.items, t.items[t.head:])
		clear(t.items[n:]) // P may hold pointers (a string)
		t.items, t.head = t.items[:n], 0
	}
}

// Cancel withdraws item seq if it is the last one added and not acked (it
// was never sent because the caller is stopping), so nobody waits for it
// and its sequence number and position can be added again.
func (t *Tracker[P]) Cancel(seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.items) - t.head
	if n == 0 || seq != t.base+uint64(n-1) || t.items[len(t.items)-1].done {
		return
	}
	t.items = t.items[:len(t.items)-1]
	t.open--
	if t.open == 0 && t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
}

// Position is the position of the last item of the completed run (the
// start until the first advance).
func (t *Tracker[P]) Position() P {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.position
}

// Pending is the number of items added and not yet acknowledged.
func (t *Tracker[P]) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.open
}

// WaitIdle blocks until no item is pending or ctx is done, returning ctx's
// error then.
func (t *Tracker[P]) WaitIdle(ctx context.Context) error {
	t.mu.Lock()
	if t.open == 0 {
		t.mu.Unlock()
		return nil
	}
	if t.idle == nil {
		t.idle = make(chan struct{})
	}
	idle := t.idle
	t.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the run where it is (a Kafka partition was revoked): later
// acks mark nothing and Add returns ErrClosed; once Close returned,
// advanced is never called again. It returns how many items were pending,
// now abandoned. Closing twice returns 0.
func (t *Tracker[P]) Close() (abandoned int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return 0
	}
	t.closed = true
	return t.open
}

// Closed reports whether Close was called.
func (t *Tracker[P]) Closed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}
