package chaos

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/devkit/devstack"
	"github.com/logcollect/logcollect/devkit/proc"
	"github.com/logcollect/logcollect/devkit/testkit"
)

// Binaries are the built programs a cluster runs.
type Binaries struct{ Devstack, Agent, Transfer string }

// Build compiles devstack, logagent and logtransfer into dir.
func Build(ctx context.Context, dir string) (Binaries, error) {
	root, err := testkit.RepoRoot()
	if err != nil {
		return Binaries{}, err
	}
	if err := proc.Build(ctx, root, dir, "./devkit/cmd/devstack", "./logagent/cmd/logagent", "./logtransfer/cmd/logtransfer"); err != nil {
		return Binaries{}, err
	}
	return Binaries{Devstack: filepath.Join(dir, "devstack"), Agent: filepath.Join(dir, "logagent"), Transfer: filepath.Join(dir, "logtransfer")}, nil
}

// Config describes a cluster.
type Config struct {
	Bin        Binaries
	Dir        string // everything lives below: logs, data, checkpoints
	Topic      string // default "chaos"
	Partitions int    // default 4
	// KafkaSyncWrites fsyncs every produce so a SIGKILLed broker keeps every
	// acknowledged record (scenario 4).
	KafkaSyncWrites bool
	// KafkaBrokers is the number of brokers (default 1); partition leaders
	// spread over them and move with ShuffleLeaders.
	KafkaBrokers int
	// AgentDataDir overrides the agent's data_dir (scenario 7 mounts it).
	AgentDataDir string
	// BulkTimeout is the transfer's [es] timeout (default 10s). Under the
	// full load the emulator answered 1,000-document bulks after more than
	// 10 s; a timed-out bulk is retried while the emulator still indexes
	// it, which doubles its work.
	BulkTimeout time.Duration
	// LeanIndex installs a template (above the transfer's) that indexes
	// only what the checker queries (json.f, json.seq, log.offset,
	// log.file.inode); the rest stays in _source. The emulator indexes a
	// few thousand full documents per second once 100,000 writes are
	// unrefreshed (BENCHMARKS.md), too slow for the ~2.7 million lines of
	// scenarios 1 and 2 at full size (in memory, the full documents also
	// took ~11 KB of heap each: the 24 GB machine ran out at 1.4 million).
	// The agent, broker and transfer are unchanged by it.
	LeanIndex bool
	// AgentIni and TransferIni are extra ini lines appended per section,
	// e.g. {"agent": "close_inactive = 5s"}.
	AgentIni, TransferIni map[string]string
	Logf                  func(format string, args ...any)
}

// Part is one process of the dev stack, restartable on its port.
type Part struct {
	Name string
	Port int
	args []string
	c    *Cluster
	mu   sync.Mutex
	p    *proc.Process
	n    int // starts
}

// Service is a logagent or logtransfer process.
type Service struct {
	Name string
	HTTP string // host:port of /metrics
	bin  string
	ini  string
	c    *Cluster
	mu   sync.Mutex
	p    *proc.Process
	n    int
}

// Cluster is the dev stack's parts and the services, all separate processes.
type Cluster struct {
	cfg                 Config
	Etcd, Kafka, ES     *Part
	Endpoints           devstack.Endpoints
	LogDir, AgentData   string
	mu                  sync.Mutex
	services            []*Service
	parts               []*Part
	closed              bool
	agents, transferSeq int
}

// FreePort picks a free TCP port on 127.0.0.1.
//
// Every part is restarted on its port after a kill, while its clients keep
// retrying it, so the port comes from below the ephemeral range (see
// testkit.RestartablePort).
func FreePort() (int, error) { return testkit.RestartablePort() }

