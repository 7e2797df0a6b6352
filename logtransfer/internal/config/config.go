// Package config holds logtransfer's settings: their defaults, how they are
// read from the ini file and the environment (LOGTRANSFER_<SECTION>_<KEY>),
// and their validation. Every problem is reported at once, naming the
// section, key, value and what is accepted.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/logcollect/logcollect/pkg/etcdconf"
	"github.com/logcollect/logcollect/pkg/fleet"
	"github.com/logcollect/logcollect/pkg/kafkaconf"
	"github.com/logcollect/logcollect/pkg/logging"
	"github.com/logcollect/logcollect/pkg/redact"
	"github.com/logcollect/logcollect/pkg/settings"
	"github.com/logcollect/logcollect/pkg/tlsconf"

	"github.com/logcollect/logcollect/logtransfer/internal/document"
)

// EnvPrefix prefixes the environment overrides: LOGTRANSFER_ES_URLS, ...
const EnvPrefix = "LOGTRANSFER"

// Balance strategies accepted in [kafka] balance_strategy.
var BalanceStrategies = []string{"range", "roundrobin", "sticky", "cooperative-sticky"}

// Config is the whole of logtransfer's settings.
type Config struct {
	Kafka    Kafka
	ES       ES
	Transfer Transfer
	Etcd     Etcd
	Log      logging.Settings
}

// Etcd is [etcd]: where the console reads the fleet (agents' statuses,
// group configs, rollouts). Optional: without endpoints the console shows
// search and delivery only. The user should be read-only on the agents'
// keys (docs/console.md); rollout abort asks the operator for credentials.
type Etcd struct {
	etcdconf.Settings        // endpoints, dial_timeout, username, password, tls_*
	CollectLogKey     string // the agents' collect_log_key (fleet keys derive from it)
	StatusKey         string // the agents' status_key; "" derives it as the agents do
}

// Enabled tells whether the fleet pages have an etcd to read.
func (e Etcd) Enabled() bool { return len(e.Endpoints) > 0 }

// StatusKeyPattern is where the agents publish their status.
func (e Etcd) StatusKeyPattern() string { return fleet.StatusKeyPattern(e.CollectLogKey, e.StatusKey) }

// Kafka is [kafka].
type Kafka struct {
	Client kafkaconf.Settings // brokers, version, client_id, tls_*, sasl_*, topic_refresh_interval

	Topics            []string
	TopicPattern      *regexp.Regexp // nil when unset (re-evaluated every Client.TopicRefreshInterval)
	GroupID           string
	InitialOffset     string // "oldest" or "newest"
	BalanceStrategy   string
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	RebalanceTimeout  time.Duration
	CommitInterval    time.Duration
}

// ES is [es].
type ES struct {
	URLs     []string
	Username string
	Password string
	TLS      tlsconf.Files
	Sniff    bool

	IndexPrefix     string
	IndexPattern    string
	DeadLetterIndex string
	InstallTemplate bool

	Workers       int
	BulkActions   int
	BulkBytes     int64
	FlushInterval time.Duration
	RetryMin      time.Duration
	RetryMax      time.Duration
	Timeout       time.Duration
}

// Transfer is [transfer].
type Transfer struct {
	ChanMaxSize      int
	MaxInflightBytes int64
	HTTPListen       string
	DrainTimeout     time.Duration
	ShutdownTimeout  time.Duration
	// ForeignJSON is how a JSON object without event.id is indexed.
	ForeignJSON document.ForeignJSON
}

// Default is the configuration of an empty ini file.
func Default() Config {
	return Config{
		Kafka: Kafka{
			Client:            kafkaconf.Defaults("logtransfer"),
			GroupID:           "logtransfer",
			InitialOffset:     "oldest",
			BalanceStrategy:   "range",
			SessionTimeout:    10 * time.Second,
			HeartbeatInterval: 3 * time.Second,
			RebalanceTimeout:  60 * time.Second,
			CommitInterval:    time.Second,
		},
		ES: ES{
			URLs:            []string{"http://127.0.0.1:9200"},
			IndexPrefix:     "logcollect",
			IndexPattern:    document.DefaultIndexPattern,
			InstallTemplate: true,
			Workers:         min(runtime.NumCPU(), 4),
			BulkActions:     1000,
			BulkBytes:       5 << 20,
			FlushInterval:   200 * time.Millisecond, // a batch that does not fill must not add a second to write→searchable
			RetryMin:        200 * time.Millisecond,
			RetryMax:        30 * time.Second,
			Timeout:         30 * time.Second,
		},
		Transfer: Transfer{
			ChanMaxSize: 10000,
			// Small records are bounded by chan_max_size long before this;
			// 1 MB records would otherwise hold 10 GB.
			MaxInflightBytes: 64 << 20,
			HTTPListen:       "127.0.0.1:9102",
			DrainTimeout:     15 * time.Second,
			ShutdownTimeout:  30 * time.Second,
			ForeignJSON:      document.ForeignJSONMessage,
		},
		Etcd: Etcd{Settings: etcdconf.Settings{DialTimeout: etcdconf.DefaultDialTimeout}, CollectLogKey: fleet.DefaultCollectPattern},
		Log:  logging.DefaultSettings(),
	}
}

