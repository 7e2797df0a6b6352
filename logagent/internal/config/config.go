// Package config holds the agent's ini settings: defaults, loading with
// LOGAGENT_<SECTION>_<KEY> environment overrides, and validation that names
// the section, key, bad value and what is accepted.
package config

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/pathglob"
	"github.com/logcollect/logcollect/pkg/etcdconf"
	"github.com/logcollect/logcollect/pkg/fleet"
	"github.com/logcollect/logcollect/pkg/kafkaconf"
	"github.com/logcollect/logcollect/pkg/logging"
	"github.com/logcollect/logcollect/pkg/record"
	"github.com/logcollect/logcollect/pkg/settings"
)

// EnvPrefix prefixes environment overrides: LOGAGENT_KAFKA_BROKERS, ...
const EnvPrefix = "LOGAGENT"

// Config is the whole ini file.
type Config struct {
	Kafka Kafka
	Etcd  Etcd
	Agent Agent
	Log   logging.Settings

	Kubernetes Kubernetes // [kubernetes] (kubernetes.go)
}

// Kafka configures the producer.
type Kafka struct {
	Client          kafkaconf.Settings // brokers, version, client_id, tls_*, sasl_* (shared with logtransfer)
	ChanMaxSize     int                // records in flight between the files and Kafka; full → tailing pauses
	RequiredAcks    string             // all, leader, none
	Compression     string             // none, gzip, snappy, lz4, zstd
	MaxMessageBytes int
	Idempotent      bool
	// MaxInflightBytes bounds the bytes of records read and not yet
	// acknowledged; full → tailing pauses. Default: InflightBytesFor.
	MaxInflightBytes int64
	// DeadLetterMaxBytes caps data_dir/dead-letter.ndjson; past it the
	// file is rotated, DeadLetterFiles rotated files are kept.
	DeadLetterMaxBytes int64
	DeadLetterFiles    int
}

// InflightBytesFor is the default max_inflight_bytes: a quarter of
// memory_limit (the producer also holds an encoded copy of what it sends, and
// the GC needs room), or 64MiB without a limit.
func InflightBytesFor(memoryLimit int64) int64 {
	if memoryLimit <= 0 {
		return 64 << 20
	}
	return memoryLimit / 4
}

// Etcd configures where the collect config comes from.
type Etcd struct {
	etcdconf.Settings        // endpoints, dial_timeout, username, password, tls_* (shared with logtransfer)
	CollectLogKey     string // with %s for the agent's IP
	StatusKey         string // with %s for the agent's IP; "" derives it from CollectLogKey
	StatusTTL         time.Duration
	StatusInterval    time.Duration // how often the status is checked for changes (and rewritten while a rollout candidate runs)
	StatusRefresh     time.Duration // how often lag alone is rewritten
	StatusSpread      time.Duration // a write after a config change waits a random part of this
}

// Agent configures the agent itself.
type Agent struct {
	DataDir             string
	IP                  string
	HostID              string   // the identity event ids hash; "" keeps the one in data_dir/host_id
	Groups              []string // fleet groups whose collect configs the agent runs too, in precedence order
	Hostname            string
	HTTPListen          string
	AllowedPaths        []string
	AllowJournal        bool   // journald entries may read the system journal (without directory/file)
	Journalctl          string // the journalctl binary for journald entries; never from the collect config
	ScanInterval        time.Duration
	PollInterval        time.Duration // how often each open file is checked for growth (nxadm/tail's polling watcher)
	CloseInactive       time.Duration
	PartialFlushTimeout time.Duration
	ShutdownTimeout     time.Duration
	CheckpointInterval  time.Duration
	CheckpointRetention time.Duration
	MemoryLimit         int64 // Go's soft memory limit (bytes; 0 = none)
}

// CollectPolicy is what this host lets a remote collect config read
// (allowed_paths, allow_journal).
func (a Agent) CollectPolicy() collect.Policy {
	return collect.Policy{AllowedPaths: a.AllowedPaths, AllowJournal: a.AllowJournal}
}