// StartCluster starts etcd, the broker and the emulator as three processes.
// Close stops everything; call it (t.Cleanup) even after an error.
func StartCluster(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Topic == "" {
		cfg.Topic = "chaos"
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = 4
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	c := &Cluster{cfg: cfg, LogDir: filepath.Join(cfg.Dir, "logs"), AgentData: cfg.AgentDataDir}
	if c.AgentData == "" {
		c.AgentData = filepath.Join(cfg.Dir, "agent-data")
	}
	for _, d := range []string{c.LogDir, c.AgentData, filepath.Join(cfg.Dir, "service-logs"), filepath.Join(cfg.Dir, "conf")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return c, err
		}
	}
	brokers := max(cfg.KafkaBrokers, 1)
	ports := make([]int, 4+brokers-1) // etcd, kafka, es, kafka control, more brokers
	for i := range ports {
		p, err := FreePort()
		if err != nil {
			return c, err
		}
		ports[i] = p
	}
	stackDir := filepath.Join(cfg.Dir, "stack")
	c.Etcd = &Part{Name: "etcd", Port: ports[0], c: c, args: []string{"-no-kafka", "-no-es", "-etcd-port", fmt.Sprint(ports[0]), "-data-dir", stackDir}}
	kafkaPorts := append([]int{ports[1]}, ports[4:]...)
	var kafkaAddrs, kafkaPortList []string
	for _, p := range kafkaPorts {
		kafkaAddrs = append(kafkaAddrs, fmt.Sprintf("127.0.0.1:%d", p))
		kafkaPortList = append(kafkaPortList, fmt.Sprint(p))
	}
	kafkaArgs := []string{"-no-etcd", "-no-es", "-kafka-port", strings.Join(kafkaPortList, ","), "-kafka-brokers", fmt.Sprint(brokers),
		"-kafka-control", fmt.Sprintf("127.0.0.1:%d", ports[3]), "-data-dir", stackDir, "-topics", fmt.Sprintf("%s:%d", cfg.Topic, cfg.Partitions)}
	if cfg.KafkaSyncWrites {
		kafkaArgs = append(kafkaArgs, "-kafka-sync-writes")
	}
	c.Kafka = &Part{Name: "kafka", Port: ports[1], c: c, args: kafkaArgs}
	// The emulator keeps documents in memory: it is faulted through its
	// admin API, never killed, so it needs no data directory.
	c.ES = &Part{Name: "es", Port: ports[2], c: c, args: []string{"-no-etcd", "-no-kafka", "-es-port", fmt.Sprint(ports[2])}}
	c.parts = []*Part{c.Etcd, c.Kafka, c.ES}
	c.Endpoints = devstack.Endpoints{
		Etcd:          fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		Kafka:         strings.Join(kafkaAddrs, ","),
		KafkaControl:  fmt.Sprintf("http://127.0.0.1:%d", ports[3]),
		Elasticsearch: fmt.Sprintf("http://127.0.0.1:%d", ports[2]),
	}
	for _, p := range c.parts {
		if err := p.Start(ctx); err != nil {
			return c, err
		}
	}
	if cfg.LeanIndex {
		if err := c.esDo(ctx, http.MethodPut, "/_index_template/chaos-lean", leanTemplate(c.Index()), nil); err != nil {
			return c, fmt.Errorf("lean index template: %w", err)
		}
	}
	return c, nil
}

func leanTemplate(pattern string) string {
	long := `{"type":"long"}`
	// log.file.id and log.end_offset too: the delivery audit that ends
	// every scenario finds and orders a file's documents by them.
	return `{"index_patterns":["` + pattern + `"],"priority":150,"template":{"mappings":{"dynamic":false,"properties":{` +
		`"json":{"properties":{"f":` + long + `,"seq":` + long + `}},` +
		`"log":{"properties":{"offset":` + long + `,"end_offset":` + long + `,"file":{"properties":{"inode":` + long + `,"id":{"type":"keyword"}}}}}}}}}`
}

