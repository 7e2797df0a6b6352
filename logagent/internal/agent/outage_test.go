package agent

import (
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
	"github.com/logcollect/logcollect/pkg/devstack"
)

// Kafka down for ~10 s: the bounded queue fills, reading pauses, nothing is
// checkpointed past what Kafka acknowledged, and delivery resumes by itself
// with no line lost.
func TestKafkaOutage(t *testing.T) {
	s := newStack(t)
	kdir := t.TempDir()
	s.kafka.Close()
	k, err := devstack.StartKafka(devstack.KafkaConfig{AutoCreateTopics: true, DataDir: kdir})
	if err != nil {
		t.Fatal(err)
	}
	_, portStr, _ := net.SplitHostPort(k.Addr())
	port, _ := strconv.Atoi(portStr)
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

	k2, err := devstack.StartKafka(devstack.KafkaConfig{AutoCreateTopics: true, DataDir: kdir, Port: port})
	if err != nil {
		t.Fatal(err)
	}
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
