// Package producer delivers records to Kafka in record batches it builds and
// sends with sarama's Broker.AsyncProduce (producer.go), and reports each
// record's fate exactly once: delivered (Kafka acknowledged
// it) or dead-lettered (Kafka rejected it permanently and the record was
// written to a local file). Retryable failures are resent with capped
// backoff and never reported meanwhile, so the caller's checkpoint cannot
// move past them.
package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/logcollect/logcollect/logagent/internal/metrics"
	"github.com/logcollect/logcollect/pkg/budget"
	"github.com/logcollect/logcollect/pkg/kafkaconf"
	"github.com/logcollect/logcollect/pkg/logging"
	"github.com/logcollect/logcollect/pkg/obs"
)

// Message is one record to deliver.
type Message struct {
	Topic   string
	Key     []byte
	Value   []byte
	Path    string // for the dead-letter file
	Offset  int64
	EventID string
	// Acker acknowledges Seq exactly once when Kafka acknowledged the
	// record or it was dead-lettered (alone, or in one AckRun with its
	// neighbours of the same Acker); never a record that was not delivered
	// when the sink closed. Calls may come from different goroutines and
	// out of order.
	Acker Acker
	Seq   uint64
	// Owner, when set, is told once the sink no longer reads Value: after
	// the record's AckRun (delivered or dead-lettered), or when a sender
	// drops it undelivered at close. Only then may the caller reuse
	// Value's bytes; the Message itself stays the sink's. A record still
	// queued when the sink closes may never be returned (its bytes are
	// left to the GC).
	Owner ValueOwner
}

// ValueOwner lends the sink the bytes of records' values (a buffer shared
// by a batch of them). Release(n) returns n of the records that share it,
// possibly from another goroutine; each record is returned at most once.
type ValueOwner interface {
	Release(n int)
}

// Acker learns which records were delivered (contiguous.Tracker is one):
// AckRun(seq, n) acknowledges seq, seq+1, ... seq+n-1.
type Acker interface {
	AckRun(seq uint64, n int)
}

// Config configures the producer.
type Config struct {
	Client          kafkaconf.Settings
	ChanMaxSize     int
	RequiredAcks    string
	Compression     string
	MaxMessageBytes int
	Idempotent      bool
	// MaxInflightBytes bounds the bytes of records sent and not yet
	// acknowledged (see heldBytes); 0 means DefaultMaxInflightBytes.
	MaxInflightBytes int64
	DeadLetterPath   string
	// DeadLetterMaxBytes caps the dead-letter file (0 means
	// DefaultDeadLetterMaxBytes); DeadLetterBackups is how many rotated
	// files (path.1, path.2, ...) are kept beside it.
	DeadLetterMaxBytes int64
	DeadLetterBackups  int
}

// Defaults of the Config fields whose zero value means "default".
const (
	DefaultMaxInflightBytes   = 64 << 20
	DefaultDeadLetterMaxBytes = 64 << 20
)

// Kafka is the Kafka sink.
type Kafka struct {
	cfg   Config
	scfg  *sarama.Config
	log   *slog.Logger
	m     *metrics.Metrics
	ready *obs.Readiness
	dlq   *DeadLetter

	slots chan struct{}   // one per record in flight: the bound in records
	bytes *budget.Bytes   // the bound in bytes (max_inflight_bytes)
	in    chan []*Message // records waiting for the producer (cap = slots)

	ctx    context.Context // cancelled at Close: stops feeding
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	retryLog *logging.Limited // a retryable error, at most every 5 s

	prod atomic.Pointer[producer] // once connected; for tests, which post to it
}

