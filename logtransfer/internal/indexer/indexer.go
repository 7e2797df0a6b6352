// Package indexer is logtransfer's pool of bulk indexers. Each worker takes
// records from one bounded channel, batches them by count, bytes and time,
// sends _bulk requests and inspects every item: accepted documents are
// reported done to their partition's offset tracker; retryable failures are
// sent again after a capped, jittered backoff (the worker stops taking new
// records meanwhile, the channel fills and consumption pauses); permanently
// rejected documents go to the dead-letter index.
//
// olivere's BulkProcessor is not used: it retries whole requests and hides
// per-item errors unless its After callback digs them out, while this loop
// retries exactly the failed items and decides per item.
package indexer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/olivere/elastic/v7"

	"github.com/logcollect/logcollect/pkg/backoff"
	"github.com/logcollect/logcollect/pkg/budget"
	"github.com/logcollect/logcollect/pkg/logging"

	"github.com/logcollect/logcollect/logtransfer/internal/document"
	"github.com/logcollect/logcollect/logtransfer/internal/metrics"
)

// Action is one document of a _bulk request.
type Action struct {
	Index, ID string
	Body      []byte
}

// Result is one item of a _bulk response.
type Result struct {
	Status       int
	Type, Reason string // the item's error, when it failed
}

// Bulk sends one _bulk request; the error is about the whole request, the
// results (one per action, in order) about each document.
type Bulk interface {
	Send(ctx context.Context, actions []Action) ([]Result, error)
}

// Partition tracks the records of one claimed Kafka partition (the
// consumer's contiguous.Tracker): Ack says record seq is indexed or
// dead-lettered; Closed, that the partition was revoked.
type Partition interface {
	Ack(seq uint64)
	Closed() bool
}

// Item is one Kafka record on its way to Elasticsearch.
type Item struct {
	Msg  document.Message
	Part Partition
	Seq  uint64 // the record's sequence number in Part

	doc        document.Doc
	deadLetter bool // doc is now the dead-letter document
	// orig is the document as first built when a whole-request refusal
	// (400/413 to it alone) turned it into a dead-letter document: if the
	// dead-letter document is refused the same way, the refusal is about
	// the path to Elasticsearch (a proxy, a WAF), not the document, and
	// the original is retried after a backoff instead.
	orig *document.Doc

	budget  *budget.Bytes // what Charge took, given back by Release
	charged int64
}

// Config tunes the pool.
type Config struct {
	Workers         int
	QueueSize       int // chan_max_size: records waiting for a worker (in chunks, see Chunk)
	BulkActions     int
	BulkBytes       int64
	FlushInterval   time.Duration
	RetryMin        time.Duration
	RetryMax        time.Duration
	DeadLetterIndex string
	Pattern         *document.IndexPattern
	ForeignJSON     document.ForeignJSON // how JSON objects without event.id are indexed
}

// Pool is the worker pool.
type Pool struct {
	cfg     Config
	bulk    Bulk
	in      chan []*Item
	metrics *metrics.Metrics
	log     *slog.Logger
	health  func(error) // readiness of Elasticsearch; may be nil

	rejectLog *logging.Limited // one line a second, with the count held back
	retryLog  *logging.Limited
	wg        sync.WaitGroup
	cancel    context.CancelFunc
	closeOnce sync.Once
}

// New returns a pool; Start runs it.
func New(cfg Config, bulk Bulk, m *metrics.Metrics, log *slog.Logger, health func(error)) *Pool {
	if health == nil {
		health = func(error) {}
	}
	return &Pool{
		cfg: cfg, bulk: bulk, in: make(chan []*Item, max(1, cfg.QueueSize/Chunk)), metrics: m, log: log, health: health,
		rejectLog: logging.NewLimited(time.Second), retryLog: logging.NewLimited(time.Second),
	}
}

// Chunk is the most records the consumer hands a worker at once. Records
// go in runs of what the partition had ready, not one by one: a channel
// operation per record (each side's select) was a tenth of the transfer's
// CPU. The queue holds chan_max_size/Chunk runs (at least one).
const Chunk = 64

// Input is where the consumer puts runs of records (at most Chunk, never
// empty; the pool owns the slice from then on). A send blocks while the
// queue is full: that is the backpressure that pauses consumption.
func (p *Pool) Input() chan<- []*Item { return p.in }

// Start runs the workers until Close.
func (p *Pool) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	for i := 0; i < p.cfg.Workers; i++ {
		p.wg.Go(func() { p.work(ctx) })
	}
}

