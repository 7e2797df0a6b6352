package devstack

import (
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
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
	// Ports, when set, starts one broker per port (Port is then unused):
	// a multi-broker cluster whose partition leaders can move.
	Ports []int
	// ShuffleLeaders moves every partition's leader to a random broker at
	// this interval (a leader election); 0 never does.
	ShuffleLeaders time.Duration
}

// Kafka is a running in-process broker (or cluster of brokers).
type Kafka struct {
	c    *kfake.Cluster
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	// produceFault is the produce fault installed by FailProduce, removed
	// when its window ends.
	produceFault *kfake.FaultHandle
	faultTimer   *time.Timer
	lastFault    *kfake.FaultHandle // for hits once the window ended
	ctl          *http.Server
	ctlURL       string
}

// StartKafka starts the cluster: one broker on Port, or one per Ports.
func StartKafka(cfg KafkaConfig) (*Kafka, error) {
	ports := cfg.Ports
	if len(ports) == 0 {
		ports = []int{cfg.Port}
	}
	opts := []kfake.Opt{kfake.NumBrokers(len(ports)), kfake.Ports(ports...), kfake.ClusterID("logcollect-devstack")}
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
	k := &Kafka{c: c, stop: make(chan struct{}), done: make(chan struct{})}
	go k.shuffle(cfg.ShuffleLeaders)
	return k, nil
}

func (k *Kafka) shuffle(every time.Duration) {
	defer close(k.done)
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-t.C:
			k.c.ShufflePartitionLeaders()
		}
	}
}

// Addr is the first broker's "127.0.0.1:PORT".
func (k *Kafka) Addr() string { return k.c.ListenAddrs()[0] }

// Addrs is every broker's "127.0.0.1:PORT", comma separated (the form of
// the services' [kafka] brokers).
func (k *Kafka) Addrs() string { return strings.Join(k.c.ListenAddrs(), ",") }

// ShuffleLeaders moves every partition's leader to a random broker now.
func (k *Kafka) ShuffleLeaders() { k.c.ShufflePartitionLeaders() }

// Leaders is the leader broker of each partition of topic (-1: none).
func (k *Kafka) Leaders(topic string) []int32 {
	var out []int32
	for p := int32(0); ; p++ {
		l := k.c.LeaderFor(topic, p)
		if l < 0 {
			return out
		}
		out = append(out, l)
	}
}

// MoveLeader makes broker node the leader of the partition (a leader
// election), as ShuffleLeaders does at random.
func (k *Kafka) MoveLeader(topic string, partition, node int32) error {
	if err := k.c.MoveTopicPartition(topic, partition, node); err != nil {
		return fmt.Errorf("move leader of %s/%d to %d: %w", topic, partition, node, err)
	}
	return nil
}

// CountProduce starts counting the produce requests the brokers receive;
// the returned function reads the count.
func (k *Kafka) CountProduce() func() int {
	h := k.c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Count: -1, Observe: true})
	return h.Hits
}

// Hold is a set of produce requests kept unanswered (HoldProduce).
type Hold struct {
	held    atomic.Int64
	release chan struct{}
	once    sync.Once
}

// Held is the number of produce requests held so far.
func (h *Hold) Held() int64 { return h.held.Load() }

// Release lets the held requests (and later ones) be handled, by the
// partitions' leaders at that time.
func (h *Hold) Release() { h.once.Do(func() { close(h.release) }) }

// HoldProduce keeps produce requests sent to broker node unanswered until
// Release: a slow broker, so that a test can move a leader while requests
// to the old one are in flight.
func (k *Kafka) HoldProduce(node int32) *Hold {
	h := &Hold{release: make(chan struct{})}
	k.c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		select {
		case <-h.release:
			k.c.DropControl()
			return nil, nil, false
		default:
		}
		if k.c.CurrentNode() != node {
			return nil, nil, false
		}
		h.held.Add(1)
		k.c.SleepControl(func() { <-h.release })
		return nil, nil, false // handled normally once released
	})
	return h
}

// produceErrors are the errors FailProduce can answer with: what a broker
// answers while a leader moves or its followers lag.
var produceErrors = map[string]*kerr.Error{
	"NOT_LEADER_FOR_PARTITION": kerr.NotLeaderForPartition,
	"REQUEST_TIMED_OUT":        kerr.RequestTimedOut,
	"LEADER_NOT_AVAILABLE":     kerr.LeaderNotAvailable,
	"NOT_ENOUGH_REPLICAS":      kerr.NotEnoughReplicas,
}

// FailProduce answers produce requests with the Kafka error named code for
// the duration d, replacing an earlier window. A fraction below 1 fails
// only that share of requests (chosen at random per request), the rest
// are served. As a real broker does, REQUEST_TIMED_OUT still appends the
// records (the replication wait timed out, not the write); the other
// errors reject them.
func (k *Kafka) FailProduce(code string, d time.Duration, fraction float64) error {
	e, ok := produceErrors[code]
	if !ok {
		names := make([]string, 0, len(produceErrors))
		for n := range produceErrors {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("produce error %q: want one of %s", code, strings.Join(names, ", "))
	}
	if d <= 0 {
		return fmt.Errorf("produce error window %v: want a positive duration", d)
	}
	if fraction <= 0 || fraction > 1 {
		return fmt.Errorf("produce error fraction %v: want a value in (0, 1]", fraction)
	}
	f := kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: e, Count: -1}
	if fraction < 1 {
		f.When = func(kmsg.Request) bool { return rand.Float64() < fraction }
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.clearFaultLocked()
	h := k.c.Fault(f)
	k.produceFault, k.lastFault = h, h
	k.faultTimer = time.AfterFunc(d, func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.produceFault == h {
			k.clearFaultLocked()
		}
	})
	return nil
}

// ClearProduceFault ends FailProduce's window now.
func (k *Kafka) ClearProduceFault() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.clearFaultLocked()
}

func (k *Kafka) clearFaultLocked() {
	if k.faultTimer != nil {
		k.faultTimer.Stop()
		k.faultTimer = nil
	}
	if k.produceFault != nil {
		k.produceFault.Remove()
		k.produceFault = nil
	}
}

// ProduceFaultHits is how many produce requests the current or last
// window failed.
func (k *Kafka) ProduceFaultHits() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.lastFault == nil {
		return 0
	}
	return k.lastFault.Hits()
}

// Close stops the broker, persisting its state when it has a DataDir.
// Safe to call twice.
func (k *Kafka) Close() {
	if k.c != nil {
		if k.ctl != nil {
			_ = k.ctl.Close()
		}
		close(k.stop)
		<-k.done
		k.ClearProduceFault()
		k.c.Close()
		k.c = nil
	}
}
