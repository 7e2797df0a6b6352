package harvester

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/metrics"
	"github.com/logcollect/logcollect/logagent/internal/producer"
	"github.com/logcollect/logcollect/pkg/logging"
)

// got is a record as the fake sender saw it.
type got struct {
	Message string   `json:"message"`
	JSON    any      `json:"json"`
	Stream  string   `json:"stream"`
	Fields  any      `json:"fields"`
	K8s     any      `json:"kubernetes"`
	Key     string   `json:"-"`
	Offset  int64    `json:"-"`
	Flags   []string `json:"-"`
	EventID string   `json:"-"`
	Raw     string   `json:"-"`
}

type fakeSender struct {
	mu   sync.Mutex
	recs []got
	hold bool // do not ack (Kafka down)
}

func (s *fakeSender) Send(ctx context.Context, m *producer.Message) error {
	var g got
	if err := json.Unmarshal(m.Value, &g); err != nil {
		panic(fmt.Sprintf("invalid JSON record %q: %v", m.Value, err))
	}
	var l struct {
		Log struct {
			Offset int64    `json:"offset"`
			Flags  []string `json:"flags"`
		} `json:"log"`
	}
	json.Unmarshal(m.Value, &l)
	g.Key, g.Offset, g.Flags, g.EventID, g.Raw = string(m.Key), l.Log.Offset, l.Log.Flags, m.EventID, string(m.Value)
	s.mu.Lock()
	s.recs = append(s.recs, g)
	hold := s.hold
	s.mu.Unlock()
	if !hold {
		m.Acker.AckRun(m.Seq, 1)
	}
	return nil
}

func (s *fakeSender) SendBatch(ctx context.Context, ms []*producer.Message) (int, error) {
	for i, m := range ms {
		if err := s.Send(ctx, m); err != nil {
			return i, err
		}
	}
	return len(ms), nil
}

func (s *fakeSender) all() []got {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.recs)
}

func (s *fakeSender) messages() []string {
	var out []string
	for _, r := range s.all() {
		out = append(out, r.Message)
	}
	return out
}

// waitFor polls cond up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type env struct {
	dir   string
	store *checkpoint.Store
	snd   *fakeSender
	m     *metrics.Metrics
	task  *Task
	log   *slog.Logger // nil discards

	// Test seams of the tasks started by start (Options).
	copyMaxWait time.Duration
	journalDirs []string
	beforeOpen  func(path string)
	stateDir    string
}

func newEnv(t *testing.T) *env {
	dir := t.TempDir()
	st, err := checkpoint.Open(filepath.Join(dir, "data"), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	return &env{dir: dir, store: st, snd: &fakeSender{}, m: metrics.New(nil)}
}

func (e *env) start(t *testing.T, entryJSON string) {
	t.Helper()
	e.startPolling(t, entryJSON, 20*time.Millisecond)
}

func (e *env) startPolling(t *testing.T, entryJSON string, poll time.Duration) {
	t.Helper()
	entryJSON = strings.ReplaceAll(entryJSON, "DIR", e.dir)
	es, err := collect.Parse([]byte("[" + entryJSON + "]"))
	if err != nil {
		t.Fatal(err)
	}
	e.task = Start(Options{Entry: es[0], HostName: "h", HostIP: "10.0.0.1", HostID: "host-1", AllowedPaths: []string{e.dir + "/**"},
		ScanInterval: 50 * time.Millisecond, PollInterval: poll, CloseInactive: 2 * time.Second,
		PartialFlush: 300 * time.Millisecond, StopTimeout: 2 * time.Second, Store: e.store, Sender: e.snd, Metrics: e.m, Log: cmp.Or(e.log, logging.Discard()),
		copyMaxWait: e.copyMaxWait, journalDirs: e.journalDirs, beforeOpen: e.beforeOpen, StateDir: e.stateDir})
	t.Cleanup(e.task.Close)
}

func appendTo(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l); err != nil {
			t.Fatal(err)
		}
	}
}

// writeAll replaces path's content with lines in one write (O_TRUNC and
// write: `cat new > file`).
func writeAll(t *testing.T, path string, lines ...string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// headerAndFive starts a task (collect path glob) on app.log holding a
// 1,360-byte header (more than FingerprintSize: every generation of the
// file shares its fingerprint) and five lines, and waits for the 25.
func headerAndFive(t *testing.T, glob string) (e *env, p string, header []string) {
	t.Helper()
	e = newEnv(t)
	p = filepath.Join(e.dir, "app.log")
	header = nl("h", 1, 20)
	appendTo(t, p, append(header, nl("a", 1, 5)...)...)
	e.start(t, `{"path":"`+glob+`","topic":"t","start":"beginning"}`)
	waitFor(t, "25 lines", func() bool { return len(e.snd.all()) == 25 })
	return e, p, header
}

func nl(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%s %04d %s\n", prefix, i, strings.Repeat("x", 60)))
	}
	return out
}

func trimmed(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimSuffix(l, "\n")
	}
	return out
}

// hasAll checks every want line arrived, and that duplicates of a line
// carry one event id (so Elasticsearch overwrites instead of duplicating).
func hasAll(t *testing.T, recs []got, want []string) bool {
	t.Helper()
	ids := map[string]string{}
	for _, r := range recs {
		if id, ok := ids[r.Message]; ok && id != r.EventID {
			t.Fatalf("line %q sent twice with different event ids", r.Message)
		}
		ids[r.Message] = r.EventID
	}
	for _, w := range want {
		if _, ok := ids[w]; !ok {
			return false
		}
	}
	return true
}

func TestStartBeginningAndAppend(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	appendTo(t, p, nl("a", 1, 3)...)
	e.start(t, `{"path":"DIR/app.log","topic":"t","start":"beginning","fields":{"env":"prod"}}`)
	appendTo(t, p, nl("a", 4, 6)...)
	want := trimmed(nl("a", 1, 6))
	waitFor(t, "6 lines", func() bool { return len(e.snd.all()) == 6 })
	if got := e.snd.messages(); !slices.Equal(got, want) {
		t.Fatalf("got %q", got)
	}
	r := e.snd.all()[1]
	if r.Offset != int64(len(nl("a", 1, 1)[0])) || r.Fields == nil {
		t.Fatalf("offset %d fields %v", r.Offset, r.Fields)
	}
}

