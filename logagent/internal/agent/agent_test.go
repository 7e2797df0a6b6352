package agent

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/logagent/internal/config"
	"github.com/logcollect/logcollect/logagent/internal/kubemeta"
	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
	"github.com/logcollect/logcollect/pkg/logging"
)

type stack struct {
	etcd  *testkit.Etcd
	kafka *testkit.Kafka
	cli   *clientv3.Client
	dir   string
	cfg   config.Config
	logs  *testkit.Buffer
	kube  kubemeta.Pods // the agent's Kubernetes client when set (kubernetes_test.go)
}

func newStack(t *testing.T) *stack {
	t.Helper()
	st := kt.StartStack(t)
	e, k := st.Etcd, st.Kafka
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Kafka.Client.Brokers = []string{k.Addr()}
	cfg.Etcd.Endpoints = []string{e.Endpoint()}
	cfg.Agent.IP = "127.0.0.1"
	cfg.Agent.Hostname = "test-host"
	cfg.Agent.DataDir = filepath.Join(dir, "data")
	cfg.Agent.HTTPListen = "127.0.0.1:0"
	cfg.Agent.AllowedPaths = []string{dir + "/**"}
	cfg.Agent.ScanInterval = 100 * time.Millisecond
	cfg.Agent.CheckpointInterval = 100 * time.Millisecond
	cfg.Agent.ShutdownTimeout = 5 * time.Second
	return &stack{etcd: e, kafka: k, cli: st.Cli, dir: dir, cfg: cfg, logs: &testkit.Buffer{}}
}

func (s *stack) put(t *testing.T, v string) {
	t.Helper()
	v = strings.ReplaceAll(v, "DIR", s.dir)
	if _, err := s.cli.Put(context.Background(), s.cfg.CollectKey("127.0.0.1"), v); err != nil {
		t.Fatal(err)
	}
}

// run starts an agent and returns a stop function that waits for it.
func (s *stack) run(t *testing.T) (*Agent, func()) {
	t.Helper()
	log, _ := logging.New(s.logs, "debug", "text")
	a, err := newAgent(s.cfg, log, s.kube)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return a, stop
}

func writeLines(t *testing.T, path, prefix string, from, to int) []string {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	for i := from; i <= to; i++ {
		l := fmt.Sprintf("%s line %d", prefix, i)
		fmt.Fprintln(f, l)
		out = append(out, l)
	}
	return out
}

func contains(rs []kt.Record, want []string) bool {
	have := map[string]bool{}
	for _, r := range rs {
		have[r.Message] = true
	}
	for _, w := range want {
		if !have[w] {
			return false
		}
	}
	return true
}

