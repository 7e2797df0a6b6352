// Package ack tracks which lines of one file Kafka acknowledged and yields
// the offset a checkpoint may safely hold: the end of the last line of the
// contiguous acknowledged run from the start. Acks arrive out of order
// (retries, several partitions in flight); saving the highest acked offset
// instead would skip an unacknowledged line after a crash.
package ack

import (
	"context"
	"sync"
	"time"
)

// Tracker is safe for concurrent use: one goroutine adds lines in file
// order, the producer's result goroutine acks them.
type Tracker struct {
	mu sync.Mutex
	// Pending lines are ends[head:] and acked[head:], in file order; the
	// first of them has sequence number base. Consumed entries before head
	// are dropped in bulk (see compact), so an ack costs O(1) amortised
	// rather than a copy of every pending line.
	base    uint64
	head    int
	ends    []int64
	acked   []bool
	offset  int64 // end of the contiguous acknowledged run
	next    uint64
	changed func(offset int64)
}

// New starts tracking at offset (the checkpoint the file resumed from).
// changed, if not nil, is called with the new offset whenever it advances,
// under the tracker's lock, so calls arrive in order.
func New(offset int64, changed func(int64)) *Tracker {
	return &Tracker{offset: offset, changed: changed}
}

// Add registers the next line of the file, which ends at end, and returns
// its sequence number for Ack.
func (t *Tracker) Add(end int64) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	seq := t.next
	t.next++
	t.ends = append(t.ends, end)
	t.acked = append(t.acked, false)
	return seq
}

// Ack marks line seq delivered (or dead-lettered) and advances the offset
// over every contiguous acknowledged line. Acking a line twice, or one that
// was never added, is a no-op.
func (t *Tracker) Ack(seq uint64) { t.AckRun(seq, 1) }

// AckRun acks lines seq to seq+n-1 as Ack does each, with one advance.
func (t *Tracker) AckRun(seq uint64, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pending := uint64(len(t.ends) - t.head)
	if n <= 0 || seq >= t.base+pending || seq+uint64(n) <= t.base {
		return
	}
	from, to := max(seq, t.base), min(seq+uint64(n), t.base+pending) // clipped to the pending lines
	for s := from; s < to; s++ {
		t.acked[t.head+int(s-t.base)] = true
	}
	i := t.head + int(from-t.base)
	if i != t.head {
		// The first pending line is never acked (it would have been
		// consumed), so the run cannot advance yet.
		return
	}
	j := i
	for j < len(t.acked) && t.acked[j] {
		j++
	}
	t.offset = t.ends[j-1]
	t.base += uint64(j - t.head)
	t.head = j
	t.compact()
	if t.changed != nil {
		t.changed(t.offset)
	}
}

// compact drops consumed entries once they are at least half of the
// slices, so the backing arrays stay bounded by the pending lines (bounded
// by chan_max_size) while each entry is copied O(1) times on average.
func (t *Tracker) compact() {
	switch {
	case t.head == len(t.ends):
		t.ends, t.acked, t.head = t.ends[:0], t.acked[:0], 0
	case t.head >= 64 && 2*t.head >= len(t.ends):
		n := copy(t.ends, t.ends[t.head:])
		copy(t.acked, t.acked[t.head:])
		t.ends, t.acked, t.head = t.ends[:n], t.acked[:n], 0
	}
}

// Cancel withdraws line seq if it is the last one added (its send failed
// because the task is stopping): the line was never sent, so nobody will
// ack it and WaitIdle must not wait for it.
func (t *Tracker) Cancel(seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.ends) - t.head; n > 0 && seq == t.base+uint64(n-1) && !t.acked[len(t.acked)-1] {
		t.ends, t.acked = t.ends[:len(t.ends)-1], t.acked[:len(t.acked)-1]
		t.next--
	}
}

// Offset is the end of the contiguous acknowledged run.
func (t *Tracker) Offset() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.offset
}

// Pending is the number of lines added and not yet in the acknowledged run.
func (t *Tracker) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.ends) - t.head
}

// WaitIdle waits until no line is pending or ctx is done.
func (t *Tracker) WaitIdle(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for t.Pending() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}