// TestGrowthWakesHarvester shows that nxadm/tail's watcher, not the timer
// tick, wakes a harvester for new data once its file is at rest: with an
// hour-long tick, lines appended after the harvester handed the file to the
// watcher still arrive, also after the path was renamed away (the watch
// follows the descriptor, not the path).
func TestGrowthWakesHarvester(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	appendTo(t, p, nl("a", 1, 2)...)
	e.startPolling(t, `{"path":"DIR/app.log","topic":"t","start":"beginning"}`, time.Hour)
	waitFor(t, "the first lines", func() bool { return len(e.snd.all()) == 2 })
	atRest := func() {
		time.Sleep(idleAfter() + 2*activePoll())
		e.task.mu.Lock()
		defer e.task.mu.Unlock()
		for _, h := range e.task.running {
			e.task.o.Scheduler.mu.Lock()
			watched := h.w != nil
			e.task.o.Scheduler.mu.Unlock()
			if !watched {
				t.Fatal("the harvester of a file at rest has no watcher")
			}
		}
	}
	atRest()
	appendTo(t, p, nl("a", 3, 4)...)
	waitFor(t, "lines appended after the first read", func() bool { return hasAll(t, e.snd.all(), trimmed(nl("a", 1, 4))) })

	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	atRest()
	if _, err := f.WriteString(nl("a", 5, 5)[0]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a line written to the renamed file", func() bool { return hasAll(t, e.snd.all(), trimmed(nl("a", 1, 5))) })
}

func TestStartEndThenLaterFileFromZero(t *testing.T) {
	e := newEnv(t)
	old := filepath.Join(e.dir, "a.log")
	appendTo(t, old, nl("old", 1, 3)...)
	e.start(t, `{"path":"DIR/*.log","topic":"t"}`)
	time.Sleep(200 * time.Millisecond) // let the first scan position a.log at its end
	appendTo(t, old, nl("new", 1, 1)...)
	later := filepath.Join(e.dir, "b.log")
	appendTo(t, later, nl("later", 1, 2)...)
	waitFor(t, "new lines", func() bool {
		return hasAll(t, e.snd.all(), append(trimmed(nl("new", 1, 1)), trimmed(nl("later", 1, 2))...))
	})
	for _, m := range e.snd.messages() {
		if strings.HasPrefix(m, "old") {
			t.Fatalf("start=end sent history: %q", m)
		}
	}
}

func TestRestartResumes(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	appendTo(t, p, nl("a", 1, 5)...)
	e.start(t, `{"path":"DIR/app.log","topic":"t","start":"beginning"}`)
	waitFor(t, "5 lines", func() bool { return len(e.snd.all()) == 5 })
	e.task.Close()
	firstID := e.snd.all()[0].Key
	appendTo(t, p, nl("a", 6, 8)...)
	e.snd = &fakeSender{}
	e.start(t, `{"path":"DIR/app.log","topic":"t","start":"beginning"}`)
	waitFor(t, "3 more lines", func() bool { return len(e.snd.all()) >= 3 })
	time.Sleep(100 * time.Millisecond)
	if got := e.snd.messages(); !slices.Equal(got, trimmed(nl("a", 6, 8))) {
		t.Fatalf("after restart got %q", got)
	}
	if e.snd.all()[0].Key != firstID {
		t.Fatal("file id changed across a restart")
	}
}

func TestRenameAndCreate(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	w, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	e.start(t, `{"path":"DIR/app.log","topic":"t","start":"beginning"}`)
	for _, l := range nl("a", 1, 50) {
		w.WriteString(l)
	}
	waitFor(t, "first lines", func() bool { return len(e.snd.all()) > 0 })
	// logrotate: rename, the writer keeps writing to the old file for a
	// moment, then a new file appears at the path.
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	for _, l := range nl("a", 51, 60) {
		w.WriteString(l)
	}
	appendTo(t, p, nl("b", 1, 5)...)
	want := append(trimmed(nl("a", 1, 60)), trimmed(nl("b", 1, 5))...)
	waitFor(t, "every line of both files", func() bool { return hasAll(t, e.snd.all(), want) })
	if n := len(e.snd.all()); n != 65 {
		t.Fatalf("%d records, want 65 (no duplicates)", n)
	}
}

func TestCopyTruncate(t *testing.T) {
	for _, rotatedMatches := range []bool{true, false} {
		t.Run(fmt.Sprintf("rotated_name_matches_glob=%v", rotatedMatches), func(t *testing.T) {
			e := newEnv(t)
			p := filepath.Join(e.dir, "app.log")
			appendTo(t, p, nl("a", 1, 40)...) // > FingerprintSize
			glob := `DIR/app.log*`
			if !rotatedMatches {
				glob = `DIR/app.log`
			}
			e.start(t, `{"path":"`+glob+`","topic":"t","start":"beginning"}`)
			waitFor(t, "40 lines", func() bool { return len(e.snd.all()) == 40 })
			data, _ := os.ReadFile(p)
			os.WriteFile(p+".1", data, 0o644)
			os.Truncate(p, 0)
			appendTo(t, p, nl("b", 1, 5)...)
			want := append(trimmed(nl("a", 1, 40)), trimmed(nl("b", 1, 5))...)
			waitFor(t, "new lines after truncate", func() bool { return hasAll(t, e.snd.all(), want) })
			time.Sleep(300 * time.Millisecond)
			// The copy is recognised by fingerprint: nothing re-sent.
			if n := len(e.snd.all()); n != 45 {
				t.Fatalf("%d records, want 45: %q", n, e.snd.messages())
			}
			// New content after truncation has its own file id, so its
			// event ids differ from the old lines at the same offsets.
			recs := e.snd.all()
			if recs[0].Offset != recs[40].Offset || recs[0].EventID == recs[40].EventID {
				t.Fatalf("truncated file reused event ids: %+v %+v", recs[0], recs[40])
			}
		})
	}
}

func TestTruncateInPlace(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	appendTo(t, p, nl("a", 1, 5)...)
	e.start(t, `{"path":"DIR/app.log","topic":"t","start":"beginning"}`)
	waitFor(t, "5 lines", func() bool { return len(e.snd.all()) == 5 })
	if err := os.Truncate(p, 0); err != nil { // : > file
		t.Fatal(err)
	}
	appendTo(t, p, "short\n")
	waitFor(t, "line after truncation", func() bool { return hasAll(t, e.snd.all(), []string{"short"}) })
	r := e.snd.all()[5]
	if r.Offset != 0 || r.Key == e.snd.all()[0].Key {
		t.Fatalf("after truncation: offset %d key %s", r.Offset, r.Key)
	}
}

func TestDeletedFileDrainedAndReleased(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	w, _ := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	defer w.Close()
	w.WriteString("one\n")
	e.start(t, `{"path":"DIR/app.log","topic":"t","start":"beginning"}`)
	waitFor(t, "first line", func() bool { return len(e.snd.all()) == 1 })
	os.Remove(p)
	w.WriteString("two\n") // still written through the old descriptor
	waitFor(t, "line written after delete", func() bool { return hasAll(t, e.snd.all(), []string{"one", "two"}) })
	waitFor(t, "descriptor released after close_inactive", func() bool {
		e.task.mu.Lock()
		defer e.task.mu.Unlock()
		return len(e.task.running) == 0
	})
}

func TestInodeReuse(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	appendTo(t, p, "new content 1\n", "new content 2\n")
	fi, _ := statFile(p)
	// A checkpoint of an older, deleted file that had this inode.
	e.store.Put(checkpoint.FileKey(fi.dev, fi.ino, "t"), checkpoint.Entry{ID: "oldid", Path: p, Device: fi.dev, Inode: fi.ino, FPLen: 10, FP: "0123456789abcdef0123456789abcdef", Offset: 20})
	e.store.MarkSeen(filepath.Join(e.dir, "app.log"), "t")
	e.start(t, `{"path":"DIR/app.log","topic":"t"}`)
	waitFor(t, "both lines", func() bool { return hasAll(t, e.snd.all(), []string{"new content 1", "new content 2"}) })
	if e.snd.all()[0].Key == "oldid" {
		t.Fatal("reused inode kept the old file id")
	}
}

func TestShortFileFingerprintGrows(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	appendTo(t, p, "tiny\n")
	e.start(t, `{"path":"DIR/app.log","topic":"t","start":"beginning"}`)
	waitFor(t, "tiny", func() bool { return len(e.snd.all()) == 1 })
	appendTo(t, p, nl("a", 1, 30)...)
	waitFor(t, "more", func() bool { return len(e.snd.all()) == 31 })
	fi, _ := statFile(p)
	waitFor(t, "fingerprint extended", func() bool {
		cp, _ := e.store.Get(checkpoint.FileKey(fi.dev, fi.ino, "t"))
		return cp.FPLen == FingerprintSize
	})
	cp, _ := e.store.Get(checkpoint.FileKey(fi.dev, fi.ino, "t"))
	if cp.ID != e.snd.all()[0].Key {
		t.Fatal("id changed when the fingerprint grew")
	}
}

func TestGiantLineBounded(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	f, _ := os.Create(p)
	chunk := strings.Repeat("y", 1<<20)
	for i := 0; i < 20; i++ { // 20 MiB without a newline
		f.WriteString(chunk)
	}
	f.WriteString("\nafter\n")
	f.Close()
	e.start(t, `{"path":"DIR/app.log","topic":"t","start":"beginning","max_line_bytes":1024}`)
	waitFor(t, "2 records", func() bool { return len(e.snd.all()) == 2 })
	r := e.snd.all()
	if len(r[0].Message) != 1024 || !slices.Contains(r[0].Flags, "truncated") {
		t.Fatalf("giant line: len %d flags %v", len(r[0].Message), r[0].Flags)
	}
	if r[1].Message != "after" || r[1].Offset != 20<<20+1 {
		t.Fatalf("line after: %q at %d", r[1].Message, r[1].Offset)
	}
}

func TestPartialLineFlushed(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	appendTo(t, p, "complete\n", "no newline yet")
	e.start(t, `{"path":"DIR/app.log","topic":"t","start":"beginning"}`)
	waitFor(t, "partial flushed", func() bool { return len(e.snd.all()) == 2 })
	r := e.snd.all()[1]
	if r.Message != "no newline yet" || !slices.Contains(r.Flags, "partial") {
		t.Fatalf("got %+v", r)
	}
	appendTo(t, p, "next\n")
	waitFor(t, "next", func() bool { return len(e.snd.all()) == 3 })
}

func TestInvalidUTF8AndNUL(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	appendTo(t, p, "bad \xff\xfe bytes\n", "nul \x00 here\n", "crlf\r\n")
	e.start(t, `{"path":"DIR/app.log","topic":"t","start":"beginning","format":"json"}`)
	waitFor(t, "3 lines", func() bool { return len(e.snd.all()) == 3 })
	r := e.snd.all() // fakeSender already proved each value is valid JSON
	if !slices.Contains(r[0].Flags, "invalid_utf8") || r[0].Message != "bad \uFFFD\uFFFD bytes" {
		t.Fatalf("utf8: %+v", r[0])
	}
	if r[1].Message != "nul \x00 here" || !slices.Contains(r[1].Flags, "invalid_json") {
		t.Fatalf("nul: %+v", r[1])
	}
	if r[2].Message != "crlf" {
		t.Fatalf("crlf: %q", r[2].Message)
	}
}

func TestFormats(t *testing.T) {
	tests := []struct {
		name, file, entry string
		lines             []string
		check             func(t *testing.T, r []got)
	}{
		{"json", "app.log", `"format":"json"`, []string{`{"level":"info","msg":"hi"}` + "\n", "not json\n"},
			func(t *testing.T, r []got) {
				if len(r) != 2 || r[0].JSON.(map[string]any)["msg"] != "hi" || !slices.Contains(r[1].Flags, "invalid_json") || r[1].Message != "not json" {
					t.Fatalf("%+v", r)
				}
			}},
		{"docker", "containers/web-1_prod_nginx-0123abcd.log", `"format":"docker"`, []string{
			`{"log":"part one ","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}` + "\n",
			`{"log":"part two\n","stream":"stdout","time":"2024-01-02T03:04:05.2Z"}` + "\n",
			`{"log":"err line\n","stream":"stderr","time":"2024-01-02T03:04:06Z"}` + "\n"},
			func(t *testing.T, r []got) {
				if len(r) != 2 || r[0].Message != "part one part two" || r[0].Stream != "stdout" || r[1].Stream != "stderr" || r[0].Offset != 0 {
					t.Fatalf("%+v", r)
				}
				k := r[0].K8s.(map[string]any)
				if fmt.Sprint(k) == "" || !strings.Contains(r[0].Raw, `"prod"`) || !strings.Contains(r[0].Raw, `"web-1"`) || !strings.Contains(r[0].Raw, `"0123abcd"`) || !strings.Contains(r[0].Raw, "2024-01-02T03:04:05.123Z") {
					t.Fatalf("kubernetes/time: %s", r[0].Raw)
				}
			}},
		{"cri", "pods/prod_web-1_uid-123/nginx/0.log", `"format":"cri"`, []string{
			"2024-01-02T03:04:05.5Z stdout P first \n",
			"2024-01-02T03:04:05.6Z stdout F second\n",
			"2024-01-02T03:04:06Z stderr F alone\n"},
			func(t *testing.T, r []got) {
				if len(r) != 2 || r[0].Message != "first second" || r[1].Message != "alone" || r[1].Stream != "stderr" {
					t.Fatalf("%+v", r)
				}
				if !strings.Contains(r[0].Raw, `"uid-123"`) || !strings.Contains(r[0].Raw, `"nginx"`) {
					t.Fatalf("kubernetes: %s", r[0].Raw)
				}
			}},
		{"multiline after negate", "app.log", `"multiline":{"pattern":"^\\d{4}-","negate":true,"match":"after","timeout":"200ms"}`, []string{
			"2024-01-01 boom\n", "  at a()\n", "  at b()\n", "2024-01-01 next\n"},
			func(t *testing.T, r []got) {
				if len(r) != 2 || r[0].Message != "2024-01-01 boom\n  at a()\n  at b()" || !slices.Contains(r[0].Flags, "multiline") || r[1].Message != "2024-01-01 next" {
					t.Fatalf("%+v", r)
				}
			}},
		{"multiline before", "app.log", `"multiline":{"pattern":"\\\\$","match":"before"}`, []string{
			"one \\\n", "two \\\n", "three\n", "four\n"},
			func(t *testing.T, r []got) {
				if len(r) != 2 || r[0].Message != "one \\\ntwo \\\nthree" || r[1].Message != "four" {
					t.Fatalf("%+v", r)
				}
			}},
		{"multiline max_lines", "app.log", `"multiline":{"pattern":"^\\s","match":"after","max_lines":2,"timeout":"200ms"}`, []string{
			"head\n", " 1\n", " 2\n", " 3\n"},
			func(t *testing.T, r []got) {
				if len(r) != 2 || r[0].Message != "head\n 1" || r[1].Message != " 2\n 3" {
					t.Fatalf("%+v", r)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			p := filepath.Join(e.dir, tt.file)
			os.MkdirAll(filepath.Dir(p), 0o755)
			appendTo(t, p, tt.lines...)
			e.start(t, `{"path":"`+p+`","topic":"t","start":"beginning",`+tt.entry+`}`)
			// Every case makes two events, the last one flushed by the
			// multiline timeout where there is one (a fixed sleep failed
			// on a loaded machine); a wrongly split third would come soon
			// after.
			waitFor(t, "two events", func() bool { return len(e.snd.all()) >= 2 })
			time.Sleep(300 * time.Millisecond)
			tt.check(t, e.snd.all())
		})
	}
}

func TestBackpressureKeepsCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.snd.hold = true // Kafka accepts nothing
	p := filepath.Join(e.dir, "app.log")
	appendTo(t, p, nl("a", 1, 5)...)
	e.start(t, `{"path":"DIR/app.log","topic":"t","start":"beginning"}`)
	waitFor(t, "lines sent", func() bool { return len(e.snd.all()) == 5 })
	fi, _ := statFile(p)
	cp, _ := e.store.Get(checkpoint.FileKey(fi.dev, fi.ino, "t"))
	if cp.Offset != 0 {
		t.Fatalf("checkpoint moved to %d without any ack", cp.Offset)
	}
}

// TestPermissionDeniedRetried needs an unprivileged user: root reads files
// whatever their mode, so as root (CI) the test runs itself again as
// nobody.
func TestPermissionDeniedRetried(t *testing.T) {
	if os.Geteuid() == 0 {
		rerunAsNobody(t, "TestPermissionDeniedRetried")
		return
	}
	e := newEnv(t)
	var logs testkit.Buffer
	e.log = slog.New(slog.NewTextHandler(&logs, nil))
	p := filepath.Join(e.dir, "secret.log")
	appendTo(t, p, "hidden\n")
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	e.start(t, `{"path":"DIR/secret.log","topic":"t","start":"beginning"}`)
	waitFor(t, "a clear log line about the unreadable file", func() bool {
		out := logs.String()
		return strings.Contains(out, "check the agent's permissions") && strings.Contains(out, "permission denied") && strings.Contains(out, "secret.log")
	})
	if len(e.snd.all()) != 0 {
		t.Fatal("read an unreadable file")
	}
	if err := os.Chmod(p, 0o644); err != nil { // the operator fixes the mode: picked up at the next scan
		t.Fatal(err)
	}
	waitFor(t, "line after chmod", func() bool { return hasAll(t, e.snd.all(), []string{"hidden"}) })
}

// rerunAsNobody runs one test of this binary as user nobody (uid 65534),
// from a copy of the binary nobody may execute, and fails with its output
// if it fails.
func rerunAsNobody(t *testing.T, name string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "asnobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "test.bin")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run", "^"+name+"$", "-test.count=1", "-test.v")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "TMPDIR=" + os.TempDir(), "HOME=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("%s as nobody: %v\n%s", name, err, out)
	}
}

