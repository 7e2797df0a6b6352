// Package sink delivers records to Kafka through a sarama AsyncProducer and
// reports each record's fate exactly once: delivered (Kafka acknowledged
// it) or dead-lettered (Kafka rejected it permanently and the record was
// written to a local file). Retryable failures are resent with capped
// backoff and never reported meanwhile, so the caller's checkpoint cannot
// move past them.
package sink

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
	"github.com/logcollect/logcollect/pkg/backoff"
	"github.com/logcollect/logcollect/pkg/kafkaconf"
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
	// Done is called once, from the sink's goroutine, when Kafka
	// acknowledged the record or it was dead-lettered. Never for a record
	// that was not delivered when the sink closed.
	Done func()
}

// Config configures the producer.
type Config struct {
	Client          kafkaconf.Settings
	ChanMaxSize     int
	RequiredAcks    string
	Compression     string
	MaxMessageBytes int
	Idempotent      bool
	DeadLetterPath  string
}

// Kafka is the Kafka sink.
type Kafka struct {
	cfg   Config
	scfg  *sarama.Config
	log   *slog.Logger
	m     *metrics.Metrics
	ready *obs.Readiness
	dlq   *DeadLetter

	slots chan struct{} // one per record in flight: the bound on memory
	in    chan *Message // records waiting for the producer (cap = slots)
	retry chan *Message // records to resend after a retryable error (cap = slots)

	ctx    context.Context // cancelled at Close: stops feeding
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	pauseUntil  atomic.Int64 // unix nanos: no sends before (retry backoff)
	lastPause   atomic.Int64
	lastSuccess atomic.Int64
}

// New validates cfg and starts connecting in the background: Kafka being
// down at start must not stop the agent, records simply wait (backpressure).
func New(cfg Config, log *slog.Logger, m *metrics.Metrics, ready *obs.Readiness) (*Kafka, error) {
	scfg, err := saramaConfig(cfg)
	if err != nil {
		return nil, err
	}
	dlq, err := OpenDeadLetter(cfg.DeadLetterPath)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	k := &Kafka{
		cfg: cfg, scfg: scfg, log: log, m: m, ready: ready, dlq: dlq,
		slots: make(chan struct{}, cfg.ChanMaxSize),
		in:    make(chan *Message, cfg.ChanMaxSize),
		retry: make(chan *Message, cfg.ChanMaxSize),
		ctx:   ctx, cancel: cancel,
	}
	k.wg.Add(1)
	go k.run()
	return k, nil
}

func saramaConfig(cfg Config) (*sarama.Config, error) {
	sc := sarama.NewConfig()
	if err := cfg.Client.Apply(sc); err != nil {
		return nil, fmt.Errorf("kafka client settings: %w", err)
	}
	switch cfg.RequiredAcks {
	case "all", "":
		sc.Producer.RequiredAcks = sarama.WaitForAll
	case "leader":
		sc.Producer.RequiredAcks = sarama.WaitForLocal
	case "none":
		sc.Producer.RequiredAcks = sarama.NoResponse
	default:
		return nil, fmt.Errorf("kafka required_acks %q: want all, leader or none", cfg.RequiredAcks)
	}
	codecs := map[string]sarama.CompressionCodec{"": sarama.CompressionNone, "none": sarama.CompressionNone, "gzip": sarama.CompressionGZIP,
		"snappy": sarama.CompressionSnappy, "lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD}
	codec, ok := codecs[cfg.Compression]
	if !ok {
		return nil, fmt.Errorf("kafka compression %q: want none, gzip, snappy, lz4 or zstd", cfg.Compression)
	}
	sc.Producer.Compression = codec
	if cfg.MaxMessageBytes > 0 {
		sc.Producer.MaxMessageBytes = cfg.MaxMessageBytes
	}
	sc.Producer.Return.Successes = true
	sc.Producer.Return.Errors = true
	// The sink resends after its own backoff too; sarama's quick retries
	// cover leader elections without surfacing an error.
	sc.Producer.Retry.Max = 3
	sc.Producer.Retry.Backoff = 250 * time.Millisecond
	sc.Producer.Partitioner = sarama.NewHashPartitioner // key = file id: one file, one partition
	sc.Net.DialTimeout = 5 * time.Second
	sc.Net.ReadTimeout = 10 * time.Second
	sc.Net.WriteTimeout = 10 * time.Second
	sc.Metadata.Retry.Max = 2
	sc.Metadata.Retry.Backoff = 250 * time.Millisecond
	// Batching: a produce request every few milliseconds (20 ms: when
	// 1,000 files trickle lines, 5 ms meant a request per 50 lines, and the
	// request machinery was a fifth of the agent's CPU) carrying a few
	// hundred KiB costs the agent and the broker far less per line than
	// one request as soon as anything is buffered (sarama's default), and
	// the few milliseconds are nothing next to a checkpoint interval. The
	// buffers between sarama's goroutines are sized so that they hand
	// records over in bursts rather than one wake-up per record.
	sc.ChannelBufferSize = 1024
	sc.Producer.Flush.Bytes = 512 << 10
	sc.Producer.Flush.Frequency = 20 * time.Millisecond
	if cfg.Idempotent {
		sc.Producer.Idempotent = true
		sc.Producer.RequiredAcks = sarama.WaitForAll
		sc.Net.MaxOpenRequests = 1
	}
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("kafka producer settings: %w", err)
	}
	return sc, nil
}

// Send queues m, blocking while chan_max_size records are in flight (this
// is the backpressure that pauses tailing when Kafka is slow or down).
func (k *Kafka) Send(ctx context.Context, m *Message) error {
	select {
	case k.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-k.ctx.Done():
		return errors.New("kafka sink closed")
	}
	k.m.QueueDepth.Inc()
	k.in <- m // never blocks: cap(in) == cap(slots)
	return nil
}

