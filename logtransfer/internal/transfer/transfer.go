// Package transfer wires logtransfer together: Elasticsearch client and
// index templates, the indexer pool, the Kafka consumer group with its
// topic list (static and/or a pattern re-evaluated periodically), the
// operational HTTP endpoints, and the orderly stop.
//
// It is built from the sink back to the source (Elasticsearch, then the
// indexers, then Kafka) and stopped from the source toward the sink:
// consumption stops, revoked partitions drain into Elasticsearch within
// drain_timeout, offsets are committed, then the indexers stop.
package transfer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/olivere/elastic/v7"

	"github.com/logcollect/logcollect/pkg/backoff"
	"github.com/logcollect/logcollect/pkg/budget"
	"github.com/logcollect/logcollect/pkg/obs"
	"github.com/logcollect/logcollect/pkg/redact"

	"github.com/logcollect/logcollect/logtransfer/internal/config"
	"github.com/logcollect/logcollect/logtransfer/internal/consumer"
	"github.com/logcollect/logcollect/logtransfer/internal/document"
	"github.com/logcollect/logcollect/logtransfer/internal/indexer"
	"github.com/logcollect/logcollect/logtransfer/internal/metrics"
	"github.com/logcollect/logcollect/logtransfer/internal/template"
)

// ErrShutdownTimeout: the consumer did not stop within shutdown_timeout.
var ErrShutdownTimeout = errors.New("shutdown timed out")

// Options are hooks for tests and the command.
type Options struct {
	// OnListen, if set, receives the operational server's address once bound.
	OnListen func(addr string)
}

// Transfer is the logtransfer service, shaped like the agent: New checks
// what can be checked without the network, Run does the work.
type Transfer struct {
	cfg     config.Config
	log     *slog.Logger
	opts    Options
	pattern *document.IndexPattern
}

// New checks cfg (the index pattern) and fills in its derived defaults.
func New(cfg config.Config, log *slog.Logger, opts Options) (*Transfer, error) {
	if cfg.ES.DeadLetterIndex == "" {
		cfg.ES.DeadLetterIndex = cfg.ES.IndexPrefix + "-dead-letter"
	}
	pattern, err := document.CompileIndexPattern(cfg.ES.IndexPattern, cfg.ES.IndexPrefix)
	if err != nil {
		return nil, fmt.Errorf("index_pattern: %w", err)
	}
	return &Transfer{cfg: cfg, log: log, opts: opts, pattern: pattern}, nil
}

// Run runs the transfer until ctx is done, then stops in order. It returns
// nil after a clean stop.
func (t *Transfer) Run(ctx context.Context) error {
	err := t.run(ctx)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		// Stopped while still waiting for Kafka or Elasticsearch at start:
		// the operator asked for it, nothing was consumed.
		t.log.Info("stopped during start-up", "reason", err)
		return nil
	}
	return err
}

