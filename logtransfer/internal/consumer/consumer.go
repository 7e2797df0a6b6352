// Package consumer is logtransfer's sarama consumer-group handler: it reads
// claimed partitions, tracks every record with a contiguous.Tracker and hands
// it to the indexer pool through a bounded channel. Only offsets the tracker
// marks (every record at or below indexed or dead-lettered) are committed.
package consumer

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/logcollect/logcollect/logtransfer/internal/document"
	"github.com/logcollect/logcollect/logtransfer/internal/indexer"
	"github.com/logcollect/logcollect/logtransfer/internal/metrics"
	"github.com/logcollect/logcollect/pkg/budget"
	"github.com/logcollect/logcollect/pkg/contiguous"
)

// Handler implements sarama.ConsumerGroupHandler.
type Handler struct {
	out          chan<- []*indexer.Item
	budget       *budget.Bytes // bytes consumed and not yet finished; nil: unbounded
	drainTimeout time.Duration
	metrics      *metrics.Metrics
	log          *slog.Logger
	ready        func(error)

	mu    sync.Mutex
	owned map[topicPartition]*contiguous.Tracker[nextOffset]
}

// nextOffset is a partition's position in its tracker: where it resumes,
// one past the last record of the run indexed or dead-lettered (what
// MarkOffset takes); -1 until the first mark.
type nextOffset int64

type topicPartition struct {
	topic     string
	partition int32
}

var _ sarama.ConsumerGroupHandler = (*Handler)(nil)

// New returns a handler feeding out, taking each record's bytes from budget
// (nil: no byte bound) first. drainTimeout bounds how long a revoked
// partition waits for its in-flight records; keep it below the group's
// rebalance timeout.
func New(out chan<- []*indexer.Item, budget *budget.Bytes, drainTimeout time.Duration, m *metrics.Metrics, log *slog.Logger, ready func(error)) *Handler {
	if ready == nil {
		ready = func(error) {}
	}
	return &Handler{out: out, budget: budget, drainTimeout: drainTimeout, metrics: m, log: log, ready: ready, owned: map[topicPartition]*contiguous.Tracker[nextOffset]{}}
}

// Setup runs when a session starts. With the cooperative-sticky strategy it
// runs only on the first join, so ownership is tracked in ConsumeClaim.
func (h *Handler) Setup(s sarama.ConsumerGroupSession) error {
	h.ready(nil)
	h.log.Info("kafka group session started", "member", s.MemberID(), "generation", s.GenerationID(), "claims", s.Claims())
	return nil
}

// Cleanup runs after every ConsumeClaim returned; each already committed
// what it marked, this commit is belt and braces.
func (h *Handler) Cleanup(s sarama.ConsumerGroupSession) error {
	s.Commit()
	return nil
}

// Owned returns the partitions this instance holds now, by topic.
func (h *Handler) Owned() map[string][]int32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string][]int32{}
	for tp := range h.owned {
		out[tp.topic] = append(out[tp.topic], tp.partition)
	}
	return out
}

// ConsumeClaim reads one partition until it is revoked or the session ends.
func (h *Handler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	topic, partition := claim.Topic(), claim.Partition()
	// Called under part's lock, so never after part.Close returned: a
	// revoked partition's late completions mark nothing.
	part := contiguous.New(-1, func(next nextOffset) {
		s.MarkOffset(topic, partition, int64(next), "")
	})
	tp := topicPartition{topic, partition}
	partLabel := strconv.Itoa(int(partition))
	h.mu.Lock()
	h.owned[tp] = part
	h.mu.Unlock()
	h.log.Info("partition claimed", "topic", topic, "partition", partition, "offset", claim.InitialOffset())
	defer func() {
		h.mu.Lock()
		if h.owned[tp] == part {
			delete(h.owned, tp)
		}
		h.mu.Unlock()
		h.metrics.ConsumerLag.DeleteLabelValues(topic, partLabel)
	}()

	ctx := s.Context()
	lag := h.metrics.ConsumerLag.WithLabelValues(topic, partLabel)
	// run collects the records the partition has ready, up to
	// indexer.Chunk, and goes to the workers as one; it is sent before
	// anything that may wait (the next record, the byte budget), so no
	// record waits behind a pause it could have gone ahead of.
	run := make([]*indexer.Item, 0, indexer.Chunk)
	// send hands run to the workers, blocking while their queue is full (a
	// full queue is the backpressure that pauses consumption: Elasticsearch
	// slow or down). False: the session ended and run's records were
	// withdrawn from the tracker, never handed out.
	send := func() bool {
		if len(run) == 0 {
			return true
		}
		select {
		case h.out <- run:
			run = make([]*indexer.Item, 0, indexer.Chunk)
			return true
		case <-ctx.Done():
			for _, it := range run {
				part.Cancel(it.Seq)
				it.Release()
			}
			run = run[:0]
			return false
		}
	}
read:
	for {
		var msg *sarama.ConsumerMessage
		var ok bool
		select {
		case msg, ok = <-claim.Messages():
		default:
			if !send() {
				break read
			}
			select {
			case msg, ok = <-claim.Messages():
			case <-ctx.Done():
				break read
			}
		}
		if !ok {
			send() // revoked (cooperative) or the session is ending
			break read
		}
		h.metrics.Consumed.Inc()
		lag.Set(float64(max(claim.HighWaterMarkOffset()-msg.Offset-1, 0)))
		item := &indexer.Item{Part: part, Msg: document.Message{
			Topic: topic, Partition: partition, Offset: msg.Offset, Value: msg.Value, Timestamp: msg.Timestamp,
		}}
		// A full byte budget blocks here too: records already read but
		// not yet in Elasticsearch hold at most max_inflight_bytes (one
		// larger record passes alone). The run goes first: its records
		// hold bytes only the workers can give back.
		if size := int64(len(msg.Key)+len(msg.Value)) + indexer.ItemOverhead; !item.TryCharge(h.budget, size) {
			if !send() {
				break read
			}
			if err := item.Charge(ctx, h.budget, size); err != nil {
				break read // the session ends; the record was not tracked
			}
		}
		seq, err := part.Add(nextOffset(msg.Offset + 1))
		if err != nil {
			item.Release()
			h.log.Warn("record skipped by the offset tracker", "topic", topic, "partition", partition, "offset", msg.Offset, "error", err)
			continue
		}
		item.Seq = seq
		if run = append(run, item); len(run) == indexer.Chunk && !send() {
			break read
		}
	}

	// Give the records already handed out a chance to be indexed so the
	// commit that follows the revocation covers them; whatever is still
	// unfinished after drainTimeout is abandoned unmarked and redelivered
	// to the next owner (its _id makes that an overwrite, not a duplicate).
	pending := part.Pending()
	dctx, cancel := context.WithTimeout(context.Background(), h.drainTimeout)
	waitErr := part.WaitIdle(dctx)
	cancel()
	abandoned := part.Close()
	s.Commit()
	if waitErr != nil {
		h.log.Warn("partition released with records not yet in elasticsearch; they were not committed and will be consumed again",
			"topic", topic, "partition", partition, "abandoned", abandoned, "committed_next_offset", int64(part.Position()), "drain_timeout", h.drainTimeout)
	} else {
		h.log.Info("partition released", "topic", topic, "partition", partition, "drained", pending, "committed_next_offset", int64(part.Position()))
	}
	return nil
}
