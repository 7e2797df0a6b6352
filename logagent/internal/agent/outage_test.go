package agent

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/devkit/testkit"
	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
)

// Kafka down for ~10 s: the bounded queue fills, reading pauses, nothing is
// checkpointed past what Kafka acknowledged, and delivery resumes by itself
// with no line lost.
func TestKafkaOutage(t *testing.T) {
	s := newStack(t)
	kdir := t.TempDir()
	s.kafka.Close()
	port, err := testkit.RestartablePort()
	if err != nil {
		t.Fatal(err)
	}
	k := testkit.StartKafka(t, testkit.KafkaOptions{AutoCreateTopics: true, DataDir: kdir, Port: port})
	s.kafka = k
	t.Cleanup(func() { s.kafka.Close() })
	s.cfg.Kafka.Client.Brokers = []string{k.Addr()}
	s.cfg.Kafka.ChanMaxSize = 50
	a, _ := s.run(t)
	log := filepath.Join(s.dir, "o.log")
	s.put(t, `[{"path":"DIR/o.log","topic":"topic_o","start":"beginning"}]`)
	want := writeLines(t, log, "before", 1, 20)
	rs := kt.WaitFor(t, k.Addr(), "topic_o", 15*time.Second, func(rs []kt.Record) bool { return contains(rs, want) })
	if !contains(rs, want) {
		t.Fatalf("before outage: %q", kt.Messages(rs))
	}

	k.Close()
	down := time.Now()
	want = append(want, writeLines(t, log, "during", 1, 500)...)
	// Backpressure: at most chan_max_size records wait; the rest stay unread.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if q := testutil.ToFloat64(a.m.QueueDepth); q > 50 {
			t.Fatalf("queue depth %v exceeds chan_max_size 50", q)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if read := testutil.ToFloat64(a.m.LinesRead); read > 20+50 {
		t.Fatalf("read %v lines while Kafka was down; want at most 20 + chan_max_size", read)
	}
	t.Logf("kafka down for %s", time.Since(down))

	k2 := testkit.StartKafka(t, testkit.KafkaOptions{AutoCreateTopics: true, DataDir: kdir, Port: port})
	s.kafka = k2
	want = append(want, writeLines(t, log, "after", 1, 20)...)
	rs = kt.WaitFor(t, k2.Addr(), "topic_o", 60*time.Second, func(rs []kt.Record) bool { return contains(rs, want) })
	if !contains(rs, want) {
		t.Fatalf("after outage: %d records, missing some of %d lines", len(rs), len(want))
	}
	checkSameIDs(t, rs)
}

// checkSameIDs fails when a line was delivered twice with different event ids.
func checkSameIDs(t *testing.T, rs []kt.Record) {
	t.Helper()
	ids := map[string]string{}
	dups := 0
	for _, r := range rs {
		if id, ok := ids[r.Message]; ok {
			dups++
			if id != r.EventID {
				t.Fatalf("line %q delivered twice with different event ids", r.Message)
			}
		}
		ids[r.Message] = r.EventID
	}
	t.Logf("%d records, %d duplicates (same event id)", len(rs), dups)
}

// etcd lost while running: collection goes on, and a change made after
// etcd is back is applied (the watch reconnects and catches up).
func TestEtcdLostWhileRunning(t *testing.T) {
	s := newStack(t)
	edir := t.TempDir()
	s.etcd.Close()
	port, err := testkit.RestartablePort()
	if err != nil {
		t.Fatal(err)
	}
	e := testkit.StartEtcd(t, testkit.EtcdOptions{Dir: edir, Port: port})
	s.etcd = e
	t.Cleanup(func() { s.etcd.Close() })
	s.cli.Close()
	s.cli = kt.EtcdClient(t, clientv3.Config{Endpoints: []string{e.Endpoint()}})
	s.cfg.Etcd.Endpoints = []string{e.Endpoint()}
	s.cfg.Etcd.DialTimeout = time.Second
	s.run(t)
	s.put(t, `[{"path":"DIR/e.log","topic":"topic_e","start":"beginning"}]`)
	waitLog(t, s, "task started")

	e.Close()
	want := writeLines(t, filepath.Join(s.dir, "e.log"), "etcd-down", 1, 5)
	rs := kt.WaitFor(t, s.kafka.Addr(), "topic_e", 15*time.Second, func(rs []kt.Record) bool { return contains(rs, want) })
	if !contains(rs, want) {
		t.Fatalf("not collecting while etcd is down: %q", kt.Messages(rs))
	}
	e2 := testkit.StartEtcd(t, testkit.EtcdOptions{Dir: edir, Port: port})
	s.etcd = e2
	s.put(t, `[{"path":"DIR/e.log","topic":"topic_e","start":"beginning"},{"path":"DIR/f.log","topic":"topic_f","start":"beginning"}]`)
	wantF := writeLines(t, filepath.Join(s.dir, "f.log"), "after-etcd-back", 1, 3)
	rs = kt.WaitFor(t, s.kafka.Addr(), "topic_f", 30*time.Second, func(rs []kt.Record) bool { return contains(rs, wantF) })
	if !contains(rs, wantF) {
		t.Fatalf("change after etcd came back not applied: %q", kt.Messages(rs))
	}
}