func (t *Transfer) run(ctx context.Context) error {
	cfg, log, opts, pattern := t.cfg, t.log, t.opts, t.pattern
	reg := obs.NewRegistry()
	m := metrics.New(reg)
	ready := obs.NewReadiness("kafka", "elasticsearch")

	var wg sync.WaitGroup
	defer wg.Wait()
	srvCtx, stopSrv := context.WithCancel(context.Background())
	defer stopSrv()
	if cfg.Transfer.HTTPListen != "" {
		h := newStatusHandler(cfg)
		ui, closeUI, err := newConsole(cfg, log)
		if err != nil {
			return err
		}
		defer closeUI()
		srv, err := obs.Listen(cfg.Transfer.HTTPListen, obs.Handler(reg, ready, map[string]http.Handler{"/status": h, "/ui/": ui}), log)
		if err != nil {
			return err
		}
		log.Info("serving metrics and health", "addr", srv.Addr())
		if opts.OnListen != nil {
			opts.OnListen(srv.Addr())
		}
		wg.Go(func() {
			if err := srv.Run(srvCtx); err != nil {
				log.Error("metrics server", "error", err)
			}
		})
	}

	// Sink first: Elasticsearch.
	es, err := connectES(ctx, cfg.ES, log)
	if err != nil {
		return err
	}
	defer es.Stop()
	if cfg.ES.InstallTemplate {
		spec := template.Spec{Name: cfg.ES.IndexPrefix, IndexPattern: pattern.TemplatePattern(), DeadLetterIndex: cfg.ES.DeadLetterIndex}
		if err := installTemplates(ctx, es, spec, cfg.ES, log, ready); err != nil {
			return err
		}
	}

	pool := indexer.New(indexer.Config{
		Workers: cfg.ES.Workers, QueueSize: cfg.Transfer.ChanMaxSize,
		BulkActions: cfg.ES.BulkActions, BulkBytes: cfg.ES.BulkBytes, FlushInterval: cfg.ES.FlushInterval,
		RetryMin: cfg.ES.RetryMin, RetryMax: cfg.ES.RetryMax,
		DeadLetterIndex: cfg.ES.DeadLetterIndex, Pattern: pattern, ForeignJSON: cfg.Transfer.ForeignJSON,
	}, &indexer.ElasticBulk{Client: es}, m, log, func(err error) { ready.Set("elasticsearch", redact.Error(err)) })
	pool.Start()
	defer pool.Close()

	// Then the source: Kafka.
	scfg, err := saramaConfig(cfg.Kafka)
	if err != nil {
		return err
	}
	client, err := cfg.Kafka.Client.Connect(ctx, scfg, &backoff.Backoff{Min: time.Second, Max: 30 * time.Second}, log, ready)
	if err != nil {
		return err
	}
	defer client.Close()
	group, err := sarama.NewConsumerGroupFromClient(cfg.Kafka.GroupID, client)
	if err != nil {
		return fmt.Errorf("kafka consumer group %s: %w", cfg.Kafka.GroupID, err)
	}
	wg.Go(func() {
		for err := range group.Errors() {
			log.Warn("kafka consumer group", "error", err)
		}
	})

	inflight := budget.New(cfg.Transfer.MaxInflightBytes)
	inflight.OnChange = func(used int64) { m.InflightBytes.Set(float64(used)) }
	handler := consumer.New(pool.Input(), inflight, cfg.Transfer.DrainTimeout, m, log, func(err error) { ready.Set("kafka", err) })
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		consumeLoop(ctx, cfg.Kafka, client, group, handler, log, ready)
	}()

	<-ctx.Done()
	log.Info("stopping: no new records are read; in-flight documents drain into elasticsearch, then offsets are committed",
		"drain_timeout", cfg.Transfer.DrainTimeout, "shutdown_timeout", cfg.Transfer.ShutdownTimeout)
	var stopErr error
	select {
	case <-consumed:
	case <-time.After(cfg.Transfer.ShutdownTimeout):
		stopErr = fmt.Errorf("kafka consumer still running after %s: %w", cfg.Transfer.ShutdownTimeout, ErrShutdownTimeout)
	}
	// Close leaves the group (so others take over at once) and commits.
	if err := group.Close(); err != nil {
		log.Warn("close kafka consumer group", "error", err)
	}
	pool.Close()
	stopSrv()
	if stopErr == nil {
		log.Info("stopped cleanly")
	}
	return stopErr
}

func connectES(ctx context.Context, cfg config.ES, log *slog.Logger) (*elastic.Client, error) {
	ccfg := indexer.ClientConfig{URLs: cfg.URLs, Username: cfg.Username, Password: cfg.Password, TLS: cfg.TLS,
		Sniff: cfg.Sniff, Timeout: cfg.Timeout, MaxConns: cfg.Workers * 2}
	bo := backoff.Backoff{Min: time.Second, Max: 30 * time.Second}
	for {
		c, err := indexer.NewClient(ccfg)
		if err == nil {
			return c, nil
		}
		if !cfg.Sniff || errors.Is(err, context.Canceled) {
			// Without sniffing NewClient does no I/O: the error is ours.
			return nil, redact.Error(err)
		}
		d := bo.Next()
		log.Warn("elasticsearch unreachable (sniffing); retrying", "urls", redact.URLs(cfg.URLs), "retry_in", d.Round(time.Millisecond), "error", redact.Error(err))
		if err := backoff.Sleep(ctx, d); err != nil {
			return nil, fmt.Errorf("connect to elasticsearch: %w", err)
		}
	}
}

func installTemplates(ctx context.Context, es *elastic.Client, spec template.Spec, cfg config.ES, log *slog.Logger, ready *obs.Readiness) error {
	bo := backoff.Backoff{Min: time.Second, Max: 30 * time.Second}
	for {
		tctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		kind, err := template.Install(tctx, es, spec)
		cancel()
		if err == nil {
			ready.Set("elasticsearch", nil)
			log.Info("index templates installed", "kind", kind, "pattern", spec.IndexPattern, "dead_letter_index", spec.DeadLetterIndex)
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("install index templates: %w", ctx.Err())
		}
		var ee *elastic.Error
		if errors.As(err, &ee) && (ee.Status == http.StatusUnauthorized || ee.Status == http.StatusForbidden) {
			// Nothing has been consumed yet: stop with a message that says
			// what to fix rather than retry a password that cannot work.
			return fmt.Errorf("elasticsearch at %s refused the credentials (HTTP %d): check [es] username and password (or password_file): %w",
				strings.Join(redact.URLs(cfg.URLs), ","), ee.Status, redact.Error(err))
		}
		err = redact.Error(err)
		if !errors.Is(err, template.ErrUnreachable) {
			return err
		}
		ready.Set("elasticsearch", err)
		d := bo.Next()
		log.Warn("elasticsearch unreachable at start; retrying", "urls", redact.URLs(cfg.URLs), "attempt", bo.Attempt(), "retry_in", d.Round(time.Millisecond), "error", err)
		if err := backoff.Sleep(ctx, d); err != nil {
			return fmt.Errorf("install index templates: %w", err)
		}
	}
}