// Truncated and refilled beyond the old position between two polls: the
// changed first bytes reveal it, so the new content is read from 0, not
// from the middle.
func TestTruncateAndRefill(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	appendTo(t, p, nl("a", 1, 3)...)
	e.start(t, `{"path":"DIR/app.log","topic":"t","start":"beginning"}`)
	waitFor(t, "3 lines", func() bool { return len(e.snd.all()) == 3 })
	// Growth first, so the refill is caught by a read that follows an
	// earlier one (the mark of the bytes before it, linereader.Mark).
	appendTo(t, p, nl("a", 4, 5)...)
	waitFor(t, "5 lines", func() bool { return len(e.snd.all()) == 5 })
	var sb strings.Builder
	for _, l := range nl("c", 1, 10) {
		sb.WriteString(l)
	}
	if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil { // O_TRUNC + write in one go
		t.Fatal(err)
	}
	want := trimmed(nl("c", 1, 10))
	waitFor(t, "refilled lines", func() bool { return hasAll(t, e.snd.all(), want) })
	for _, m := range e.snd.messages() {
		if !strings.HasPrefix(m, "a ") && !strings.HasPrefix(m, "c ") {
			t.Fatalf("fragment read from the middle of the new content: %q", m)
		}
	}
}

// The same, for a file whose first KiB is a header every generation
// repeats (a banner, a CSV header): its first bytes are unchanged by the
// refill, so only the bytes before the read position can reveal it.
func TestTruncateAndRefillSameHeader(t *testing.T) {
	e, p, header := headerAndFive(t, "DIR/app.log")
	appendTo(t, p, nl("a", 6, 7)...)
	waitFor(t, "27 lines", func() bool { return len(e.snd.all()) == 27 })
	writeAll(t, p, append(header, nl("c", 1, 30)...)...)
	want := trimmed(nl("c", 1, 30))
	waitFor(t, "refilled lines", func() bool {
		seen := map[string]bool{}
		for _, m := range e.snd.messages() {
			seen[m] = true
		}
		for _, w := range want {
			if !seen[w] {
				return false
			}
		}
		return true
	})
	for _, m := range e.snd.messages() {
		if !strings.HasPrefix(m, "h ") && !strings.HasPrefix(m, "a ") && !strings.HasPrefix(m, "c ") {
			t.Fatalf("fragment read from the middle of the new content: %q", m)
		}
	}
}

