package indexer

import (
	"context"

	"github.com/logcollect/logcollect/pkg/budget"
)

// ItemOverhead is what a record costs beyond its key and value: the Item,
// sarama's message, the offsets entry, the document's index and id.
const ItemOverhead = 512

// Charge takes n bytes for it from b (nil: no budget), waiting while the
// budget is full (consumption pauses: backpressure), and remembers them so
// that the worker finishing it gives them back exactly once. The budget
// bounds the records consumed from Kafka and not yet finished (indexed,
// dead-lettered or dropped): chan_max_size bounds them in records only,
// which lets 10,000 records of 1 MB hold 10 GB while Elasticsearch is slow.
func (it *Item) Charge(ctx context.Context, b *budget.Bytes, n int64) error {
	if b == nil {
		return nil
	}
	n = b.Claim(n)
	if err := b.Take(ctx, nil, n); err != nil {
		return err
	}
	it.budget, it.charged = b, n
	return nil
}

// TryCharge is Charge without the wait: it takes nothing and returns false
// when the bytes are not free now.
func (it *Item) TryCharge(b *budget.Bytes, n int64) bool {
	if b == nil {
		return true
	}
	n = b.Claim(n)
	if !b.TryTake(n) {
		return false
	}
	it.budget, it.charged = b, n
	return true
}

// Release gives back what Charge took; later calls do nothing. Every path
// that finishes an item (done, dead-lettered, dropped for a revoked
// partition, given up at shutdown) calls it.
func (it *Item) Release() {
	if it.budget != nil {
		it.budget.Give(it.charged)
		it.budget, it.charged = nil, 0
	}
}