func saramaConfig(k config.Kafka) (*sarama.Config, error) {
	return k.Client.NewConfig(func(c *sarama.Config) error {
		consumerKnobs(k, c)
		return nil
	})
}

// consumerKnobs are the transfer's own settings on top of the shared client
// settings.
func consumerKnobs(k config.Kafka, c *sarama.Config) {
	c.Consumer.Return.Errors = true
	// sarama buffers this many records per claimed partition ahead of the
	// byte budget (default 256: 256 MB of 1 MB records); a few are enough
	// to keep the consumer busy between fetches.
	c.ChannelBufferSize = 16
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	if k.InitialOffset == "newest" {
		c.Consumer.Offsets.Initial = sarama.OffsetNewest
	}
	// Auto-commit only ever commits what the offsets tracker marked, and
	// the tracker marks only what Elasticsearch holds.
	c.Consumer.Offsets.AutoCommit.Enable = true
	c.Consumer.Offsets.AutoCommit.Interval = k.CommitInterval
	c.Consumer.Group.Session.Timeout = k.SessionTimeout
	c.Consumer.Group.Heartbeat.Interval = k.HeartbeatInterval
	c.Consumer.Group.Rebalance.Timeout = k.RebalanceTimeout
	var s sarama.BalanceStrategy
	switch k.BalanceStrategy {
	case "roundrobin":
		s = sarama.NewBalanceStrategyRoundRobin()
	case "sticky":
		s = sarama.NewBalanceStrategySticky()
	case "cooperative-sticky":
		s = sarama.NewBalanceStrategyCooperativeSticky()
	default:
		s = sarama.NewBalanceStrategyRange()
	}
	c.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{s}
	// The group rejoins when a topic's partition count changes, checked
	// every topic_refresh_interval (the shared metadata refresh).
}

// consumeLoop joins the group with the current topic list and joins again
// whenever the session ends (rebalance, error) or the list changes.
func consumeLoop(ctx context.Context, k config.Kafka, client sarama.Client, group sarama.ConsumerGroup, h *consumer.Handler, log *slog.Logger, ready *obs.Readiness) {
	bo := backoff.Backoff{Min: 500 * time.Millisecond, Max: 30 * time.Second}
	var current []string
	for ctx.Err() == nil {
		topics, err := resolveTopics(client, k)
		if err != nil || len(topics) == 0 {
			if err == nil {
				err = fmt.Errorf("no topic matches topic_pattern %s yet", k.TopicPattern)
			}
			ready.Set("kafka", err)
			d := min(bo.Next(), k.Client.TopicRefreshInterval)
			log.Warn("no topics to consume; retrying", "retry_in", d.Round(time.Millisecond), "error", err)
			if backoff.Sleep(ctx, d) != nil {
				return
			}
			continue
		}
		if !slices.Equal(topics, current) {
			log.Info("consuming topics", "topics", strings.Join(topics, ","), "group", k.GroupID)
			current = topics
		}
		sctx, cancel := context.WithCancel(ctx)
		watchDone := make(chan struct{})
		if k.TopicPattern != nil {
			go func() {
				defer close(watchDone)
				watchTopics(sctx, cancel, client, k, topics, log)
			}()
		} else {
			close(watchDone)
		}
		err = group.Consume(sctx, topics, h)
		cancel()
		<-watchDone
		if err != nil && ctx.Err() == nil {
			ready.Set("kafka", err)
			d := bo.Next()
			log.Warn("kafka consumer group session failed; rejoining", "retry_in", d.Round(time.Millisecond), "error", err)
			if backoff.Sleep(ctx, d) != nil {
				return
			}
			continue
		}
		bo.Reset()
	}
}

// watchTopics ends the session when the set of matching topics changes, so
// Consume is called again with the new list (sarama takes the list per
// Consume call).
func watchTopics(ctx context.Context, endSession context.CancelFunc, client sarama.Client, k config.Kafka, current []string, log *slog.Logger) {
	t := time.NewTicker(k.Client.TopicRefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			topics, err := resolveTopics(client, k)
			if err != nil {
				log.Warn("refresh kafka topics", "error", err)
				continue
			}
			if len(topics) > 0 && !slices.Equal(topics, current) {
				log.Info("matching topics changed; rejoining the group", "was", strings.Join(current, ","), "now", strings.Join(topics, ","))
				endSession()
				return
			}
		}
	}
}

func resolveTopics(client sarama.Client, k config.Kafka) ([]string, error) {
	set := map[string]bool{}
	for _, t := range k.Topics {
		set[t] = true
	}
	if k.TopicPattern != nil {
		if err := client.RefreshMetadata(); err != nil {
			return nil, fmt.Errorf("refresh kafka metadata: %w", err)
		}
		all, err := client.Topics()
		if err != nil {
			return nil, fmt.Errorf("list kafka topics: %w", err)
		}
		for _, t := range all {
			if !strings.HasPrefix(t, "__") && k.TopicPattern.MatchString(t) {
				set[t] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out, nil
}