// Default is the configuration of an empty ini file.
func Default() Config {
	c := Config{
		Kafka: Kafka{
			Client:          kafkaconf.Defaults("logagent"),
			ChanMaxSize:     5000,
			RequiredAcks:    "all",
			Compression:     "none",
			MaxMessageBytes: 1000000,
			// MaxInflightBytes follows Agent.MemoryLimit (below).
			DeadLetterMaxBytes: 64 << 20,
			DeadLetterFiles:    1,
		},
		Etcd: Etcd{
			Settings:       etcdconf.Settings{Endpoints: []string{"127.0.0.1:2379"}, DialTimeout: etcdconf.DefaultDialTimeout},
			CollectLogKey:  fleet.DefaultCollectPattern,
			StatusTTL:      15 * time.Second,
			StatusInterval: 5 * time.Second,
			StatusRefresh:  2 * time.Minute,
			StatusSpread:   2 * time.Second,
		},
		Agent: Agent{
			DataDir:             "/var/lib/logagent",
			HTTPListen:          "127.0.0.1:9101",
			AllowedPaths:        []string{"/var/log/**"},
			AllowJournal:        true,
			Journalctl:          "journalctl",
			ScanInterval:        5 * time.Second,
			PollInterval:        time.Second,
			CloseInactive:       5 * time.Minute,
			PartialFlushTimeout: 5 * time.Second,
			ShutdownTimeout:     10 * time.Second,
			CheckpointInterval:  time.Second,
			CheckpointRetention: 7 * 24 * time.Hour,
			MemoryLimit:         48 << 20,
		},
		Log:        logging.DefaultSettings(),
		Kubernetes: defaultKubernetes(),
	}
	c.Kafka.MaxInflightBytes = InflightBytesFor(c.Agent.MemoryLimit)
	return c
}

// Load reads path (with environment overrides) over Default and validates
// it. Warnings are notes that do not stop start-up (an alias shadowed by the
// new key).
func Load(path string) (Config, []string, error) {
	f, err := settings.Load(path, EnvPrefix)
	if err != nil {
		return Config{}, nil, err
	}
	return FromSettings(f)
}

