package harvester

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/producer"
	"github.com/logcollect/logcollect/pkg/logging"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// heldSender keeps every record unacknowledged until the test acks it, as
// a slow Kafka would.
type heldSender struct {
	mu   sync.Mutex
	msgs []*producer.Message
}

func (s *heldSender) SendBatch(ctx context.Context, ms []*producer.Message) (int, error) {
	s.mu.Lock()
	s.msgs = append(s.msgs, ms...)
	s.mu.Unlock()
	return len(ms), nil
}

func (s *heldSender) sent() []*producer.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// checkpointOf is the stored offset of the file at path.
func (e *env) checkpointOf(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := statFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := e.store.Get(checkpoint.FileKey(fi.dev, fi.ino, "t"))
	return cp.Offset
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

const dropDebug = `{"path":"DIR/app.log","topic":"t","start":"beginning","processors":[{"type":"drop","pattern":"^DEBUG"}]}`

// A dropped line is acknowledged without being sent, in order: the
// checkpoint passes it only once every line before it was acknowledged, and
// dropped lines at the end do not hold it back.
func TestDroppedLinesAckedInOrder(t *testing.T) {
	e := newEnv(t)
	snd := &heldSender{}
	p := filepath.Join(e.dir, "app.log")
	lines := []string{"keep 1\n", "DEBUG 2\n", "keep 3\n", "DEBUG 4\n", "keep 5\n", "DEBUG 6\n"}
	appendTo(t, p, lines...)
	e.task = Start(Options{Entry: parseEntry(t, e, dropDebug), HostID: "host-1", AllowedPaths: []string{e.dir + "/**"},
		ScanInterval: 50 * time.Millisecond, PollInterval: 20 * time.Millisecond, CloseInactive: time.Minute, PartialFlush: time.Second,
		StopTimeout: time.Second, Store: e.store, Sender: snd, Metrics: e.m, Log: logging.Discard()})
	t.Cleanup(e.task.Close)
	waitFor(t, "3 kept lines sent", func() bool { return len(snd.sent()) == 3 })
	var msgs []string
	for _, m := range snd.sent() {
		var r struct{ Message string }
		if err := json.Unmarshal(m.Value, &r); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, r.Message)
	}
	if !slices.Equal(msgs, []string{"keep 1", "keep 3", "keep 5"}) {
		t.Fatalf("sent %q, want the kept lines only", msgs)
	}
	tracker := func() int64 {
		for _, k := range e.task.runningKeys() {
			e.task.mu.Lock()
			h := e.task.running[k]
			e.task.mu.Unlock()
			return h.tracker.Position()
		}
		t.Fatal("no harvester")
		return 0
	}
	end := func(n int) int64 { return int64(len(strings.Join(lines[:n], ""))) }

	// The dropped lines were acknowledged at once, but "keep 1" is in flight.
	time.Sleep(100 * time.Millisecond)
	if got := tracker(); got != 0 {
		t.Fatalf("acknowledged run at %d while the first line is in flight, want 0", got)
	}
	msgsHeld := snd.sent()
	msgsHeld[1].Acker.AckRun(msgsHeld[1].Seq, 1) // keep 3
	if got := tracker(); got != 0 {
		t.Fatalf("acknowledged run at %d with keep 1 in flight, want 0", got)
	}
	msgsHeld[0].Acker.AckRun(msgsHeld[0].Seq, 1) // keep 1: the run reaches keep 5, past DEBUG 2, keep 3, DEBUG 4
	if got := tracker(); got != end(4) {
		t.Fatalf("acknowledged run at %d, want %d (the end of DEBUG 4)", got, end(4))
	}
	if got := e.checkpointOf(t, p); got != 0 {
		t.Fatalf("checkpoint %d before the batch's end was acknowledged, want 0", got)
	}
	msgsHeld[2].Acker.AckRun(msgsHeld[2].Seq, 1) // keep 5: the trailing DEBUG 6 is already done
	if got, want := e.checkpointOf(t, p), fileSize(t, p); got != want {
		t.Fatalf("checkpoint %d, want EOF %d (a trailing dropped line must not hold it back)", got, want)
	}
	e.task.reportChain()
	if got := testutil.ToFloat64(e.m.ProcessorDropped.WithLabelValues(e.dir+"/app.log", "filtered")); got != 3 {
		t.Fatalf("logagent_processor_dropped_total{reason=filtered} = %v, want 3", got)
	}
}

// A file whose lines are all dropped sends nothing and still reaches EOF;
// after a restart nothing is sent again.
func TestAllLinesDroppedCheckpointAtEOF(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	appendTo(t, p, "DEBUG 1\n", "DEBUG 2\n", "DEBUG 3\n")
	e.start(t, dropDebug)
	waitFor(t, "checkpoint at EOF", func() bool { return e.checkpointOf(t, p) == fileSize(t, p) })
	if got := e.snd.all(); len(got) != 0 {
		t.Fatalf("sent %d records of a file whose lines are all dropped", len(got))
	}
	e.restart(t)
	appendTo(t, p, "DEBUG 4\n", "keep 5\n", "DEBUG 6\n")
	e.start(t, dropDebug)
	waitFor(t, "checkpoint at EOF after restart", func() bool { return e.checkpointOf(t, p) == fileSize(t, p) })
	time.Sleep(100 * time.Millisecond)
	if got := e.snd.messages(); !slices.Equal(got, []string{"keep 5"}) {
		t.Fatalf("after restart sent %q, want only the new kept line", got)
	}
}

