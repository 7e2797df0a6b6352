// Package gcfloor gives Go's garbage collector a floor under its heap goal.
//
// With GOGC=100 the collector runs each time the heap has grown by its live
// size. A log shipper's live heap is small (a few MB) while it allocates
// hundreds of MB a second of short-lived request buffers (sarama encodes
// every produce request into two new buffers), so it collected a few
// hundred times per million lines and marking was 12-14 % of its CPU.
// Keep raises GOGC after each cycle just enough that the next goal is at
// least the floor, and puts it back to 100 once twice the live heap passes
// the floor: a small heap collects less often, a large one as Go would.
// The process's soft memory limit (debug.SetMemoryLimit) still bounds the
// total; GOGC=off-with-a-limit would do the same for small heaps but
// collect continuously once the live heap neared the limit.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// basePercent is Go's default GOGC, what the floor falls back to.
const basePercent = 100

// heapMinimum is the runtime's smallest heap goal at GOGC 100; it scales
// with GOGC, so a GOGC above floor/heapMinimum × 100 would put the goal
// above the floor however small the heap.
const heapMinimum = 4 << 20

// Floor is a running floor; Stop ends it and restores GOGC 100.
type Floor struct {
	floor   uint64
	mu      sync.Mutex
	stopped bool
	percent int
	sample  []metrics.Sample
}

// Keep starts holding the heap goal at floor bytes or more, from the next
// collection on. Callers skip it when the operator set GOGC.
func Keep(floor uint64) *Floor {
	f := &Floor{floor: floor, percent: basePercent, sample: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"},
	}}
	f.arm()
	return f
}

// arm registers a cleanup on an object nothing references: it runs after
// the next collection, which is when the live heap is known again.
func (f *Floor) arm() {
	s := new(sentinel)
	runtime.AddCleanup(s, func(f *Floor) { f.collected() }, f)
}

// sentinel holds a pointer so that it is not batched with other small
// objects by the tiny allocator (whose blocks die together).
type sentinel struct{ _ *int }

func (f *Floor) collected() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	metrics.Read(f.sample)
	live := f.sample[0].Value.Uint64()
	roots := f.sample[1].Value.Uint64() + f.sample[2].Value.Uint64()
	if p := Percent(f.floor, live, roots); changed(f.percent, p) {
		debug.SetGCPercent(p)
		f.percent = p
	}
	f.arm()
}

// Stop ends the floor and restores GOGC 100.
func (f *Floor) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.stopped {
		f.stopped = true
		debug.SetGCPercent(basePercent)
	}
}

// Percent is the GOGC that makes a heap of live bytes, with roots bytes of
// stacks and globals to scan, collect next at floor bytes, or 100 when
// that would be sooner than Go's own rule. Go's goal is
// live + (live+roots) × GOGC/100, and at least heapMinimum × GOGC/100.
func Percent(floor, live, roots uint64) int {
	if live == 0 || live+(live+roots)*basePercent/100 >= floor {
		return basePercent
	}
	p := (floor - live) * 100 / (live + roots)
	return int(max(basePercent, min(p, floor*100/heapMinimum)))
}

// changed reports whether p differs from the current percent by more than
// a tenth (setting it takes the heap lock; small drifts are not worth it).
func changed(cur, p int) bool {
	d := cur - p
	if d < 0 {
		d = -d
	}
	return d*10 > cur || (p == basePercent && cur != basePercent)
}