// FromSettings reads every key from f; tests pass a settings.Parse result.
func FromSettings(f *settings.File) (Config, []string, error) {
	c := Default()
	const hour, day = time.Hour, 24 * time.Hour

	k := &c.Kafka
	k.Client = kafkaconf.Read(f, "kafka", "logagent")
	k.ChanMaxSize = f.Int("kafka", "chan_max_size", k.ChanMaxSize, 1, 1_000_000)
	k.RequiredAcks = f.Enum("kafka", "required_acks", k.RequiredAcks, []string{"all", "leader", "none"})
	k.Compression = f.Enum("kafka", "compression", k.Compression, []string{"none", "gzip", "snappy", "lz4", "zstd"})
	k.MaxMessageBytes = int(f.Size("kafka", "max_message_bytes", int64(k.MaxMessageBytes), 1024, 100<<20))
	k.Idempotent = f.Bool("kafka", "idempotent", k.Idempotent)
	k.DeadLetterMaxBytes = f.Size("kafka", "dead_letter_max_bytes", k.DeadLetterMaxBytes, 4<<10, 1<<40)
	k.DeadLetterFiles = f.Int("kafka", "dead_letter_files", k.DeadLetterFiles, 0, 100)

	e := &c.Etcd
	e.Settings = etcdconf.Read(f, "etcd", e.Settings)
	e.CollectLogKey = f.String("etcd", "collect_log_key", e.CollectLogKey)
	if !fleet.OnePlaceholder(e.CollectLogKey) {
		f.Check("etcd", "collect_log_key", e.CollectLogKey, errors.New("a key with exactly one %s for the agent's IP, like /logagent/%s/collect_config"))
	}
	readStatus(f, e)

	a := &c.Agent
	a.DataDir = f.String("agent", "data_dir", a.DataDir)
	a.IP = f.String("agent", "ip", "")
	a.HostID = f.String("agent", "host_id", "")
	a.Hostname = f.String("agent", "hostname", "")
	a.Groups = f.Strings("agent", "groups", nil)
	checkGroups(f, a.Groups)
	a.HTTPListen = f.String("agent", "http_listen", a.HTTPListen)
	a.AllowedPaths = f.Strings("agent", "allowed_paths", a.AllowedPaths)
	a.AllowJournal = f.Bool("agent", "allow_journal", a.AllowJournal)
	a.Journalctl = f.String("agent", "journalctl", a.Journalctl)
	a.ScanInterval = f.Duration("agent", "scan_interval", a.ScanInterval, time.Second, 50*time.Millisecond, hour)
	a.PollInterval = f.Duration("agent", "poll_interval", a.PollInterval, time.Second, 10*time.Millisecond, time.Minute)
	a.CloseInactive = f.Duration("agent", "close_inactive", a.CloseInactive, time.Second, 100*time.Millisecond, day)
	a.PartialFlushTimeout = f.Duration("agent", "partial_flush_timeout", a.PartialFlushTimeout, time.Second, 10*time.Millisecond, hour)
	a.ShutdownTimeout = f.Duration("agent", "shutdown_timeout", a.ShutdownTimeout, time.Second, 0, hour)
	a.CheckpointInterval = f.Duration("agent", "checkpoint_interval", a.CheckpointInterval, time.Second, 10*time.Millisecond, time.Minute)
	a.CheckpointRetention = f.Duration("agent", "checkpoint_retention", a.CheckpointRetention, time.Second, time.Minute, 3650*day)
	a.MemoryLimit = f.Size("agent", "memory_limit", a.MemoryLimit, 0, 1<<40)
	if a.MemoryLimit > 0 && a.MemoryLimit < 16<<20 {
		f.Check("agent", "memory_limit", f.Written("agent", "memory_limit", fmt.Sprint(a.MemoryLimit)), errors.New("0 (no limit) or at least 16MiB"))
	}
	k.MaxInflightBytes = f.Size("kafka", "max_inflight_bytes", InflightBytesFor(a.MemoryLimit), 64<<10, 1<<40)
	if a.MemoryLimit > 0 && k.MaxInflightBytes > a.MemoryLimit/2 {
		f.Check("kafka", "max_inflight_bytes", f.Written("kafka", "max_inflight_bytes", fmt.Sprint(k.MaxInflightBytes)),
			fmt.Errorf("at most half of [agent] memory_limit (%d bytes); leave it unset for a quarter, or raise memory_limit", a.MemoryLimit))
	}
	if a.DataDir == "" {
		f.Check("agent", "data_dir", a.DataDir, errors.New("a writable directory for checkpoints and the last good collect config"))
	}
	if a.IP != "" && net.ParseIP(a.IP) == nil {
		f.Check("agent", "ip", a.IP, errors.New("an IPv4 or IPv6 address, or empty to detect the outbound address"))
	}
	if a.HostID != "" {
		if err := record.CheckHostID(a.HostID); err != nil {
			f.Check("agent", "host_id", a.HostID, fmt.Errorf("up to %d printable ASCII characters without spaces, unique per host, or empty to keep the generated one in data_dir/host_id (%w)", record.MaxHostIDLen, err))
		}
	}
	for _, p := range a.AllowedPaths {
		f.Check("agent", "allowed_paths", p, pathglob.Validate(p))
	}
	if len(a.AllowedPaths) == 0 {
		f.Check("agent", "allowed_paths", "", errors.New("at least one absolute glob such as /var/log/**"))
	}
	if a.HTTPListen != "" {
		if _, _, err := net.SplitHostPort(a.HTTPListen); err != nil {
			f.Check("agent", "http_listen", a.HTTPListen, errors.New("host:port such as 127.0.0.1:9101, or empty to disable"))
		}
	}

	c.Log = logging.Read(f, c.Log)
	c.Kubernetes = readKubernetes(f)

	if len(k.Client.Brokers) == 0 {
		f.Check("kafka", "brokers", "", errors.New("at least one host:port"))
	}
	if len(e.Endpoints) == 0 {
		f.Check("etcd", "endpoints", "", errors.New("at least one host:port or URL"))
	}
	if err := f.Err(); err != nil {
		return Config{}, f.Warnings(), err
	}
	return c, f.Warnings(), nil
}

// CollectKey is the etcd key of this agent's collect config.
func (c Config) CollectKey(ip string) string { return fmt.Sprintf(c.Etcd.CollectLogKey, ip) }