// Every other line dropped, restarted between: nothing is re-sent.
func TestRestartAfterDropsResendsNothing(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	for i := 1; i <= 200; i++ {
		if i%2 == 0 {
			appendTo(t, p, nl("DEBUG", i, i)...)
		} else {
			appendTo(t, p, nl("keep", i, i)...)
		}
	}
	e.start(t, dropDebug)
	waitFor(t, "checkpoint at EOF", func() bool { return e.checkpointOf(t, p) == fileSize(t, p) })
	if got := len(e.snd.all()); got != 100 {
		t.Fatalf("sent %d records, want the 100 kept", got)
	}
	e.restart(t)
	appendTo(t, p, nl("keep", 201, 201)...)
	appendTo(t, p, nl("DEBUG", 202, 202)...)
	e.start(t, dropDebug)
	waitFor(t, "checkpoint at EOF after restart", func() bool { return e.checkpointOf(t, p) == fileSize(t, p) })
	time.Sleep(100 * time.Millisecond)
	if got := e.snd.messages(); !slices.Equal(got, trimmed(nl("keep", 201, 201))) {
		t.Fatalf("after restart sent %q, want only the new kept line", got)
	}
}

// The processors' results become the record: message, parsed fields (typed),
// @timestamp from the line, event.created the read time, flags.
func TestProcessorsShapeRecord(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	appendTo(t, p,
		`10.1.2.3 - - [21/Nov/2026:10:00:00 +0000] "GET /login?password=hunter2 HTTP/1.1" 500 123 "-" "curl/8"`+"\n",
		"not an access log line\n")
	before := time.Now()
	e.start(t, `{"path":"DIR/app.log","topic":"t","start":"beginning","processors":[
		{"type":"mask","builtins":["secrets"]},{"type":"parse","format":"nginx"},
		{"type":"timestamp","field":"parsed.time","layouts":["nginx"]}]}`)
	waitFor(t, "2 records", func() bool { return len(e.snd.all()) == 2 })
	type rec struct {
		Timestamp time.Time      `json:"@timestamp"`
		Message   string         `json:"message"`
		Parsed    map[string]any `json:"parsed"`
		Event     struct {
			Created time.Time `json:"created"`
		} `json:"event"`
		Log struct {
			Flags []string `json:"flags"`
		} `json:"log"`
	}
	var rs []rec
	for _, g := range e.snd.all() {
		if strings.Contains(g.Raw, "hunter2") {
			t.Fatalf("masked secret in the record: %s", g.Raw)
		}
		var r rec
		if err := json.Unmarshal([]byte(g.Raw), &r); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	if got := rs[0].Parsed["status"]; got != float64(500) {
		t.Errorf("parsed.status = %#v, want the number 500", got)
	}
	if want := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC); !rs[0].Timestamp.Equal(want) {
		t.Errorf("@timestamp = %v, want the line's time %v", rs[0].Timestamp, want)
	}
	if rs[0].Event.Created.Before(before.Add(-time.Second)) {
		t.Errorf("event.created = %v, want the read time (after %v)", rs[0].Event.Created, before)
	}
	if !slices.Contains(rs[1].Log.Flags, "parse_failed") || rs[1].Message != "not an access log line" {
		t.Errorf("non-matching line: message %q flags %q, want it kept as read and flagged parse_failed", rs[1].Message, rs[1].Log.Flags)
	}
}

// restart stops the task, saves the checkpoints as the agent does at
// shutdown, and reopens the store from disk.
func (e *env) restart(t *testing.T) {
	t.Helper()
	e.task.Close()
	if err := e.store.Save(); err != nil {
		t.Fatal(err)
	}
	e.crash(t)
}

func parseEntry(t *testing.T, e *env, entryJSON string) collect.Entry {
	t.Helper()
	es, err := collect.Parse([]byte("[" + strings.ReplaceAll(entryJSON, "DIR", e.dir) + "]"))
	if err != nil {
		t.Fatal(err)
	}
	return es[0]
}

// Lines over an entry's rate_limit are dropped, counted per entry and
// logged (once a minute), and still acknowledged.
func TestRateLimitedCountedAndLogged(t *testing.T) {
	e := newEnv(t)
	logs := &testkit.Buffer{}
	e.log = slog.New(slog.NewTextHandler(logs, nil))
	p := filepath.Join(e.dir, "app.log")
	appendTo(t, p, nl("a", 1, 5)...)
	e.start(t, `{"path":"DIR/app.log","topic":"t","start":"beginning","processors":[{"type":"rate_limit","lines_per_second":0.001,"burst":2}]}`)
	waitFor(t, "checkpoint at EOF", func() bool { return e.checkpointOf(t, p) == fileSize(t, p) })
	if got := e.snd.messages(); !slices.Equal(got, trimmed(nl("a", 1, 2))) {
		t.Fatalf("sent %q, want the burst of 2", got)
	}
	waitFor(t, "3 rate-limited lines counted", func() bool {
		return testutil.ToFloat64(e.m.ProcessorDropped.WithLabelValues(e.dir+"/app.log", "rate_limited")) == 3
	})
	if n := strings.Count(logs.String(), "collect entry over its rate_limit"); n != 1 {
		t.Fatalf("logged the rate limit %d times, want once:\n%s", n, logs.String())
	}
}