// A host that goes down with its application: lines sent and not yet
// checkpointed, then the application starts again and rewrites its log
// behind the same header (">" redirection, a banner) before the agent is
// back. The agent resumes the same generation at its saved offset (the
// bytes before it are unchanged); the new lines start at the offsets the
// lost-from-the-checkpoint lines had. Their ids must differ: the same id
// would overwrite the earlier line in Elasticsearch.
func TestRefillWhileDownGetsOwnIDs(t *testing.T) {
	e, p, header := headerAndFive(t, "DIR/app.log")
	before := e.snd.all()
	e.crash(t)                                          // the checkpoint on disk: the new id at offset 0 (no save since)
	writeAll(t, p, append(header, nl("b", 1, 5)...)...) // "b 0001 …" is as long as "a 0001 …"
	e.start(t, `{"path":"DIR/app.log","topic":"t","start":"beginning"}`)
	waitFor(t, "the 5 new lines", func() bool {
		n := 0
		for _, m := range e.snd.messages() {
			if strings.HasPrefix(m, "b ") {
				n++
			}
		}
		return n == 5
	})
	byID := map[string]string{}
	for _, r := range append(before, e.snd.all()...) {
		if m, ok := byID[r.EventID]; ok && m != r.Message {
			t.Fatalf("%q and %q sent under one event id %s (offset %d): the second overwrites the first", m, r.Message, r.EventID, r.Offset)
		}
		byID[r.EventID] = r.Message
	}
}