// Close stops the workers, abandoning what they hold (the consumer has
// waited for what it could before calling it, and closed its partitions so
// nothing is marked). Safe to call twice.
func (p *Pool) Close() {
	p.closeOnce.Do(func() {
		if p.cancel != nil {
			p.cancel()
		}
		p.wg.Wait()
	})
}

type worker struct {
	*Pool
	builder *document.Builder
	batch   []*Item
	bytes   int64
	done    int // documents indexed or dead-lettered, to tell progress
}

func (p *Pool) work(ctx context.Context) {
	w := &worker{Pool: p, builder: document.NewBuilder(p.cfg.Pattern).WithForeignJSON(p.cfg.ForeignJSON)}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			w.abandon(w.batch)
			return
		case run := <-p.in:
			for _, it := range run {
				w.add(ctx, it, timer)
			}
		case <-timer.C:
			w.flush(ctx)
		}
	}
}

// add builds the document of it into the batch, sending the batch once it is
// full; timer flushes a batch that stays partial.
func (w *worker) add(ctx context.Context, it *Item, timer *time.Timer) {
	if it.Part != nil && it.Part.Closed() {
		w.metrics.Abandoned.Inc()
		it.Release()
		return
	}
	it.doc = w.builder.Build(it.Msg)
	if it.doc.Invalid != nil {
		it = w.reject(it, *it.doc.Invalid)
	}
	if len(w.batch) == 0 {
		timer.Reset(w.cfg.FlushInterval)
	}
	w.batch = append(w.batch, it)
	// Approximate NDJSON size: action line plus body.
	w.bytes += int64(len(it.doc.Body) + len(it.doc.Index) + len(it.doc.ID) + 40)
	if len(w.batch) >= w.cfg.BulkActions || w.bytes >= w.cfg.BulkBytes {
		timer.Stop()
		w.flush(ctx)
	}
}

func (w *worker) flush(ctx context.Context) {
	if len(w.batch) == 0 {
		return
	}
	w.metrics.InflightBatches.Inc()
	w.deliver(ctx, w.batch)
	w.metrics.InflightBatches.Dec()
	clear(w.batch) // let the values be collected
	w.batch, w.bytes = w.batch[:0], 0
}

// deliver sends items until each is indexed, dead-lettered or abandoned.
func (w *worker) deliver(ctx context.Context, items []*Item) {
	bo := backoff.Backoff{Min: w.cfg.RetryMin, Max: w.cfg.RetryMax}
	pending := append([]*Item(nil), items...)
	chunk := len(pending)
	for len(pending) > 0 {
		pending = w.dropClosed(pending)
		if len(pending) == 0 {
			return
		}
		var retry, again []*Item
		var failure error
		doneBefore := w.done
		for start := 0; start < len(pending); start += chunk {
			part := pending[start:min(start+chunk, len(pending))]
			r, a, split, err := w.send(ctx, part)
			if ctx.Err() != nil {
				w.abandon(pending[start:], retry, again)
				return
			}
			if split {
				if len(part) > 1 {
					// Halve and send the rest again at once; what earlier
					// chunks returned is already in retry/again.
					chunk = (len(part) + 1) / 2
					again = append(again, pending[start:]...)
					break
				}
				if it := part[0]; it.deadLetter {
					// Even a dead-letter document alone is refused as a
					// request: whatever answers refuses requests, not this
					// document. Back off and try the originals again, with
					// the rest, rather than dead-letter everything.
					failure = err
					retry = append(append(retry, again...), pending[start:]...)
					again = nil
					for _, r := range retry {
						r.restore()
					}
					chunk = len(retry)
					break
				}
				orig := part[0].doc
				again = append(again, w.reject(part[0], document.Rejection{Status: statusOf(err), Type: "request_rejected", Reason: err.Error()}))
				part[0].orig = &orig
				continue
			}
			retry = append(retry, r...)
			again = append(again, a...)
			if err != nil {
				failure = err
			}
		}
		if len(retry) > 0 {
			// Transient failure, or a refusal that persists: wait before
			// sending the failed items again. The worker takes no new
			// records meanwhile, so the queue fills and the consumer stops
			// reading: backpressure, bounded memory, and no offset passes
			// these records. The backoff grows until a round succeeds.
			w.metrics.Retried.Add(float64(len(retry)))
			d := bo.Next()
			w.retryLog.Log(w.log, slog.LevelWarn, "", "elasticsearch bulk failed; retrying the failed documents",
				"documents", len(retry), "attempt", bo.Attempt(), "retry_in", d.Round(time.Millisecond), "error", failure)
			if err := backoff.Sleep(ctx, d); err != nil {
				w.abandon(retry, again)
				return
			}
		} else if w.done > doneBefore {
			// Progress: a later failure starts from the shortest wait.
			// Rounds that only turned documents into dead-letter documents
			// (each item once per backoff period, see restore) keep it.
			bo.Reset()
		}
		pending = append(retry, again...)
	}
}

