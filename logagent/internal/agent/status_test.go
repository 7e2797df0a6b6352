package agent

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/devkit/testkit"
	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
	"github.com/logcollect/logcollect/pkg/buildinfo"
)

// readStatus returns the agent's status document, or ok=false when the key
// is absent.
func readStatus(t *testing.T, s *stack) (st Status, ok bool) {
	t.Helper()
	st, ok, err := tryReadStatus(t, s)
	if err != nil {
		t.Fatal(err)
	}
	return st, ok
}

func tryReadStatus(t *testing.T, s *stack) (st Status, ok bool, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.cfg.StatusKey("127.0.0.1"))
	if err != nil || len(resp.Kvs) == 0 {
		return Status{}, false, err
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, &st); err != nil {
		t.Fatalf("status is not JSON: %v: %s", err, resp.Kvs[0].Value)
	}
	return st, true, nil
}

// waitStatus polls the status key until cond holds.
func waitStatus(t *testing.T, s *stack, what string, cond func(Status) bool) Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last Status
	for time.Now().Before(deadline) {
		if st, ok, _ := tryReadStatus(t, s); ok { // errors: etcd may be restarting
			if cond(st) {
				return st
			}
			last = st
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := json.MarshalIndent(last, "", " ")
	t.Fatalf("status never showed %s; last:\n%s\nlog:\n%s", what, b, s.logs.String())
	return Status{}
}

func putRev(t *testing.T, s *stack, v string) int64 {
	t.Helper()
	resp, err := s.cli.Put(context.Background(), s.cfg.CollectKey("127.0.0.1"), strings.ReplaceAll(v, "DIR", s.dir))
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

// fastStatus checks the status for changes every 200ms and refreshes lag
// every second (lag alone is not a change worth a write).
func fastStatus(s *stack) {
	s.cfg.Etcd.StatusTTL = 2 * time.Second
	s.cfg.Etcd.StatusInterval = 200 * time.Millisecond
	s.cfg.Etcd.StatusRefresh = time.Second
}

// The status key appears with identity, config state and per-file
// positions; a rejected config shows with its reason and the revision that
// still runs; a clean stop deletes the key at once.
func TestStatusPublished(t *testing.T) {
	s := newStack(t)
	fastStatus(s)
	start := time.Now().UTC().Add(-time.Second)
	_, stop := s.run(t)
	aLog := filepath.Join(s.dir, "a.log")
	good := putRev(t, s, `[{"path":"DIR/*.log","topic":"topic_s","start":"beginning"}]`)
	want := writeLines(t, aLog, "s", 1, 10)
	kt.WaitFor(t, s.kafka.Addr(), "topic_s", 15*time.Second, func(rs []kt.Record) bool { return contains(rs, want) })

	st := waitStatus(t, s, "a.log fully acknowledged", func(st Status) bool {
		return len(st.Files) == 1 && st.Files[0].Size > 0 && st.Files[0].Offset == st.Files[0].Size
	})
	if st.Version != buildinfo.Version || st.Hostname != "test-host" || st.IP != "127.0.0.1" || st.StartedAt.Before(start) || st.UpdatedAt.Before(st.StartedAt) {
		t.Errorf("identity: %+v", st)
	}
	if c := st.Config; c.State != ConfigApplied || c.Revision != good || c.Entries != 1 || c.Source != "etcd" || c.Rejected != nil {
		t.Errorf("config: %+v, want applied revision %d", c, good)
	}
	if f := st.Files[0]; f.Path != aLog || f.Topic != "topic_s" || f.Lag != 0 || !f.Open || st.TotalLag != 0 {
		t.Errorf("file: %+v total lag %d", f, st.TotalLag)
	}
	// The delivery audit's figures: the file's identity in its records and
	// the lines Kafka acknowledged, counted from the file's start.
	if f := st.Files[0]; f.Events != 10 || f.Dropped != 0 || f.CountedSince == nil || *f.CountedSince != 0 || f.Inode == 0 || f.ID == "" {
		t.Errorf("counts: %+v", f)
	}

	bad := putRev(t, s, `[{"path":"DIR/*.log","topic":"web log"}]`)
	st = waitStatus(t, s, "the rejected config", func(st Status) bool { return st.Config.State == ConfigRejected })
	if r := st.Config.Rejected; r == nil || r.Revision != bad || !strings.Contains(r.Reason, `field "topic": "web log" is not a valid Kafka topic name`) {
		t.Errorf("rejected: %+v", r)
	}
	if st.Config.Revision != good || st.Config.Entries != 1 {
		t.Errorf("running config: %+v, want revision %d still running", st.Config, good)
	}
	if st.LastError == nil || st.LastError.Level != "ERROR" || !strings.Contains(st.LastError.Message, "collect config rejected") {
		t.Errorf("last error: %+v", st.LastError)
	}

	// A good config clears the rejection.
	again := putRev(t, s, `[{"path":"DIR/a.log","topic":"topic_s"}]`)
	waitStatus(t, s, "the new config applied", func(st Status) bool {
		return st.Config.State == ConfigApplied && st.Config.Revision == again && st.Config.Rejected == nil
	})

	stop()
	if _, ok := readStatus(t, s); ok {
		t.Fatal("status key still there after a clean stop")
	}
	waitLog(t, s, "fleet status removed")
}

// Lag shows while Kafka is down.
func TestStatusShowsLag(t *testing.T) {
	s := newStack(t)
	fastStatus(s)
	s.run(t)
	putRev(t, s, `[{"path":"DIR/l.log","topic":"topic_l","start":"beginning"}]`)
	want := writeLines(t, filepath.Join(s.dir, "l.log"), "l", 1, 3)
	kt.WaitFor(t, s.kafka.Addr(), "topic_l", 15*time.Second, func(rs []kt.Record) bool { return contains(rs, want) })
	waitStatus(t, s, "no lag", func(st Status) bool { return len(st.Files) == 1 && st.Files[0].Lag == 0 && st.Files[0].Size > 0 })
	s.kafka.Close()
	writeLines(t, filepath.Join(s.dir, "l.log"), "lagging", 1, 20)
	st := waitStatus(t, s, "lag", func(st Status) bool { return st.TotalLag > 0 })
	if f := st.Files[0]; f.Lag != f.Size-f.Offset || f.Lag != st.TotalLag {
		t.Errorf("lag: %+v total %d", f, st.TotalLag)
	}
}

// etcd down for longer than the status TTL: the key expires, collection
// goes on, and the agent grants a new lease and publishes again once etcd
// is back.
func TestStatusAfterEtcdOutage(t *testing.T) {
	s := newStack(t)
	fastStatus(s)
	edir := t.TempDir()
	s.etcd.Close()
	port, err := testkit.RestartablePort()
	if err != nil {
		t.Fatal(err)
	}
	e := testkit.StartEtcd(t, testkit.EtcdOptions{Dir: edir, Port: port})
	t.Cleanup(func() { s.etcd.Close() })
	s.etcd = e
	s.cli.Close()
	s.cli = kt.EtcdClient(t, clientv3.Config{Endpoints: []string{e.Endpoint()}})
	s.cfg.Etcd.Endpoints = []string{e.Endpoint()}
	s.cfg.Etcd.DialTimeout = 500 * time.Millisecond
	s.run(t)
	putRev(t, s, `[{"path":"DIR/o.log","topic":"topic_o","start":"beginning"}]`)
	waitStatus(t, s, "applied", func(st Status) bool { return st.Config.State == ConfigApplied && st.Config.Entries == 1 })

	e.Close()
	want := writeLines(t, filepath.Join(s.dir, "o.log"), "etcd-down", 1, 5)
	rs := kt.WaitFor(t, s.kafka.Addr(), "topic_o", 15*time.Second, func(rs []kt.Record) bool { return contains(rs, want) })
	if !contains(rs, want) {
		t.Fatalf("not collecting while etcd is down: %q", kt.Messages(rs))
	}
	time.Sleep(3 * time.Second) // longer than the TTL
	waitLog(t, s, "fleet status: lease lost; retrying, collection goes on")
	e2 := testkit.StartEtcd(t, testkit.EtcdOptions{Dir: edir, Port: port})
	s.etcd = e2
	back := time.Now().UTC()
	st := waitStatus(t, s, "a fresh status after etcd came back", func(st Status) bool { return st.UpdatedAt.After(back) })
	if st.LastError == nil {
		t.Errorf("last error should tell of the outage: %+v", st)
	}
}
