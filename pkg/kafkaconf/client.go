package kafkaconf

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/IBM/sarama"

	"github.com/logcollect/logcollect/pkg/backoff"
	"github.com/logcollect/logcollect/pkg/obs"
)

// NewConfig is the sarama config both services start from: the client
// settings (Apply) and the metadata refresh, then tune sets the service's
// own producer or consumer knobs, then sarama validates the whole.
func (s Settings) NewConfig(tune func(*sarama.Config) error) (*sarama.Config, error) {
	c := sarama.NewConfig()
	if err := s.Apply(c); err != nil {
		return nil, fmt.Errorf("kafka client settings: %w", err)
	}
	if s.TopicRefreshInterval > 0 {
		// Partitions added to a topic are seen this often (sarama's default
		// is 10 minutes: that long unused, or unconsumed).
		c.Metadata.RefreshFrequency = s.TopicRefreshInterval
	}
	if tune != nil {
		if err := tune(c); err != nil {
			return nil, err
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("kafka settings: %w", err)
	}
	return c, nil
}

// Connect opens a client to the brokers, retrying with bo's capped backoff
// until it succeeds or ctx ends: Kafka being down at start is waited out,
// not fatal. Each failure marks the "kafka" dependency not ready and logs a
// warning.
func (s Settings) Connect(ctx context.Context, cfg *sarama.Config, bo *backoff.Backoff, log *slog.Logger, ready *obs.Readiness) (sarama.Client, error) {
	for {
		c, err := sarama.NewClient(s.Brokers, cfg)
		if err == nil {
			return c, nil
		}
		ready.Set("kafka", err)
		d := bo.Next()
		log.Warn("kafka unreachable at start; retrying", "brokers", s.Brokers, "attempt", bo.Attempt(), "retry_in", d.Round(time.Millisecond), "error", err)
		if err := backoff.Sleep(ctx, d); err != nil {
			return nil, fmt.Errorf("connect to kafka %v: %w", s.Brokers, err)
		}
	}
}