// send sends one request. It returns the items to retry after a backoff,
// the items to send again at once (new dead-letter documents), whether the
// request must be split, and the request error if any.
func (w *worker) send(ctx context.Context, items []*Item) (retry, again []*Item, split bool, err error) {
	actions := make([]Action, len(items))
	for i, it := range items {
		actions[i] = Action{Index: it.doc.Index, ID: it.doc.ID, Body: it.doc.Body}
	}
	start := time.Now()
	results, err := w.bulk.Send(ctx, actions)
	elapsed := time.Since(start).Seconds()
	if err != nil {
		if IsShutdown(ctx, err) {
			return nil, nil, false, err
		}
		w.metrics.BulkDuration.WithLabelValues("error").Observe(elapsed)
		w.metrics.RequestErrors.WithLabelValues(strconv.Itoa(statusOf(err))).Inc()
		w.health(err)
		switch ClassifyRequest(err) {
		case Split:
			return nil, nil, true, err
		default:
			return items, nil, false, err
		}
	}
	w.health(nil)
	outcome := "ok"
	for i, res := range results {
		it := items[i]
		switch ClassifyItem(res.Status) {
		case Done:
			w.done++
			if it.deadLetter {
				w.metrics.DeadLettered.Inc()
			} else {
				w.metrics.Indexed.Inc()
			}
			if it.Part != nil {
				it.Part.Ack(it.Seq)
			}
			it.Release()
		case Retry:
			outcome = "item_errors"
			retry = append(retry, it)
			if err == nil {
				err = fmt.Errorf("item %s/%s: %d %s: %s", it.doc.Index, it.doc.ID, res.Status, res.Type, res.Reason)
			}
		default: // Reject
			outcome = "item_errors"
			if it.deadLetter {
				// The dead-letter document itself was refused: the
				// dead-letter index is misconfigured. Losing the record
				// is not an option; retry like a transient error.
				retry = append(retry, it)
				if err == nil {
					err = fmt.Errorf("dead-letter index %s refused %s: %d %s: %s", it.doc.Index, it.doc.ID, res.Status, res.Type, res.Reason)
				}
				continue
			}
			again = append(again, w.reject(it, document.Rejection{Status: res.Status, Type: res.Type, Reason: res.Reason}))
		}
	}
	w.metrics.BulkDuration.WithLabelValues(outcome).Observe(elapsed)
	return retry, again, false, err
}

// reject turns it into its dead-letter document.
func (w *worker) reject(it *Item, rej document.Rejection) *Item {
	w.rejectLog.Log(w.log, slog.LevelWarn, "", "elasticsearch rejected a document; writing it to the dead-letter index",
		"topic", it.Msg.Topic, "partition", it.Msg.Partition, "offset", it.Msg.Offset,
		"index", it.doc.Index, "id", it.doc.ID, "status", rej.Status, "error_type", rej.Type, "reason", rej.Reason,
		"dead_letter_index", w.cfg.DeadLetterIndex)
	body := document.DeadLetter(it.Msg, it.doc, rej, time.Now())
	it.doc = document.Doc{Index: w.cfg.DeadLetterIndex, ID: it.doc.ID, Body: body}
	it.deadLetter = true
	return it
}

// restore turns a dead-letter document made after a whole-request refusal
// back into the original document.
func (it *Item) restore() {
	if it.orig != nil {
		it.doc, it.deadLetter, it.orig = *it.orig, false, nil
	}
}

// dropClosed removes items whose partition was revoked: Kafka redelivers
// them to the new owner, so indexing them here is wasted work and retrying
// them would hold the worker for nothing.
func (w *worker) dropClosed(items []*Item) []*Item {
	kept := items[:0]
	for _, it := range items {
		if it.Part != nil && it.Part.Closed() {
			w.metrics.Abandoned.Inc()
			it.Release()
			continue
		}
		kept = append(kept, it)
	}
	return kept
}

// abandon gives up items at shutdown: unmarked, so Kafka redelivers them.
func (w *worker) abandon(lists ...[]*Item) {
	for _, items := range lists {
		for _, it := range items {
			w.metrics.Abandoned.Inc()
			it.Release()
		}
	}
}

func statusOf(err error) int {
	var e *elastic.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}
