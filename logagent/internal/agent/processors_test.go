package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
)

// A config with processors reaches the agent through etcd; the records in
// Kafka are masked, parsed and carry the line's own time; dropped lines are
// absent and the checkpoint still reaches the end of the file. A change of
// the processors alone restarts the entry with the new chain.
func TestProcessorsThroughEtcdToKafka(t *testing.T) {
	s := newStack(t)
	fastStatus(s)
	a, _ := s.run(t)
	addr := s.kafka.Addr()
	p := filepath.Join(s.dir, "access.log")
	s.put(t, `[{"path":"DIR/access.log","topic":"web","start":"beginning","processors":[
		{"type":"mask","builtins":["secrets"]},
		{"type":"parse","format":"nginx"},
		{"type":"drop","field":"parsed.path","pattern":"^/healthz"},
		{"type":"timestamp","field":"parsed.time","layouts":["nginx"]}]}]`)
	waitLog(t, s, "collect config applied")

	line := func(i int, path string, status int) string {
		return fmt.Sprintf(`10.0.0.%d - - [21/Nov/2026:10:00:%02d +0100] "GET %s HTTP/1.1" %d 512 "-" "curl/8.0"`, i, i, path, status)
	}
	var lines []string
	for i := 1; i <= 6; i++ {
		switch i % 3 {
		case 0:
			lines = append(lines, line(i, "/healthz", 200))
		case 1:
			lines = append(lines, line(i, fmt.Sprintf("/login?user=u%d&password=hunter%d", i, i), 500))
		default:
			lines = append(lines, line(i, "/index.html", 200))
		}
	}
	writeFile(t, p, lines)
	readAt := time.Now()

	type rec struct {
		Timestamp time.Time `json:"@timestamp"`
		Message   string    `json:"message"`
		Parsed    struct {
			Status any    `json:"status"`
			Path   string `json:"path"`
		} `json:"parsed"`
		Event struct {
			Created time.Time `json:"created"`
		} `json:"event"`
	}
	rs := kt.WaitFor(t, addr, "web", 15*time.Second, func(rs []kt.Record) bool { return len(rs) >= 4 })
	if len(rs) != 4 {
		t.Fatalf("web has %d records, want the 4 not dropped: %q", len(rs), kt.Messages(rs))
	}
	for i, r := range rs {
		if strings.Contains(string(r.Value), "hunter") {
			t.Fatalf("record %d holds the password: %s", i, r.Value)
		}
		var got rec
		if err := json.Unmarshal(r.Value, &got); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(got.Parsed.Path, "/healthz") {
			t.Fatalf("dropped line in Kafka: %s", r.Value)
		}
		if _, ok := got.Parsed.Status.(float64); !ok {
			t.Errorf("parsed.status is %#v, want a number: %s", got.Parsed.Status, r.Value)
		}
		sec := 0 // line i is from 10.0.0.i at second i
		fmt.Sscanf(got.Message, "10.0.0.%d", &sec)
		if want := time.Date(2026, 11, 21, 9, 0, sec, 0, time.UTC); !got.Timestamp.Equal(want) {
			t.Errorf("@timestamp %v, want the line's time %v", got.Timestamp, want)
		}
		if d := got.Event.Created.Sub(readAt); d < -5*time.Second || d > 15*time.Second {
			t.Errorf("event.created %v, want the read time (about %v)", got.Event.Created, readAt)
		}
	}
	// The checkpoint passes the dropped lines: the file is acknowledged to
	// its end; the status and the metrics count them.
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, s, "checkpoint at EOF and 2 lines filtered", func(st Status) bool {
		return len(st.Files) == 1 && st.Files[0].Offset == fi.Size() &&
			len(st.Processors) == 1 && st.Processors[0].Entry == p && st.Processors[0].Filtered == 2
	})
	if got := testutil.ToFloat64(a.m.ProcessorDropped.WithLabelValues(p, "filtered")); got != 2 {
		t.Fatalf("logagent_processor_dropped_total{reason=filtered} = %v, want 2", got)
	}

	// Only the processors change (now 5xx are dropped too): the entry restarts with them, from its checkpoint.
	s.put(t, `[{"path":"DIR/access.log","topic":"web","start":"beginning","processors":[
		{"type":"mask","builtins":["secrets"]},
		{"type":"parse","format":"nginx"},
		{"type":"drop","field":"parsed.path","pattern":"^/healthz"},
		{"type":"drop","field":"parsed.status","pattern":"^5"},
		{"type":"timestamp","field":"parsed.time","layouts":["nginx"]}]}]`)
	waitLog(t, s, "tasks stopped")
	time.Sleep(300 * time.Millisecond)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "%s\n%s\n", line(7, "/login?password=x", 503), line(8, "/after", 200))
	f.Close()
	rs = kt.WaitFor(t, addr, "web", 15*time.Second, func(rs []kt.Record) bool { return len(rs) >= 5 })
	time.Sleep(300 * time.Millisecond)
	rs = kt.ReadAll(t, addr, "web")
	if len(rs) != 5 || !strings.Contains(rs[4].Message, "/after") {
		t.Fatalf("after the processors changed web has %q, want one more record (/after)", kt.Messages(rs))
	}
}