func (c *Cluster) logFile(name string) (*os.File, error) {
	return os.OpenFile(filepath.Join(c.cfg.Dir, "service-logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

// Start starts (or restarts, on the same port and data directory) the part
// and waits until it serves.
func (p *Part) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.p != nil {
		if exited, _ := p.p.Exited(); !exited {
			return fmt.Errorf("%s is running", p.Name)
		}
	}
	epFile := filepath.Join(p.c.cfg.Dir, "stack-"+p.Name+".json")
	_ = os.Remove(epFile)
	log, err := p.c.logFile("devstack-" + p.Name)
	if err != nil {
		return err
	}
	pr, err := proc.Start(proc.Spec{Name: "devstack " + p.Name, Path: p.c.cfg.Bin.Devstack, Args: append(append([]string{}, p.args...), "-endpoints-file", epFile), Log: log})
	if err != nil {
		log.Close()
		return err
	}
	go func() { <-pr.Done(); log.Close() }()
	p.p = pr
	p.n++
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(epFile); err == nil {
			return nil
		}
		if exited, err := pr.Exited(); exited {
			return fmt.Errorf("devstack %s exited (%v):\n%s", p.Name, err, pr.Output())
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("devstack %s did not serve within 60s:\n%s", p.Name, pr.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill SIGKILLs the part.
func (p *Part) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.p != nil {
		p.p.Kill()
	}
}

func (p *Part) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.p != nil {
		_ = p.p.Stop(10 * time.Second)
	}
}

// AgentIP is the IP the agent is configured with (the etcd key).
const AgentIP = "127.0.0.1"

// ConfigKey is the agent's collect config key.
const ConfigKey = "/logagent/" + AgentIP + "/collect_config"

// PutConfig writes the collect config into etcd.
func (c *Cluster) PutConfig(ctx context.Context, value string) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{c.Endpoints.Etcd}, DialTimeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("etcd client: %w", err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, ConfigKey, value); err != nil {
		return fmt.Errorf("put collect config: %w", err)
	}
	return nil
}

func iniText(base map[string][]string, extra map[string]string) string {
	var b strings.Builder
	b.WriteString("# generated by devkit/chaos\n")
	for _, sec := range []string{"kafka", "etcd", "agent", "es", "transfer", "log"} {
		lines, ok := base[sec]
		if !ok && extra[sec] == "" {
			continue
		}
		fmt.Fprintf(&b, "[%s]\n", sec)
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
		if x := extra[sec]; x != "" {
			b.WriteString(x + "\n")
		}
	}
	return b.String()
}

// NewAgent writes an agent ini file and returns the (not yet started)
// agent. Its data_dir is the cluster's AgentData.
func (c *Cluster) NewAgent() (*Service, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.agents++
	name := fmt.Sprintf("logagent-%d", c.agents)
	c.mu.Unlock()
	text := iniText(map[string][]string{
		"kafka": {"brokers = " + c.Endpoints.Kafka},
		"etcd":  {"endpoints = " + c.Endpoints.Etcd, "dial_timeout = 2s", "status_interval = 2s"},
		"agent": {"ip = " + AgentIP, "data_dir = " + c.AgentData, fmt.Sprintf("http_listen = 127.0.0.1:%d", port),
			"allowed_paths = " + c.LogDir + "/**", "scan_interval = 1s", "partial_flush_timeout = 2s", "shutdown_timeout = 5s"},
	}, c.cfg.AgentIni)
	return c.newService(name, c.cfg.Bin.Agent, text, port)
}

// NewTransfer writes a transfer ini file (group "chaos") and returns the
// (not yet started) transfer.
func (c *Cluster) NewTransfer() (*Service, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.transferSeq++
	name := fmt.Sprintf("logtransfer-%d", c.transferSeq)
	c.mu.Unlock()
	text := iniText(map[string][]string{
		// rebalance_timeout + heartbeat_interval < session_timeout: the
		// in-process broker (kfake) expires a member by its session timer
		// while it waits in JoinGroup and never answers that request (real
		// Kafka keeps such a member alive), so with a longer rebalance wait
		// a live transfer hangs until sarama's 30 s read timeout after
		// dead members left the group. See RELIABILITY.md.
		"kafka": {"brokers = " + c.Endpoints.Kafka, "topics = " + c.cfg.Topic, "group_id = chaos", "initial_offset = oldest",
			"session_timeout = 10s", "heartbeat_interval = 2s", "rebalance_timeout = 7s", "commit_interval = 500ms"},
		"es": {"urls = " + c.Endpoints.Elasticsearch, "flush_interval = 200ms", "retry_backoff_max = 2s",
			fmt.Sprintf("timeout = %s", cmp.Or(c.cfg.BulkTimeout, 10*time.Second))},
		"transfer": {fmt.Sprintf("http_listen = 127.0.0.1:%d", port), "drain_timeout = 5s", "shutdown_timeout = 15s"},
		// The console's fleet pages (/ui/) read the agents from etcd.
		"etcd": {"endpoints = " + c.Endpoints.Etcd},
	}, c.cfg.TransferIni)
	return c.newService(name, c.cfg.Bin.Transfer, text, port)
}

func (c *Cluster) newService(name, bin, ini string, port int) (*Service, error) {
	path := filepath.Join(c.cfg.Dir, "conf", name+".ini")
	if err := os.WriteFile(path, []byte(ini), 0o644); err != nil {
		return nil, err
	}
	s := &Service{Name: name, HTTP: fmt.Sprintf("127.0.0.1:%d", port), bin: bin, ini: path, c: c}
	c.mu.Lock()
	c.services = append(c.services, s)
	c.mu.Unlock()
	return s, nil
}

// Start starts the service (again, after a kill).
func (s *Service) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c.isClosed() {
		return errors.New("cluster closed")
	}
	if s.p != nil {
		if exited, _ := s.p.Exited(); !exited {
			return fmt.Errorf("%s is running", s.Name)
		}
	}
	log, err := s.c.logFile(s.Name)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "==== start %d at %s\n", s.n+1, time.Now().Format(time.RFC3339Nano))
	p, err := proc.Start(proc.Spec{Name: s.Name, Path: s.bin, Args: []string{"-config", s.ini}, Log: log})
	if err != nil {
		log.Close()
		return err
	}
	go func() { <-p.Done(); log.Close() }()
	s.p = p
	s.n++
	return nil
}