// crash simulates a SIGKILL: the task stops without a final save, and the
// store is read back from what is on disk.
//
// It returns what the crashed agent sent, read once it stopped: lines read
// and acknowledged while it stopped count as delivered (a save triggered by
// another file may have put them in the checkpoint on disk).
func (e *env) crash(t *testing.T) []got {
	t.Helper()
	e.task.Close()
	st, err := checkpoint.Open(filepath.Join(e.dir, "data"), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	sent := e.snd.all()
	e.store = st
	e.snd = &fakeSender{}
	return sent
}

// A file's random id is part of every event.id; it must be on disk before a
// line is sent under it, or a crash re-sends the lines under a new id
// (duplicates in Elasticsearch). Found by devkit/chaos (agent SIGKILL).
func TestNewFileIDOnDiskBeforeLinesAreSent(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	appendTo(t, p, nl("a", 1, 5)...)
	e.start(t, `{"path":"DIR/app.log","topic":"t","start":"beginning"}`)
	waitFor(t, "5 lines", func() bool { return len(e.snd.all()) == 5 })
	first := e.snd.all()
	e.crash(t)
	found := false
	for _, cp := range e.store.Entries() {
		found = found || cp.ID == first[0].Key
	}
	if !found {
		t.Fatalf("file id %s not on disk after lines were sent under it: %+v", first[0].Key, e.store.Entries())
	}
	appendTo(t, p, nl("a", 6, 7)...)
	e.start(t, `{"path":"DIR/app.log","topic":"t","start":"beginning"}`)
	want := trimmed(nl("a", 1, 7))
	waitFor(t, "every line", func() bool { return hasAll(t, append(first, e.snd.all()...), want) })
}

// A crash right after a truncation: the new generation's entry (no
// fingerprint yet) must still match the file at restart, so its lines keep
// their id; and the copy keeps the old generation's id.
func TestCrashAfterCopyTruncateKeepsIDs(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	appendTo(t, p, nl("a", 1, 40)...)
	e.start(t, `{"path":"DIR/app.log*","topic":"t","start":"beginning"}`)
	waitFor(t, "40 lines", func() bool { return len(e.snd.all()) == 40 })
	data, _ := os.ReadFile(p)
	os.WriteFile(p+".1", data, 0o644)
	os.Truncate(p, 0)
	appendTo(t, p, "b 1\n", "b 2\n")
	waitFor(t, "new lines after truncate", func() bool { return hasAll(t, e.snd.all(), []string{"b 1", "b 2"}) })
	before := e.snd.all()
	e.crash(t)
	appendTo(t, p, "b 3\n")
	e.start(t, `{"path":"DIR/app.log*","topic":"t","start":"beginning"}`)
	want := append(trimmed(nl("a", 1, 40)), "b 1", "b 2", "b 3")
	waitFor(t, "every line, each under one event id", func() bool { return hasAll(t, append(before, e.snd.all()...), want) })
}

// Copytruncate while the agent is down: at restart the path's inode holds
// new content (a new file), and the copy must still be recognised by the
// old content's fingerprint and continued, not re-sent under a new id.
func TestCopyTruncateWhileDownRecognisesCopy(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	appendTo(t, p, nl("a", 1, 40)...)
	e.start(t, `{"path":"DIR/app.log*","topic":"t","start":"beginning"}`)
	waitFor(t, "40 lines", func() bool { return len(e.snd.all()) == 40 })
	waitFor(t, "checkpoint at the end", func() bool {
		for _, cp := range e.store.Entries() {
			if cp.Offset == int64(40*len(nl("a", 1, 1)[0])) {
				return true
			}
		}
		return false
	})
	if err := e.store.Save(); err != nil { // the periodic save
		t.Fatal(err)
	}
	before := e.snd.all()
	e.crash(t)
	data, _ := os.ReadFile(p)
	os.WriteFile(p+".1", data, 0o644)
	os.Truncate(p, 0)
	appendTo(t, p, nl("b", 1, 45)...) // longer than the old file: see the limits in docs/logagent.md
	e.start(t, `{"path":"DIR/app.log*","topic":"t","start":"beginning"}`)
	want := append(trimmed(nl("a", 1, 40)), trimmed(nl("b", 1, 45))...)
	waitFor(t, "every line, each under one event id", func() bool { return hasAll(t, append(before, e.snd.all()...), want) })
	time.Sleep(200 * time.Millisecond)
	if n := len(e.snd.all()); n != 45 {
		t.Fatalf("after restart %d records, want the 45 new lines only (the copy continued, not re-sent): %q", n, e.snd.messages())
	}
	// The copy goes on under the original's id with its counts (the audit
	// finds the generation's documents by id, whichever inode they came
	// from); the new file counts from 0.
	waitFor(t, "checkpoint at EOF", func() bool { return e.checkpointOf(t, p) == fileSize(t, p) })
	if got, want := e.countsOf(t, p+".1"), (checkpoint.Counts{Since: 0, Events: 40}); got != want {
		t.Errorf("counts of the copy %+v, want %+v", got, want)
	}
	if got, want := e.countsOf(t, p), (checkpoint.Counts{Since: 0, Events: 45}); got != want {
		t.Errorf("counts of the new file %+v, want %+v", got, want)
	}
}

// TestSymlinkOutsideAllowedPathsIsSkipped: a link inside allowed_paths that
// leads to a file outside them is never read (a remote config cannot reach
// /etc/shadow through a link), and the skip is logged with the real path.
func TestSymlinkOutsideAllowedPathsIsSkipped(t *testing.T) {
	e := newEnv(t)
	var logs testkit.Buffer
	e.log = slog.New(slog.NewTextHandler(&logs, nil))
	outside := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(outside, []byte("root:secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(e.dir, "link.log")); err != nil {
		t.Fatal(err)
	}
	appendTo(t, filepath.Join(e.dir, "app.log"), "allowed\n")
	e.start(t, `{"path":"DIR/*.log","topic":"t","start":"beginning"}`)
	waitFor(t, "the allowed file read", func() bool { return hasAll(t, e.snd.all(), []string{"allowed"}) })
	waitFor(t, "the skip logged", func() bool {
		return strings.Contains(logs.String(), "resolves outside allowed_paths") && strings.Contains(logs.String(), outside)
	})
	for _, m := range e.snd.messages() {
		if strings.Contains(m, "secret") {
			t.Fatalf("read %q through a symlink outside allowed_paths", m)
		}
	}
}

// With [agent] allow_journal = false (Options.AllowJournal unset), a file
// that resolves into the system journal is skipped when opened, however the
// glob reached it (here a link; /var/log/** reaches it directly).
func TestSystemJournalFileIsSkipped(t *testing.T) {
	e := newEnv(t)
	var logs testkit.Buffer
	e.log = slog.New(slog.NewTextHandler(&logs, nil))
	sys := filepath.Join(e.dir, "journal") // stands in for /var/log/journal, inside allowed_paths
	os.Mkdir(sys, 0o755)
	e.journalDirs = []string{sys}
	appendTo(t, filepath.Join(sys, "system.journal"), "journal secret\n")
	if err := os.Symlink(filepath.Join(sys, "system.journal"), filepath.Join(e.dir, "j.log")); err != nil {
		t.Fatal(err)
	}
	appendTo(t, filepath.Join(e.dir, "app.log"), "allowed\n")
	e.start(t, `{"path":"DIR/*.log","topic":"t","start":"beginning"}`)
	waitFor(t, "the allowed file read", func() bool { return hasAll(t, e.snd.all(), []string{"allowed"}) })
	waitFor(t, "the skip logged", func() bool { return strings.Contains(logs.String(), "in the system journal") })
	for _, m := range e.snd.messages() {
		if strings.Contains(m, "secret") {
			t.Fatalf("read %q from the system journal", m)
		}
	}
}

// A glob that reaches the agent's own data_dir (an operator's "/var/log/*/*"
// with data_dir in /var/log) never collects it: read back, the agent
// would ship its checkpoints at every save, and dead letters Kafka refused
// would be refused and written again, without end.
func TestAgentStateIsNeverCollected(t *testing.T) {
	e := newEnv(t)
	var logs testkit.Buffer
	e.log = slog.New(slog.NewTextHandler(&logs, nil))
	e.stateDir = filepath.Join(e.dir, "data") // the store's directory
	appendTo(t, filepath.Join(e.stateDir, "dead-letter.ndjson"), "refused record\n")
	if err := e.store.Save(); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(e.dir, "app"), 0o755)
	appendTo(t, filepath.Join(e.dir, "app", "app.log"), "app line\n")
	e.start(t, `{"path":"DIR/*/*","topic":"t","start":"beginning"}`)
	waitFor(t, "the application's line", func() bool { return hasAll(t, e.snd.all(), []string{"app line"}) })
	waitFor(t, "the skip logged", func() bool { return strings.Contains(logs.String(), "agent's own data_dir") })
	for _, r := range e.snd.all() {
		if r.Message != "app line" {
			t.Fatalf("sent %q from the agent's data_dir", r.Message)
		}
	}
}

// "/var/log/*" matches directories (/var/log/nginx, /var/log/journal):
// a scan passes over them without a word. Until 2026-12-03 each was logged
// as an error ("cannot collect file; retrying at every scan") once a minute.
func TestGlobMatchingADirectoryIsQuiet(t *testing.T) {
	e := newEnv(t)
	var logs testkit.Buffer
	e.log = slog.New(slog.NewTextHandler(&logs, nil))
	os.Mkdir(filepath.Join(e.dir, "nginx"), 0o755)
	appendTo(t, filepath.Join(e.dir, "syslog"), "a line\n")
	e.start(t, `{"path":"DIR/*","topic":"t","start":"beginning"}`)
	waitFor(t, "the file's line", func() bool { return hasAll(t, e.snd.all(), []string{"a line"}) })
	time.Sleep(200 * time.Millisecond) // a few more scans
	if strings.Contains(logs.String(), "nginx") {
		t.Fatalf("the directory was logged:\n%s", logs.String())
	}
}

// logrotate's compress: "/var/log/app.log*" also matches app.log.2.gz,
// whose lines were read from app.log before it was compressed. Read as
// lines it shipped binary garbage; it is passed over (and said so), and not
// opened again while its size stays.
func TestCompressedRotatedFileIsNotRead(t *testing.T) {
	e := newEnv(t)
	var logs testkit.Buffer
	e.log = slog.New(slog.NewTextHandler(&logs, nil))
	for _, c := range []struct{ name, data string }{
		{"app.log.2.gz", ""}, // written below with compress/gzip
		{"app.log.3.zst", "\x28\xb5\x2f\xfd\x00\x58line\n"},
		{"app.log.4.bz2", "BZh91AY&SYline\n"},
	} {
		p := filepath.Join(e.dir, c.name)
		if c.data == "" {
			var b bytes.Buffer
			w := gzip.NewWriter(&b)
			w.Write([]byte("old line 1\nold line 2\n"))
			w.Close()
			c.data = b.String()
		}
		if err := os.WriteFile(p, []byte(c.data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	appendTo(t, filepath.Join(e.dir, "app.log"), "plain line\n")
	appendTo(t, filepath.Join(e.dir, "app.log.5"), "BZh is how this line starts\n") // not bzip2: no block size digit
	var mu sync.Mutex
	opens := 0
	e.beforeOpen = func(path string) {
		if strings.HasSuffix(path, ".gz") {
			mu.Lock()
			opens++
			mu.Unlock()
		}
	}
	e.start(t, `{"path":"DIR/app.log*","topic":"t","start":"beginning"}`)
	waitFor(t, "the plain lines", func() bool {
		return hasAll(t, e.snd.all(), []string{"plain line", "BZh is how this line starts"})
	})
	waitFor(t, "the skips logged", func() bool {
		return strings.Count(logs.String(), "compressed file not read") == 3
	})
	time.Sleep(200 * time.Millisecond) // more scans: nothing more sent, nothing more logged
	if n := len(e.snd.all()); n != 2 {
		t.Fatalf("%d records, want the 2 plain lines: %q", n, e.snd.messages())
	}
	if n := strings.Count(logs.String(), "compressed file not read"); n != 3 {
		t.Fatalf("%d skip lines, want 3 (once a minute per file):\n%s", n, logs.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if opens > 1 {
		t.Fatalf("the unchanged compressed file was opened %d times (scans every 50 ms), want once", opens)
	}
}

// A file that starts with a UTF-8 byte order mark (Notepad, PowerShell's
// Out-File): the mark is not part of the first line's message.
func TestByteOrderMarkIsNotInTheMessage(t *testing.T) {
	e := newEnv(t)
	appendTo(t, filepath.Join(e.dir, "app.log"), "\xef\xbb\xbf{\"msg\":\"first\"}\n", "second \xef\xbb\xbf kept inside a line\n")
	e.start(t, `{"path":"DIR/app.log","topic":"t","start":"beginning"}`)
	waitFor(t, "2 lines", func() bool { return len(e.snd.all()) == 2 })
	if got := e.snd.messages(); got[0] != `{"msg":"first"}` || got[1] != "second \xef\xbb\xbf kept inside a line" {
		t.Fatalf("messages %q", got)
	}
	if off := e.snd.all()[1].Offset; off != 19 {
		t.Fatalf("second line at offset %d, want 19 (offsets count the mark)", off)
	}
}

// An entry whose path names a directory ("/var/log/nginx", meant as its
// files) is a mistake the log says how to fix.
func TestEntryNamingADirectoryIsExplained(t *testing.T) {
	e := newEnv(t)
	var logs testkit.Buffer
	e.log = slog.New(slog.NewTextHandler(&logs, nil))
	os.Mkdir(filepath.Join(e.dir, "nginx"), 0o755)
	e.start(t, `{"path":"DIR/nginx","topic":"t","start":"beginning"}`)
	waitFor(t, "the explanation", func() bool {
		return strings.Contains(logs.String(), "is a directory, not a file: write a glob of its files") && strings.Contains(logs.String(), "nginx/*.log")
	})
}

// While data_dir cannot be written (full, read-only), a file that needs a
// new id — a new file, or a truncated one's new generation — is not read:
// lines sent under an id that is not on disk would be sent again under
// another one after a crash (duplicates; found by devkit/chaos scenario 7 with
// kills while the data dir was unusable). Files whose ids are on disk go
// on; the waiting ones are read, each line once under one id, as soon as a
// save succeeds, with or without a crash in between.
func TestNewIDsWaitUntilSaved(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("crash=%v", crash), func(t *testing.T) {
			e := newEnv(t)
			a, b, c := filepath.Join(e.dir, "a.log"), filepath.Join(e.dir, "b.log"), filepath.Join(e.dir, "c.log")
			appendTo(t, a, nl("a", 1, 5)...)
			appendTo(t, c, nl("c", 1, 5)...)
			const entry = `{"path":"DIR/*.log","topic":"t","start":"beginning"}`
			e.start(t, entry)
			waitFor(t, "10 lines", func() bool { return len(e.snd.all()) == 10 })

			data := filepath.Join(e.dir, "data")
			if err := os.Rename(data, data+".away"); err != nil { // every save fails now
				t.Fatal(err)
			}
			appendTo(t, b, nl("b", 1, 5)...) // a new file
			if err := os.Truncate(c, 0); err != nil {
				t.Fatal(err)
			}
			appendTo(t, c, nl("d", 1, 3)...) // a new generation
			appendTo(t, a, nl("a", 6, 8)...) // a known file goes on
			waitFor(t, "the known file's new lines", func() bool { return hasAll(t, e.snd.all(), trimmed(nl("a", 6, 8))) })
			time.Sleep(300 * time.Millisecond) // several scans
			for _, r := range e.snd.all() {
				if strings.HasPrefix(r.Message, "b ") || strings.HasPrefix(r.Message, "d ") {
					t.Fatalf("line %q sent under an id that could not be saved", r.Message)
				}
			}
			before := e.snd.all()
			if crash {
				e.task.Close()
			}
			if err := os.Rename(data+".away", data); err != nil {
				t.Fatal(err)
			}
			if crash {
				e.crash(t)
				e.start(t, entry)
			}
			want := slices.Concat(trimmed(nl("a", 1, 8)), trimmed(nl("b", 1, 5)), trimmed(nl("d", 1, 3)))
			waitFor(t, "every line, each under one event id", func() bool { return hasAll(t, append(before, e.snd.all()...), want) })
		})
	}
}

// hookSender runs hook before each batch of topic (Kafka's backpressure on
// one task's records, in the tests below) and takes the others at once; an
// error from hook fails the batch.
type hookSender struct {
	fakeSender
	topic string
	hook  func(ctx context.Context) error
}

func (s *hookSender) SendBatch(ctx context.Context, ms []*producer.Message) (int, error) {
	if ms[0].Topic == s.topic {
		if err := s.hook(ctx); err != nil {
			return 0, err
		}
	}
	return s.fakeSender.SendBatch(ctx, ms)
}

// oneWorker is a scheduler with a single worker that never starts more
// (see TestStuckStepGetsAnotherWorker for those), closed after the tasks
// the test started (cleanups run last first).
func oneWorker(t *testing.T) *Scheduler {
	sched := NewScheduler(1, 20*time.Millisecond)
	sched.mu.Lock()
	sched.maxWorkers = 1
	sched.mu.Unlock()
	t.Cleanup(sched.Close)
	return sched
}

// TestStuckStepGetsAnotherWorker blocks the only worker of a scheduler in a
// step that never ends (a hung read, or Kafka's backpressure on one task):
// after stuckAfter without a step ending it starts another worker, so
// another task's file is still read (the first worker still blocked); the
// extra workers leave once nothing waits.
func TestStuckStepGetsAnotherWorker(t *testing.T) {
	e := newEnv(t)
	var blocked atomic.Int32
	snd := &hookSender{topic: "stuck", hook: func(ctx context.Context) error {
		blocked.Add(1)
		defer blocked.Add(-1)
		<-ctx.Done()
		return ctx.Err()
	}}
	sched := NewScheduler(1, 20*time.Millisecond)
	t.Cleanup(sched.Close)
	workers := func() int {
		sched.mu.Lock()
		defer sched.mu.Unlock()
		return sched.workers
	}
	stuck := filepath.Join(e.dir, "stuck.log")
	appendTo(t, stuck, nl("s", 1, 3)...)
	stuckTask := e.startShared(t, sched, snd, stuck, "stuck")
	waitFor(t, "the only worker to block", func() bool { return blocked.Load() == 1 })
	other := filepath.Join(e.dir, "other.log")
	appendTo(t, other, nl("o", 1, 3)...)
	e.startShared(t, sched, snd, other, "free")
	waitFor(t, "the other file's lines, read by a second worker", func() bool { return hasAll(t, snd.all(), trimmed(nl("o", 1, 3))) })
	if blocked.Load() != 1 {
		t.Fatal("the first worker came unstuck: the test proves nothing")
	}
	stuckTask.Close()
	waitFor(t, "the extra workers to leave", func() bool { return workers() == 1 })
}

// TestStopWhileWorkersBlocked stops a task while the scheduler's only
// worker is blocked sending another task's lines: the stop must not wait
// for a worker (a config change removing a file while Kafka is down).
func TestStopWhileWorkersBlocked(t *testing.T) {
	e := newEnv(t)
	var blocked atomic.Int32 // sends waiting now
	snd := &hookSender{topic: "stuck", hook: func(ctx context.Context) error {
		blocked.Add(1)
		defer blocked.Add(-1)
		<-ctx.Done()
		return ctx.Err()
	}}
	sched := oneWorker(t)
	start := func(name, topic string) *Task {
		p := filepath.Join(e.dir, name)
		appendTo(t, p, nl(name, 1, 3)...)
		return e.startShared(t, sched, snd, p, topic)
	}
	start("stuck.log", "stuck")
	waitFor(t, "the only worker to block sending the stuck task's lines", func() bool { return blocked.Load() == 1 })
	other := start("other.log", "free")
	waitFor(t, "the other task's file to be followed", func() bool { return len(other.runningKeys()) == 1 })
	if got := snd.all(); len(got) != 0 {
		t.Fatalf("the only worker should be blocked, but %d records were sent", len(got))
	}
	stopped := make(chan struct{})
	go func() { other.Close(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("stopping a task waited for the blocked worker")
	}
	if n := len(other.runningKeys()); n != 0 {
		t.Fatalf("%d files of the stopped task still followed", n)
	}
}

func (t *Task) runningKeys() []checkpoint.Key {
	t.mu.Lock()
	defer t.mu.Unlock()
	var keys []checkpoint.Key
	for k := range t.running {
		keys = append(keys, k)
	}
	return keys
}

// TestBusyFileDoesNotStarveOthers runs two tasks on one worker: a file of
// 16 MiB, slow to send (25 s at least: a loaded machine must not finish it
// before the small file's task has even started), and a small one. A step reads at
// most stepBytes, so the small file's lines arrive while the big one is
// still being read.
func TestBusyFileDoesNotStarveOthers(t *testing.T) {
	e := newEnv(t)
	snd := &hookSender{topic: "busy", hook: func(context.Context) error { time.Sleep(25 * time.Millisecond); return nil }}
	sched := oneWorker(t)
	busy := filepath.Join(e.dir, "busy.log")
	line := strings.Repeat("b", 255) + "\n"
	if err := os.WriteFile(busy, []byte(strings.Repeat(line, 16<<20/len(line))), 0o644); err != nil {
		t.Fatal(err)
	}
	e.startShared(t, sched, snd, busy, "busy")
	count := func(topic string) int {
		n := 0
		for _, r := range snd.all() {
			if strings.HasPrefix(r.Message, topic[:1]) {
				n++
			}
		}
		return n
	}
	waitFor(t, "the busy file to be read", func() bool { return count("busy") > 0 })
	small := filepath.Join(e.dir, "small.log")
	appendTo(t, small, nl("s", 1, 3)...)
	e.startShared(t, sched, snd, small, "small")
	waitFor(t, "the small file's lines", func() bool { return count("small") == 3 })
	if got, all := count("busy"), 16<<20/len(line); got >= all {
		t.Fatalf("the small file waited until the busy one was read to its end (%d of %d lines)", got, all)
	}
}

// startShared starts a task collecting path to topic on sched, sending to
// snd; it is stopped when the test ends.
func (e *env) startShared(t *testing.T, sched *Scheduler, snd Sender, path, topic string) *Task {
	t.Helper()
	es, err := collect.Parse([]byte(`[{"path":"` + path + `","topic":"` + topic + `","start":"beginning"}]`))
	if err != nil {
		t.Fatal(err)
	}
	task := Start(Options{Entry: es[0], HostName: "h", HostIP: "10.0.0.1", HostID: "host-1", AllowedPaths: []string{e.dir + "/**"},
		ScanInterval: 50 * time.Millisecond, PollInterval: 20 * time.Millisecond, CloseInactive: time.Minute,
		PartialFlush: time.Second, StopTimeout: 2 * time.Second, Scheduler: sched, Store: e.store, Sender: snd, Metrics: e.m, Log: logging.Discard()})
	t.Cleanup(task.Close)
	return task
}