// Load reads the ini file at path with environment overrides. It returns
// the configuration, warnings that do not stop start-up (an alias shadowed
// by its canonical key), and an error listing every bad setting.
func Load(path string) (Config, []string, error) {
	f, err := settings.Load(path, EnvPrefix)
	if err != nil {
		return Config{}, nil, err
	}
	return FromFile(f)
}

// Parse is Load on bytes; lookupEnv may be nil (no environment).
func Parse(path string, data []byte, lookupEnv func(string) (string, bool)) (Config, []string, error) {
	f, err := settings.Parse(path, data, EnvPrefix, lookupEnv)
	if err != nil {
		return Config{}, nil, err
	}
	return FromFile(f)
}

// FromFile reads every setting from f, then validates the whole.
func FromFile(f *settings.File) (Config, []string, error) {
	c := Default()
	var warnings []string

	k := &c.Kafka
	k.Client = kafkaconf.Read(f, "kafka", "logtransfer")
	k.Topics = f.Strings("kafka", "topics", nil, "topic")
	if p := f.String("kafka", "topic_pattern", ""); p != "" {
		// Anchored: "web_.*" must not match "old_web_x" by accident.
		re, err := regexp.Compile("^(?:" + p + ")$")
		f.Check("kafka", "topic_pattern", p, wrapWant(err, "a Go regular expression (RE2), matched against whole topic names"))
		k.TopicPattern = re
	}
	k.GroupID = f.String("kafka", "group_id", k.GroupID)
	k.InitialOffset = f.Enum("kafka", "initial_offset", k.InitialOffset, []string{"oldest", "newest"})
	k.BalanceStrategy = f.Enum("kafka", "balance_strategy", k.BalanceStrategy, BalanceStrategies)
	k.SessionTimeout = f.Duration("kafka", "session_timeout", k.SessionTimeout, time.Second, time.Second, 30*time.Minute)
	k.HeartbeatInterval = f.Duration("kafka", "heartbeat_interval", k.HeartbeatInterval, time.Second, 100*time.Millisecond, 10*time.Minute)
	k.RebalanceTimeout = f.Duration("kafka", "rebalance_timeout", k.RebalanceTimeout, time.Second, time.Second, 30*time.Minute)
	k.CommitInterval = f.Duration("kafka", "commit_interval", k.CommitInterval, time.Second, 10*time.Millisecond, time.Hour)

	e := &c.ES
	e.URLs = f.Strings("es", "urls", e.URLs, "address")
	for i, u := range e.URLs {
		norm, err := NormalizeURL(u)
		f.Check("es", "urls", redact.URL(u), err)
		e.URLs[i] = norm
	}
	e.Username = f.String("es", "username", "")
	e.Password = f.Secret("es", "password")
	e.TLS = tlsconf.Read(f, "es", "")
	e.Sniff = f.Bool("es", "sniff", e.Sniff)
	e.IndexPrefix = strings.ToLower(f.String("es", "index_prefix", e.IndexPrefix))
	f.Check("es", "index_prefix", e.IndexPrefix, document.CheckIndexName(e.IndexPrefix))
	e.IndexPattern = f.String("es", "index_pattern", e.IndexPattern)
	if _, err := document.CompileIndexPattern(e.IndexPattern, e.IndexPrefix); err != nil {
		f.Check("es", "index_pattern", e.IndexPattern, err)
	}
	e.DeadLetterIndex = strings.ToLower(f.String("es", "dead_letter_index", e.IndexPrefix+"-dead-letter"))
	f.Check("es", "dead_letter_index", e.DeadLetterIndex, document.CheckIndexName(e.DeadLetterIndex))
	e.InstallTemplate = f.Bool("es", "install_template", e.InstallTemplate)
	e.Workers = f.Int("es", "workers", e.Workers, 1, 256)
	e.BulkActions = f.Int("es", "bulk_actions", e.BulkActions, 1, 100000)
	e.BulkBytes = f.Size("es", "bulk_bytes", e.BulkBytes, 1<<10, 1<<30)
	e.FlushInterval = f.Duration("es", "flush_interval", e.FlushInterval, time.Second, time.Millisecond, time.Hour)
	e.RetryMin = f.Duration("es", "retry_backoff_min", e.RetryMin, time.Second, time.Millisecond, time.Hour)
	e.RetryMax = f.Duration("es", "retry_backoff_max", e.RetryMax, time.Second, time.Millisecond, 24*time.Hour)
	e.Timeout = f.Duration("es", "timeout", e.Timeout, time.Second, 100*time.Millisecond, time.Hour)

	t := &c.Transfer
	// The tutorial put chan_max_size under [es]; [transfer] is where it
	// belongs now, and it wins when both are set.
	t.ChanMaxSize = f.Int("transfer", "chan_max_size", -1, 1, 10_000_000)
	if alias := f.Int("es", "chan_max_size", -1, 1, 10_000_000); alias > 0 {
		if t.ChanMaxSize > 0 {
			warnings = append(warnings, "[transfer] chan_max_size and the tutorial's [es] chan_max_size are both set; [transfer] chan_max_size wins")
		} else {
			t.ChanMaxSize = alias
		}
	}
	if t.ChanMaxSize <= 0 {
		t.ChanMaxSize = Default().Transfer.ChanMaxSize
	}
	t.MaxInflightBytes = f.Size("transfer", "max_inflight_bytes", t.MaxInflightBytes, 64<<10, 1<<40)
	t.HTTPListen = f.String("transfer", "http_listen", t.HTTPListen)
	if t.HTTPListen != "" {
		_, _, err := net.SplitHostPort(t.HTTPListen)
		f.Check("transfer", "http_listen", t.HTTPListen, wrapWant(err, `host:port like "127.0.0.1:9102", or empty to disable`))
	}
	t.DrainTimeout = f.Duration("transfer", "drain_timeout", t.DrainTimeout, time.Second, 0, time.Hour)
	t.ShutdownTimeout = f.Duration("transfer", "shutdown_timeout", t.ShutdownTimeout, time.Second, time.Second, time.Hour)
	t.ForeignJSON = document.ForeignJSON(f.Enum("transfer", "foreign_json", string(t.ForeignJSON), document.ForeignJSONModes))

	et := &c.Etcd
	et.Settings = etcdconf.Read(f, "etcd", et.Settings)
	et.CollectLogKey = f.String("etcd", "collect_log_key", et.CollectLogKey)
	if !fleet.OnePlaceholder(et.CollectLogKey) {
		f.Check("etcd", "collect_log_key", et.CollectLogKey, errors.New("the agents' collect_log_key: exactly one %s, like /logagent/%s/collect_config"))
	}
	et.StatusKey = f.String("etcd", "status_key", "")
	if et.StatusKey != "" && !fleet.OnePlaceholder(et.StatusKey) {
		f.Check("etcd", "status_key", et.StatusKey, errors.New("the agents' status_key: exactly one %s, or empty to derive it from collect_log_key"))
	}

	c.Log = logging.Read(f, c.Log)

	// Cross-key rules, recorded against the key the operator should change.
	if len(k.Topics) == 0 && k.TopicPattern == nil {
		f.Check("kafka", "topics", "", errors.New("at least one topic, or a topic_pattern"))
	}
	for _, topic := range k.Topics {
		var te *kafkaconf.TopicError
		if errors.As(kafkaconf.CheckTopic(topic), &te) {
			f.Check("kafka", "topics", topic, errors.New("a valid Kafka topic name ("+te.Problem+")"))
		}
	}
	if k.HeartbeatInterval*3 > k.SessionTimeout {
		f.Check("kafka", "heartbeat_interval", k.HeartbeatInterval.String(),
			fmt.Errorf("at most a third of session_timeout (%s), so a missed heartbeat does not end the session", k.SessionTimeout))
	}
	if t.DrainTimeout >= k.RebalanceTimeout {
		f.Check("transfer", "drain_timeout", t.DrainTimeout.String(),
			fmt.Errorf("less than [kafka] rebalance_timeout (%s), or the group evicts this member while it drains", k.RebalanceTimeout))
	}
	if t.DrainTimeout >= t.ShutdownTimeout {
		f.Check("transfer", "drain_timeout", t.DrainTimeout.String(), fmt.Errorf("less than shutdown_timeout (%s)", t.ShutdownTimeout))
	}
	if e.RetryMin > e.RetryMax {
		f.Check("es", "retry_backoff_min", e.RetryMin.String(), fmt.Errorf("at most retry_backoff_max (%s)", e.RetryMax))
	}

	warnings = append(warnings, f.Warnings()...)
	if err := f.Err(); err != nil {
		return Config{}, warnings, err
	}
	return c, warnings, nil
}

func wrapWant(err error, want string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s (%v)", want, err)
}

// NormalizeURL accepts the tutorial's "127.0.0.1:9200" as well as a full
// URL, and returns a URL with a scheme and no trailing slash.
func NormalizeURL(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return s, errors.New(`an Elasticsearch URL like "http://127.0.0.1:9200" or "https://es:9200"`)
	}
	return strings.TrimRight(u.String(), "/"), nil
}