// Process is the current process (nil before Start).
func (s *Service) Process() *proc.Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p
}

// Kill SIGKILLs the service.
func (s *Service) Kill() {
	if p := s.Process(); p != nil {
		p.Kill()
	}
}

// Stop stops the service with SIGTERM (killed after grace).
func (s *Service) Stop(grace time.Duration) error {
	if p := s.Process(); p != nil {
		return p.Stop(grace)
	}
	return nil
}

// Running reports whether the process runs; if it exited, the error says
// how, with its last output.
func (s *Service) Running() error {
	p := s.Process()
	if p == nil {
		return fmt.Errorf("%s not started", s.Name)
	}
	if exited, err := p.Exited(); exited {
		return fmt.Errorf("%s exited (%v):\n%s", s.Name, err, p.Output())
	}
	return nil
}

// Metrics scrapes the service's /metrics.
func (s *Service) Metrics(ctx context.Context) (testkit.Samples, error) {
	return testkit.Scrape(ctx, "http://"+s.HTTP+"/metrics")
}

// Output is the tail of what the current process printed.
func (s *Service) Output() string {
	if p := s.Process(); p != nil {
		return p.Output()
	}
	return ""
}

// Ready waits until /readyz answers 200.
func (s *Service) Ready(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.HTTP+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if err := s.Running(); err != nil {
			return err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not ready within %v", s.Name, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *Cluster) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Close stops the services (agents first) and then the parts, source
// toward sink. Safe to call twice.
func (c *Cluster) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	svcs := append([]*Service(nil), c.services...)
	c.mu.Unlock()
	for _, s := range svcs {
		s.Kill()
	}
	for _, p := range c.parts {
		if p != nil {
			p.stop()
		}
	}
}

// Fault posts a fault to the emulator's admin API.
func (c *Cluster) Fault(ctx context.Context, body string) error {
	return c.esDo(ctx, http.MethodPost, "/_emulator/faults", body, nil)
}

// ClearFaults removes the emulator's faults.
func (c *Cluster) ClearFaults(ctx context.Context) error {
	return c.esDo(ctx, http.MethodDelete, "/_emulator/faults", "", nil)
}

func (c *Cluster) esDo(ctx context.Context, method, path, body string, out any) error {
	// A refresh after an outage indexes the whole backlog at once: minutes
	// under the full load on a 2-core machine.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	} else {
		rd = strings.NewReader("")
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Endpoints.Elasticsearch+path, rd)
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var b strings.Builder
		_, _ = fmt.Fprint(&b, resp.Status)
		buf := make([]byte, 2048)
		n, _ := resp.Body.Read(buf)
		return fmt.Errorf("%s %s: %s %s", method, path, b.String(), buf[:n])
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// DumpLogs logs the tail of every service log below dir (a failed test's
// evidence); with keep set, it also copies the whole logs to keep/name.
func DumpLogs(logf func(format string, args ...any), dir, keep, name string) {
	logs, _ := filepath.Glob(filepath.Join(dir, "service-logs", "*.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		if keep != "" {
			to := filepath.Join(keep, name)
			if err := os.MkdirAll(to, 0o755); err == nil {
				_ = os.WriteFile(filepath.Join(to, filepath.Base(l)), b, 0o644)
			}
		}
		if len(b) > 6000 {
			b = b[len(b)-6000:]
		}
		logf("---- %s (tail)\n%s", filepath.Base(l), b)
	}
}
