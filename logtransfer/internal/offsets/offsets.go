// Package offsets decides which Kafka offsets logtransfer may commit.
//
// Records of one partition are indexed by several workers, so they finish
// out of order. A Partition marks offset N (commits "next is N+1") only when
// every record it tracked at or below N is done — indexed, or dead-lettered
// after a permanent rejection. A record that fails with a retryable error is
// simply not done yet, so the committed offset cannot pass it.
//
// When Kafka takes a partition away (rebalance) or the service stops, the
// Partition is closed: completions that arrive afterwards mark nothing, so
// the commit made on revocation covers only work Elasticsearch accepted.
package offsets

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Marker records that the partition may resume at next (the offset after
// the last contiguous done record); a sarama session's MarkOffset.
type Marker func(next int64)

// ErrClosed is returned by Track once the partition was closed.
var ErrClosed = errors.New("partition closed")

// Partition tracks the records of one claimed partition.
type Partition struct {
	Topic string
	ID    int32

	mu      sync.Mutex
	mark    Marker
	entries []entry // tracked records not yet marked, ascending offsets
	head    int     // entries[:head] are marked and awaiting compaction
	last    int64   // highest tracked offset, -1 before the first
	marked  int64   // last value given to mark, -1 before the first
	closed  bool
	idle    chan struct{} // closed when no record is outstanding
	pending int           // tracked, not yet done
}

type entry struct {
	offset int64
	done   bool
}

// NewPartition returns a tracker that calls mark (under its lock, so never
// after Close returned).
func NewPartition(topic string, partition int32, mark Marker) *Partition {
	idle := make(chan struct{})
	close(idle)
	return &Partition{Topic: topic, ID: partition, mark: mark, last: -1, marked: -1, idle: idle}
}

// Track registers offset before its record is handed to a worker. Offsets
// must increase (they do within a claim; gaps from compaction are fine).
func (p *Partition) Track(offset int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if offset <= p.last {
		return fmt.Errorf("track %s/%d offset %d: not above the last tracked offset %d", p.Topic, p.ID, offset, p.last)
	}
	p.last = offset
	p.entries = append(p.entries, entry{offset: offset})
	if p.pending == 0 {
		p.idle = make(chan struct{})
	}
	p.pending++
	return nil
}

// Forget undoes the Track of offset when it was the last tracked one (the
// record never reached a worker because the service is stopping), so Wait
// does not wait for a record nobody will finish.
func (p *Partition) Forget(offset int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.entries)
	if n == p.head || p.entries[n-1].offset != offset || p.entries[n-1].done {
		return
	}
	p.entries = p.entries[:n-1]
	p.pending--
	if p.pending == 0 {
		close(p.idle)
	}
}

// Done records that offset's record is indexed or dead-lettered, and marks
// the highest offset below which everything is done. It returns whether
// anything was marked. Done on a closed partition marks nothing: its
// records will be redelivered to whoever owns it now and overwrite by _id.
func (p *Partition) Done(offset int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	live := p.entries[p.head:]
	i := sort.Search(len(live), func(i int) bool { return live[i].offset >= offset })
	if i == len(live) || live[i].offset != offset || live[i].done {
		return false // not tracked, or done twice: nothing changes
	}
	live[i].done = true
	p.pending--
	if p.pending == 0 {
		close(p.idle)
	}
	if i != 0 {
		return false // an earlier record is still outstanding
	}
	for p.head < len(p.entries) && p.entries[p.head].done {
		p.head++
	}
	next := p.entries[p.head-1].offset + 1
	p.compact()
	p.marked = next
	p.mark(next)
	return true
}

// compact drops marked entries once they are the larger part of the slice,
// so memory follows the number of outstanding records, not the total.
func (p *Partition) compact() {
	if p.head == len(p.entries) {
		p.entries, p.head = p.entries[:0], 0
		return
	}
	if p.head > 64 && p.head*2 > len(p.entries) {
		n := copy(p.entries, p.entries[p.head:])
		p.entries, p.head = p.entries[:n], 0
	}
}

// Closed reports whether the partition was closed; workers drop the records
// of closed partitions instead of indexing or retrying them.
func (p *Partition) Closed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Pending is the number of tracked records not yet done.
func (p *Partition) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pending
}

// Marked is the last offset handed to the marker (the next to consume), or
// -1.
func (p *Partition) Marked() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.marked
}

// Wait blocks until every tracked record is done or ctx ends, returning
// ctx's error then.
func (p *Partition) Wait(ctx context.Context) error {
	p.mu.Lock()
	idle := p.idle
	p.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops marking; after it returns the marker is never called again.
// It returns how many tracked records were abandoned unfinished.
func (p *Partition) Close() (abandoned int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0
	}
	p.closed = true
	return p.pending
}
