package harvester

import (
	"fmt"
	"sync/atomic"
)

// A harvester copies each batch's encoded values out of its scratch buffer
// into a buffer the sink keeps until Kafka acknowledged every record in it.
// A fresh buffer per batch was a third of the bytes the agent allocated at
// full speed, and so a good part of its GC work (BENCHMARKS.md, issue 19).
// Batches of at least minPooledValues bytes take their buffer from a pool
// instead and give it back through producer.Message.Owner once the last of
// their records was released; smaller ones (a few slow lines) allocate, as
// a pooled buffer would mostly be unused room.
const (
	minPooledValues = 4 << 10
	maxPooledValues = 512 << 10
	// idleValueBytes bounds what one size class keeps idle (at least two
	// buffers): an acknowledged request of 512 KiB batches returns a few
	// dozen harvester batches at once, which the next ones then reuse.
	idleValueBytes = 2 << 20
)

// valueClasses are the pooled buffers' capacities: 2^k and 3·2^(k-1), so a
// batch uses more than two thirds of its buffer.
var valueClasses = func() []int {
	var cs []int
	for c := minPooledValues; c <= maxPooledValues; c *= 2 {
		cs = append(cs, c)
		if c*3/2 <= maxPooledValues {
			cs = append(cs, c*3/2)
		}
	}
	return cs
}()

// valuePool keeps idle value buffers by size class, each class a bounded
// free list: a full list drops the buffer (to the GC), an empty one
// allocates.
type valuePool struct {
	idle []chan *valueBuf // per valueClasses entry
}

// values is shared by every harvester of the process (docs/architecture.md,
// "Global state"): batches of all files come and go at the rate of acks.
var values = newValuePool()

func newValuePool() *valuePool {
	p := &valuePool{idle: make([]chan *valueBuf, len(valueClasses))}
	for i, c := range valueClasses {
		p.idle[i] = make(chan *valueBuf, max(2, idleValueBytes/c))
	}
	return p
}

// get returns a buffer with room for size bytes lent to refs records, or
// nil if size is outside the pooled range (the caller allocates).
func (p *valuePool) get(size, refs int) *valueBuf {
	class := p.class(size)
	if class < 0 {
		return nil
	}
	var v *valueBuf
	select {
	case v = <-p.idle[class]:
	default:
		v = &valueBuf{b: make([]byte, 0, valueClasses[class]), pool: p, class: class}
	}
	v.refs.Store(int32(refs))
	return v
}

// class is the smallest size class that holds size bytes, or -1.
func (p *valuePool) class(size int) int {
	if size < minPooledValues || size > maxPooledValues {
		return -1
	}
	for i, c := range valueClasses {
		if size <= c {
			return i
		}
	}
	return -1
}

func (p *valuePool) put(v *valueBuf) {
	v.b = v.b[:0]
	select {
	case p.idle[v.class] <- v:
	default:
	}
}

// valueBuf holds the values of one batch of records; it returns to its pool
// when every record lent it was released.
type valueBuf struct {
	b     []byte
	refs  atomic.Int32
	pool  *valuePool
	class int
}

// Release returns n records (producer.ValueOwner). Releasing more than were
// lent is a bug that would hand out bytes still in flight: it panics.
func (v *valueBuf) Release(n int) {
	switch left := v.refs.Add(-int32(n)); {
	case left == 0:
		v.pool.put(v)
	case left < 0:
		panic(fmt.Sprintf("harvester: value buffer released %d times too often", -left))
	}
}