func waitLog(t *testing.T, s *stack, substr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.logs.String(), substr) {
		if time.Now().After(deadline) {
			t.Fatalf("log never said %q; log:\n%s", substr, s.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Config add, change, remove and bad configs through etcd while running.
func TestEtcdReconcile(t *testing.T) {
	s := newStack(t)
	a, _ := s.run(t)
	addr := s.kafka.Addr()
	aLog, bLog := filepath.Join(s.dir, "a.log"), filepath.Join(s.dir, "b.log")
	pre := writeLines(t, aLog, "history", 1, 3)

	// The seed format, unchanged.
	s.put(t, `[{"path":"DIR/a.log","topic":"topic_a"}]`)
	waitLog(t, s, "following file")
	want := writeLines(t, aLog, "a", 1, 5)
	rs := kt.WaitFor(t, addr, "topic_a", 15*time.Second, func(rs []kt.Record) bool { return contains(rs, want) })
	if !contains(rs, want) {
		t.Fatalf("topic_a has %q", kt.Messages(rs))
	}
	if contains(rs, pre[:1]) {
		t.Fatal("start=end default sent history")
	}
	if rs[0].Key == "" || rs[0].EventID == "" || rs[0].Path != aLog {
		t.Fatalf("record shape: %+v", rs[0])
	}

	// Add an entry.
	s.put(t, `[{"path":"DIR/a.log","topic":"topic_a"},{"path":"DIR/b.log","topic":"topic_b","start":"beginning"}]`)
	wantB := writeLines(t, bLog, "b", 1, 3)
	rsB := kt.WaitFor(t, addr, "topic_b", 15*time.Second, func(rs []kt.Record) bool { return contains(rs, wantB) })
	if !contains(rsB, wantB) {
		t.Fatalf("topic_b has %q", kt.Messages(rsB))
	}

	// Bad configs: each rejected with its message; the last good keeps running.
	bad := []struct{ value, want string }{
		{`[{"path":"DIR/a.log","topic":"web log"}]`, `is not a valid Kafka topic name`},
		{`[{"path":"relative.log","topic":"t"}]`, `is relative`},
		{`[{"path":"DIR/a.log","topic":"t","colour":"red"}]`, `field \"colour\": unknown field`},
		{`not json`, `not a JSON array`},
		{`[{"path":"/etc/shadow","topic":"t"}]`, `outside the agent's allowed_paths`},
	}
	for i, b := range bad {
		s.put(t, b.value)
		waitLog(t, s, b.want)
		if got := testutil.ToFloat64(a.m.ConfigReloads.WithLabelValues("rejected")); got != float64(i+1) {
			t.Fatalf("rejected reloads %v, want %d", got, i+1)
		}
	}
	still := writeLines(t, aLog, "still", 1, 2)
	rs = kt.WaitFor(t, addr, "topic_a", 15*time.Second, func(rs []kt.Record) bool { return contains(rs, still) })
	if !contains(rs, still) {
		t.Fatal("last good config stopped running after a bad config")
	}

	// Change an entry (new field) and remove the other: the checkpoint of
	// a.log survives (nothing re-sent), b.log is no longer read.
	before := len(kt.ReadAll(t, addr, "topic_a"))
	s.put(t, `[{"path":"DIR/a.log","topic":"topic_a","fields":{"env":"test"}}]`)
	waitLog(t, s, "tasks stopped")
	time.Sleep(300 * time.Millisecond) // let the new task scan
	writeLines(t, bLog, "b-after-removal", 1, 1)
	after := writeLines(t, aLog, "changed", 1, 2)
	rs = kt.WaitFor(t, addr, "topic_a", 15*time.Second, func(rs []kt.Record) bool { return contains(rs, after) })
	if len(rs) != before+2 {
		t.Fatalf("after the change topic_a grew by %d, want 2 (checkpoint lost?): %q", len(rs)-before, kt.Messages(rs))
	}
	if !strings.Contains(string(rs[len(rs)-1].Value), `"fields":{"env":"test"}`) {
		t.Fatalf("changed entry not applied: %s", rs[len(rs)-1].Value)
	}
	time.Sleep(300 * time.Millisecond)
	if contains(kt.ReadAll(t, addr, "topic_b"), []string{"b-after-removal line 1"}) {
		t.Fatal("removed entry still collected")
	}
	// The metrics are served under their documented names.
	resp, err := http.Get("http://" + a.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"logagent_lines_read_total", "logagent_bytes_read_total", "logagent_records_acked_total",
		"logagent_queue_depth", "logagent_files_open", "logagent_checkpoint_lag_bytes{path=", `logagent_config_reloads_total{result="rejected"} 5`,
		"logagent_checkpoint_save_errors_total 0"} {
		if !strings.Contains(string(body), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	// Checkpoints have been saved (the store runs on a short ticker here).
	if saved, err := testkit.Scrape(context.Background(), "http://"+a.HTTPAddr()+"/metrics"); err != nil || saved["logagent_checkpoint_last_save_timestamp_seconds"] < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("checkpoint save time = %v (%v), want within the last minute", saved["logagent_checkpoint_last_save_timestamp_seconds"], err)
	}
	// The cache holds the last good config for a start without etcd.
	cached, _ := os.ReadFile(filepath.Join(s.cfg.Agent.DataDir, CacheFile))
	if !strings.Contains(string(cached), `"env":"test"`) {
		t.Fatalf("cache: %s", cached)
	}
}

// etcd unreachable at start: the cached config runs; the agent catches up
// when etcd comes back.
func TestEtcdDownAtStartUsesCache(t *testing.T) {
	s := newStack(t)
	os.MkdirAll(s.cfg.Agent.DataDir, 0o755)
	os.WriteFile(filepath.Join(s.cfg.Agent.DataDir, CacheFile), []byte(strings.ReplaceAll(`[{"path":"DIR/c.log","topic":"topic_c","start":"beginning"}]`, "DIR", s.dir)), 0o644)
	s.cfg.Etcd.Endpoints = []string{"127.0.0.1:1"} // nothing listens
	s.cfg.Etcd.DialTimeout = 200 * time.Millisecond
	s.run(t)
	want := writeLines(t, filepath.Join(s.dir, "c.log"), "c", 1, 3)
	rs := kt.WaitFor(t, s.kafka.Addr(), "topic_c", 15*time.Second, func(rs []kt.Record) bool { return contains(rs, want) })
	if !contains(rs, want) {
		t.Fatalf("cached config not run: %q", kt.Messages(rs))
	}
	waitLog(t, s, "read collect config from etcd; retrying")
}
