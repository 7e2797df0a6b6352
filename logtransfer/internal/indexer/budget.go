package indexer

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// ItemOverhead is what a record costs beyond its key and value: the Item,
// sarama's message, the offsets entry, the document's index and id.
const ItemOverhead = 512

// Budget bounds, in bytes, the records consumed from Kafka and not yet
// finished (indexed, dead-lettered or dropped): the ones in the queue and
// the ones the workers hold. chan_max_size bounds them in records only,
// which lets 10,000 records of 1 MB hold 10 GB while Elasticsearch is slow.
//
// Acquire blocks the consumer while the budget is full: consumption pauses
// (backpressure). A record larger than the whole budget is let through when
// nothing else is in flight, so it passes alone instead of waiting forever.
type Budget struct {
	max   int64
	gauge prometheus.Gauge // may be nil

	mu   sync.Mutex
	used int64
	wake chan struct{} // closed and replaced on every Release
}

// NewBudget returns a budget of max bytes; gauge, if not nil, follows the
// bytes in use.
func NewBudget(max int64, gauge prometheus.Gauge) *Budget {
	return &Budget{max: max, gauge: gauge, wake: make(chan struct{})}
}

// Acquire takes n bytes, waiting until they fit or ctx is done.
func (b *Budget) Acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.max {
			b.used += n
			b.set()
			b.mu.Unlock()
			return nil
		}
		wake := b.wake
		b.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Release returns n bytes taken by Acquire.
func (b *Budget) Release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.set()
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}

// Used returns the bytes in use.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

func (b *Budget) set() {
	if b.gauge != nil {
		b.gauge.Set(float64(b.used))
	}
}

// Charge takes the bytes of it from b (nil: no budget) and remembers them
// so that the worker finishing it gives them back exactly once.
func (it *Item) Charge(ctx context.Context, b *Budget, n int64) error {
	if b == nil {
		return nil
	}
	if err := b.Acquire(ctx, n); err != nil {
		return err
	}
	it.budget, it.charged = b, n
	return nil
}

// Release gives back what Charge took; later calls do nothing. Every path
// that finishes an item (done, dead-lettered, dropped for a revoked
// partition, given up at shutdown) calls it.
func (it *Item) Release() {
	if it.budget != nil {
		it.budget.Release(it.charged)
		it.budget, it.charged = nil, 0
	}
}