func (k *Kafka) release() {
	<-k.slots
	k.m.QueueDepth.Dec()
}

// InFlight is the number of records sent and not yet delivered.
func (k *Kafka) InFlight() int { return len(k.slots) }

func (k *Kafka) run() {
	defer k.wg.Done()
	bo := backoff.Backoff{Min: 250 * time.Millisecond, Max: 10 * time.Second}
	var producer sarama.AsyncProducer
	for {
		p, err := sarama.NewAsyncProducer(k.cfg.Client.Brokers, k.scfg)
		if err == nil {
			producer = p
			break
		}
		// Broker unreachable is retryable: keep trying, records wait.
		k.ready.Set("kafka", err)
		k.log.Warn("connect to kafka; retrying", "brokers", k.cfg.Client.Brokers, "err", err, "attempt", bo.Attempt()+1)
		if bo.Wait(k.ctx) != nil {
			return
		}
	}
	k.ready.Set("kafka", nil)
	k.log.Info("connected to kafka", "brokers", k.cfg.Client.Brokers)

	var results sync.WaitGroup
	results.Add(2)
	go func() { defer results.Done(); k.successes(producer) }()
	go func() { defer results.Done(); k.errors(producer) }()
	defer func() {
		producer.AsyncClose()
		results.Wait()
	}()

	for {
		var m *Message
		select {
		case m = <-k.retry: // resends first: they are the oldest lines
		default:
			select {
			case m = <-k.retry:
			case m = <-k.in:
			case <-k.ctx.Done():
				return
			}
		}
		// After a retryable error every send waits out the backoff, so an
		// outage costs a few attempts per interval, not a busy loop.
		if wait := time.Until(time.Unix(0, k.pauseUntil.Load())); wait > 0 {
			if backoff.Sleep(k.ctx, wait) != nil {
				k.release() // closing: not delivered
				return
			}
		}
		select {
		case producer.Input() <- &sarama.ProducerMessage{Topic: m.Topic, Key: sarama.ByteEncoder(m.Key), Value: sarama.ByteEncoder(m.Value), Metadata: m}:
		case <-k.ctx.Done():
			k.release()
			return
		}
	}
}

func (k *Kafka) successes(p sarama.AsyncProducer) {
	for pm := range p.Successes() {
		m := pm.Metadata.(*Message)
		k.lastSuccess.Store(time.Now().UnixNano())
		k.ready.Set("kafka", nil)
		k.m.RecordsAcked.Inc()
		m.Done()
		k.release()
	}
}

func (k *Kafka) errors(p sarama.AsyncProducer) {
	bo := backoff.Backoff{Min: 200 * time.Millisecond, Max: 5 * time.Second}
	var lastLog time.Time
	for pe := range p.Errors() {
		m := pe.Msg.Metadata.(*Message)
		class := Classify(pe.Err)
		if class == ClassPermanent {
			if err := k.dlq.Write(m, pe.Err); err != nil {
				// Cannot record it: keep it in flight and retry rather than
				// lose it silently.
				k.log.Error("write dead-letter record; will retry", "path", m.Path, "offset", m.Offset, "err", err)
				class = ClassRetryable
			} else {
				k.m.ProducerErrors.WithLabelValues("permanent").Inc()
				k.m.DeadLettered.Inc()
				k.log.Error("kafka rejected a record permanently; written to the dead-letter file", "topic", m.Topic, "path", m.Path, "offset", m.Offset, "reason", pe.Err, "dead_letter", k.dlq.Path())
				m.Done()
				k.release()
				continue
			}
		}
		if class == ClassShutdown || k.ctx.Err() != nil {
			// Not delivered: no Done, so the line is not checkpointed and
			// is read and sent again after a restart.
			k.release()
			continue
		}
		k.m.ProducerErrors.WithLabelValues("retryable").Inc()
		k.ready.Set("kafka", pe.Err)
		now := time.Now()
		if k.lastSuccess.Load() > k.lastPause.Load() {
			bo.Reset() // a success since the last pause: this is a new incident
		}
		if now.UnixNano() > k.pauseUntil.Load() {
			k.pauseUntil.Store(now.Add(bo.Next()).UnixNano())
			k.lastPause.Store(now.UnixNano())
		}
		if now.Sub(lastLog) > 5*time.Second {
			k.log.Warn("kafka produce failed; resending with backoff", "topic", m.Topic, "err", pe.Err, "in_flight", k.InFlight())
			lastLog = now
		}
		k.retry <- m // cap(retry) == cap(slots): never blocks
	}
}

// Class is how the sink handles a producer error.
type Class int

// Error classes.
const (
	ClassRetryable Class = iota // broker down, leader moving, timeouts: resend
	ClassPermanent              // the record itself is unacceptable: dead-letter it
	ClassShutdown               // the producer was closing: not delivered
)

// Classify sorts a producer error. Unknown errors are retryable: blocking a
// file until an operator looks is better than losing or diverting lines.
func Classify(err error) Class {
	if errors.Is(err, sarama.ErrShuttingDown) {
		return ClassShutdown
	}
	var kerr sarama.KError
	if errors.As(err, &kerr) {
		switch kerr {
		case sarama.ErrMessageSizeTooLarge, sarama.ErrInvalidTopic, sarama.ErrInvalidRecord,
			sarama.ErrInvalidMessage, sarama.ErrInvalidMessageSize, sarama.ErrUnsupportedForMessageFormat:
			return ClassPermanent
		}
		return ClassRetryable
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