// New validates cfg and starts connecting in the background: Kafka being
// down at start must not stop the agent, records simply wait (backpressure).
func New(cfg Config, log *slog.Logger, m *metrics.Metrics, ready *obs.Readiness) (*Kafka, error) {
	scfg, err := saramaConfig(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.MaxInflightBytes == 0 {
		cfg.MaxInflightBytes = DefaultMaxInflightBytes
	}
	if cfg.MaxInflightBytes < 0 {
		return nil, fmt.Errorf("kafka max_inflight_bytes %d: want a positive size", cfg.MaxInflightBytes)
	}
	if cfg.DeadLetterMaxBytes == 0 {
		cfg.DeadLetterMaxBytes = DefaultDeadLetterMaxBytes
	}
	dlq, err := OpenDeadLetter(cfg.DeadLetterPath, cfg.DeadLetterMaxBytes, cfg.DeadLetterBackups)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	k := &Kafka{
		cfg: cfg, scfg: scfg, log: log, m: m, ready: ready, dlq: dlq,
		slots: make(chan struct{}, cfg.ChanMaxSize),
		bytes: budget.New(cfg.MaxInflightBytes),
		in:    make(chan []*Message, cfg.ChanMaxSize),
		ctx:   ctx, cancel: cancel,
		retryLog: logging.NewLimited(5 * time.Second),
	}
	k.wg.Add(1)
	go k.run()
	return k, nil
}

func saramaConfig(cfg Config) (*sarama.Config, error) {
	return cfg.Client.NewConfig(func(sc *sarama.Config) error { return producerKnobs(cfg, sc) })
}

// producerKnobs are the agent's own settings on top of the shared client
// settings.
func producerKnobs(cfg Config, sc *sarama.Config) error {
	switch cfg.RequiredAcks {
	case "all", "":
		sc.Producer.RequiredAcks = sarama.WaitForAll
	case "leader":
		sc.Producer.RequiredAcks = sarama.WaitForLocal
	case "none":
		sc.Producer.RequiredAcks = sarama.NoResponse
	default:
		return fmt.Errorf("kafka required_acks %q: want all, leader or none", cfg.RequiredAcks)
	}
	codecs := map[string]sarama.CompressionCodec{"": sarama.CompressionNone, "none": sarama.CompressionNone, "gzip": sarama.CompressionGZIP,
		"snappy": sarama.CompressionSnappy, "lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD}
	codec, ok := codecs[cfg.Compression]
	if !ok {
		return fmt.Errorf("kafka compression %q: want none, gzip, snappy, lz4 or zstd", cfg.Compression)
	}
	sc.Producer.Compression = codec
	if cfg.MaxMessageBytes > 0 {
		sc.Producer.MaxMessageBytes = cfg.MaxMessageBytes
	}
	// Shorter than sarama's 30 s: a dead broker shows within seconds, so
	// its records go back to resending (and readiness says so) sooner.
	sc.Net.DialTimeout = 5 * time.Second
	sc.Net.ReadTimeout = 10 * time.Second
	sc.Net.WriteTimeout = 10 * time.Second
	sc.Metadata.Retry.Max = 2
	sc.Metadata.Retry.Backoff = 250 * time.Millisecond
	// Batching (read by producer.go): a partition's batch goes out once it
	// holds 128 KiB or its oldest record waited 20 ms (when 1,000 files
	// trickle lines, 5 ms meant a request per 50 lines and the request
	// machinery was a fifth of the agent's CPU). The few milliseconds are
	// nothing next to a checkpoint interval. sarama encodes each request
	// into two new buffers (records, then request): 128 KiB batches keep
	// those in the CPU's cache and made a full-speed agent's peak RSS 3-5
	// MB lower than 512 KiB did, for the same or less CPU (BENCHMARKS.md,
	// "2026-12-03, sixth session").
	sc.Producer.Flush.Bytes = 128 << 10
	sc.Producer.Flush.Frequency = 20 * time.Millisecond
	if cfg.Idempotent {
		sc.Producer.Idempotent = true
		sc.Producer.RequiredAcks = sarama.WaitForAll
		sc.Net.MaxOpenRequests = 1
	}
	return nil
}

// Send queues m, blocking while chan_max_size records or max_inflight_bytes
// are in flight (this is the backpressure that pauses tailing when Kafka is
// slow or down).
func (k *Kafka) Send(ctx context.Context, m *Message) error {
	_, err := k.SendBatch(ctx, []*Message{m})
	return err
}

// SendBatch queues ms in order, as Send does each, and returns how many were
// queued (all of them unless ctx ended or the sink closed). The sink owns ms
// from then on: the caller must not reuse the slice. Records that
// find a free slot and free bytes go to the producer together: a file that
// wakes up with ten lines costs the producer one wake-up, not ten. Neither
// slots nor bytes are held while waiting for more, so senders cannot starve
// each other.
func (k *Kafka) SendBatch(ctx context.Context, ms []*Message) (int, error) {
	sent, held := 0, 0
	var heldSize int64
	flush := func() {
		if held > 0 {
			k.m.QueueDepth.Add(float64(held))
			k.m.QueueBytes.Add(float64(heldSize))
			k.in <- ms[sent : sent+held] // never blocks: cap(in) == cap(slots) and each batch holds a slot
			sent, held, heldSize = sent+held, 0, 0
		}
	}
	for sent+held < len(ms) {
		n := heldBytes(ms[sent+held])
		if c := k.bytes.Claim(n); !k.tryAcquire(c) {
			flush()
			if err := k.acquire(ctx, c); err != nil {
				return sent, err
			}
		}
		held++
		heldSize += n
	}
	flush()
	return sent, nil
}

// tryAcquire takes a slot and n bytes (a claim) for a record if both are
// free now.
func (k *Kafka) tryAcquire(n int64) bool {
	select {
	case k.slots <- struct{}{}:
	default:
		return false
	}
	if !k.bytes.TryTake(n) {
		<-k.slots
		return false
	}
	return true
}

// acquire waits for a slot and n bytes (a claim). The slot is held while waiting for
// the bytes: either is freed only by acknowledgements of records already
// handed to the producer, so this cannot deadlock.
func (k *Kafka) acquire(ctx context.Context, n int64) error {
	select {
	case k.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-k.ctx.Done():
		return errSinkClosed
	}
	if err := k.bytes.Take(ctx, k.ctx.Done(), n); err != nil {
		<-k.slots
		if errors.Is(err, budget.ErrClosed) {
			return errSinkClosed
		}
		return err
	}
	return nil
}

// release frees the slots and bytes of records that left the sink, and
// returns their values to their owners (a run of neighbours sharing one
// owner in one call).
func (k *Kafka) release(ms ...*Message) {
	var size, claims int64
	var owner ValueOwner
	owned := 0
	for _, m := range ms {
		n := heldBytes(m)
		size += n
		claims += k.bytes.Claim(n)
		<-k.slots
		if m.Owner != owner {
			if owned > 0 {
				owner.Release(owned)
			}
			owner, owned = m.Owner, 0
		}
		if owner != nil {
			owned++
		}
	}
	if owned > 0 {
		owner.Release(owned)
	}
	k.bytes.Give(claims)
	k.m.QueueDepth.Sub(float64(len(ms)))
	k.m.QueueBytes.Sub(float64(size))
}

// InFlight is the number of records sent and not yet delivered.
func (k *Kafka) InFlight() int { return len(k.slots) }

// InFlightBytes is what the records sent and not yet delivered hold, as
// max_inflight_bytes counts it.
func (k *Kafka) InFlightBytes() int64 { return k.bytes.InUse() }

func (k *Kafka) run() {
	defer k.wg.Done()
	bo := retryBackoff()
	// Broker unreachable is retryable: keep trying, records wait.
	client, err := k.cfg.Client.Connect(k.ctx, k.scfg, &bo, k.log, k.ready)
	if err != nil {
		return // closed while connecting
	}
	p := newProducer(k, client)
	k.prod.Store(p)
	if k.scfg.Producer.Idempotent {
		for {
			res, err := client.InitProducerID()
			if err == nil && res.Err != sarama.ErrNoError {
				err = res.Err
			}
			if err == nil {
				p.producerID, p.producerEpoch = res.ProducerID, res.ProducerEpoch
				break
			}
			k.ready.Set("kafka", err)
			k.log.Warn("get an idempotent producer id from kafka; retrying", "err", err, "attempt", bo.Attempt()+1)
			if bo.Wait(k.ctx) != nil {
				_ = client.Close()
				return
			}
		}
	}
	k.ready.Set("kafka", nil)
	k.log.Info("connected to kafka", "brokers", k.cfg.Client.Brokers)
	p.run()
	// Closing: close the connections first (requests blocked on them
	// fail), then wait for the senders; after that no ack can come.
	_ = client.Close()
	p.close()
}

// delivered acknowledges records Kafka accepted.
func (k *Kafka) delivered(msgs []*Message) {
	k.ready.Set("kafka", nil)
	k.m.RecordsAcked.Add(float64(len(msgs)))
	// A harvester's lines sit side by side in a batch with consecutive
	// sequence numbers: one call (one lock, one checkpoint update) per run.
	for i := 0; i < len(msgs); {
		m, n := msgs[i], 1
		for i+n < len(msgs) && msgs[i+n].Acker == m.Acker && msgs[i+n].Seq == m.Seq+uint64(n) {
			n++
		}
		m.Acker.AckRun(m.Seq, n)
		i += n
	}
	k.release(msgs...)
}

// deadLetter writes a record Kafka will never accept to the dead-letter
// file and acknowledges it. If the file cannot be written (data_dir full or
// read-only) the record is dropped, counted and logged, and acknowledged all
// the same: a dead-letter write must never hold a file's checkpoint back.
func (k *Kafka) deadLetter(m *Message, reason error) {
	rotated, err := k.dlq.Write(m, reason)
	if rotated > 0 {
		k.m.DeadLetterDropped.WithLabelValues("rotated").Add(float64(rotated))
		k.log.Warn("dead-letter file reached its size cap; rotated, the oldest rotated file's records are gone",
			"dead_letter", k.dlq.Path(), "records_removed", rotated)
	}
	if err != nil {
		k.m.DeadLetterDropped.WithLabelValues("write_failed").Inc()
		k.log.Error("kafka rejected a record permanently and it could not be written to the dead-letter file; dropped (the line is acknowledged, its checkpoint advances)",
			"topic", m.Topic, "path", m.Path, "offset", m.Offset, "event_id", m.EventID, "reason", reason, "err", err)
	} else {
		k.m.DeadLettered.Inc()
		k.log.Error("kafka rejected a record permanently; written to the dead-letter file", "topic", m.Topic, "path", m.Path, "offset", m.Offset, "reason", reason, "dead_letter", k.dlq.Path())
	}
	m.Acker.AckRun(m.Seq, 1)
	k.release(m)
}

// retryable reports a failure that is retried: readiness, and a log line at
// most every 5 s.
func (k *Kafka) retryable(err error, topic string, records int) {
	k.ready.Set("kafka", err)
	k.retryLog.Log(k.log, slog.LevelWarn, "", "kafka produce failed; resending with backoff",
		"topic", topic, "records", records, "err", err, "in_flight", k.InFlight())
}

// Class is how the sink handles a producer error.
type Class int

// Error classes.
const (
	ClassRetryable Class = iota // broker down, leader moving, timeouts: resend
	ClassPermanent              // the record itself is unacceptable: dead-letter it
)

// Classify sorts a producer error. Unknown errors are retryable: blocking a
// file until an operator looks is better than losing or diverting lines.
func Classify(err error) Class {
	var kerr sarama.KError
	if errors.As(err, &kerr) {
		switch kerr {
		case sarama.ErrMessageSizeTooLarge, sarama.ErrInvalidTopic, sarama.ErrInvalidRecord,
			sarama.ErrInvalidMessage, sarama.ErrInvalidMessageSize, sarama.ErrUnsupportedForMessageFormat:
			return ClassPermanent
		}
		return ClassRetryable
	}
	var perr sarama.PacketEncodingError
	if errors.As(err, &perr) {
		return ClassPermanent // the request cannot be encoded: the same again would fail the same way
	}
	var cerr sarama.ConfigurationError
	if errors.As(err, &cerr) {
		// Client-side checks of the record (larger than max_message_bytes).
		return ClassPermanent
	}
	return ClassRetryable
}

// Close stops accepting records and waits up to ctx for those in flight to
// be delivered, then closes the producer. Records still in flight stay
// undelivered (their lines are resent after restart). Safe to call twice.
func (k *Kafka) Close(ctx context.Context) error {
	var err error
	k.once.Do(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
	wait:
		for k.InFlight() > 0 {
			select {
			case <-ctx.Done():
				err = fmt.Errorf("kafka sink: %d records not delivered before the shutdown deadline; they will be resent after restart", k.InFlight())
				break wait
			case <-tick.C:
			}
		}
		k.cancel()
		k.wg.Wait()
		if cerr := k.dlq.Close(); cerr != nil && err == nil {
			err = cerr
		}
	})
	return err
}
