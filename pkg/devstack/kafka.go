package devstack

import (
	"crypto/tls"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// KafkaConfig configures the in-process Kafka-protocol broker.
type KafkaConfig struct {
	// Port on 127.0.0.1; 0 picks a free one. Restart a broker on the port it
	// had so clients reconnect to the same address.
	Port int
	// Topics to create at start, with their partition counts.
	Topics map[string]int32
	// AutoCreateTopics creates unknown topics on first use with
	// DefaultPartitions partitions (default 4).
	AutoCreateTopics  bool
	DefaultPartitions int
	// DataDir keeps records and committed group offsets across a restart;
	// "" keeps everything in memory.
	DataDir string
	// SyncWrites fsyncs every produce (slower; for crash tests of the broker).
	SyncWrites bool
	// SASL users as mechanism → user → password (PLAIN, SCRAM-SHA-256,
	// SCRAM-SHA-512); nil disables SASL.
	SASL map[string]map[string]string
	TLS  *tls.Config
	// GroupMinSessionTimeout lowers the broker's minimum consumer group
	// session timeout (default 6s) so rebalance tests can use short sessions.
	GroupMinSessionTimeout time.Duration
	// MaxMessageBytes caps a produce batch (broker message.max.bytes);
	// 0 keeps the broker's default (about 1 MiB).
	MaxMessageBytes int
}

// Kafka is a running in-process broker.
type Kafka struct {
	c *kfake.Cluster
}

// StartKafka starts a one-broker cluster.
func StartKafka(cfg KafkaConfig) (*Kafka, error) {
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(cfg.Port), kfake.ClusterID("logcollect-devstack")}
	for topic, parts := range cfg.Topics {
		opts = append(opts, kfake.SeedTopics(parts, topic))
	}
	if cfg.AutoCreateTopics {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	parts := cfg.DefaultPartitions
	if parts <= 0 {
		parts = 4
	}
	opts = append(opts, kfake.DefaultNumPartitions(parts))
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	if cfg.SyncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	if len(cfg.SASL) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for mech, users := range cfg.SASL {
			for u, p := range users {
				opts = append(opts, kfake.Superuser(mech, u, p))
			}
		}
	}
	if cfg.TLS != nil {
		opts = append(opts, kfake.TLS(cfg.TLS))
	}
	if cfg.GroupMinSessionTimeout > 0 {
		opts = append(opts, kfake.GroupMinSessionTimeout(cfg.GroupMinSessionTimeout))
	}
	if cfg.MaxMessageBytes > 0 {
		opts = append(opts, kfake.BrokerConfigs(map[string]string{"message.max.bytes": fmt.Sprint(cfg.MaxMessageBytes)}))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start kafka broker: %w", err)
	}
	return &Kafka{c: c}, nil
}

// Addr is the broker's "127.0.0.1:PORT".
func (k *Kafka) Addr() string { return k.c.ListenAddrs()[0] }

// Close stops the broker, persisting its state when it has a DataDir.
// Safe to call twice.
func (k *Kafka) Close() {
	if k.c != nil {
		k.c.Close()
		k.c = nil
	}
}
