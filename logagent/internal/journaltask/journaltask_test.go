package journaltask

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/journald"
	"github.com/logcollect/logcollect/logagent/internal/journaltest"
	"github.com/logcollect/logcollect/logagent/internal/metrics"
	"github.com/logcollect/logcollect/logagent/internal/producer"
	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
	"github.com/logcollect/logcollect/pkg/kafkaconf"
	"github.com/logcollect/logcollect/pkg/logging"
	"github.com/logcollect/logcollect/pkg/obs"
)

type env struct {
	kafka *testkit.Kafka
	sink  *producer.Kafka
	store *checkpoint.Store
	data  string
	logs  *testkit.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	journaltest.Remote(t) // skip early without the tools
	k := testkit.StartKafka(t, testkit.KafkaOptions{AutoCreateTopics: true})
	e := &env{kafka: k, data: t.TempDir(), logs: &testkit.Buffer{}}
	var err error
	e.sink, err = producer.New(producer.Config{Client: kafkaconf.Settings{Brokers: []string{k.Addr()}, Version: "2.8.0"}, ChanMaxSize: 64,
		RequiredAcks: "all", DeadLetterPath: filepath.Join(e.data, "dead-letter.ndjson")}, logging.Discard(), metrics.New(nil), obs.NewReadiness("kafka"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.sink.Close(context.Background()) })
	e.reopenStore(t)
	return e
}

// reopenStore saves the store and loads it from disk, as a restart does.
func (e *env) reopenStore(t *testing.T) {
	t.Helper()
	if e.store != nil {
		if err := e.store.Save(); err != nil {
			t.Fatal(err)
		}
	}
	s, err := checkpoint.Open(e.data, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	e.store = s
}

func (e *env) start(t *testing.T, entry string) *Task {
	t.Helper()
	es, err := collect.Parse([]byte("[" + entry + "]"))
	if err != nil {
		t.Fatal(err)
	}
	log, _ := logging.New(e.logs, "info", "text")
	task := Start(Options{Entry: es[0], HostName: "web-1", HostIP: "127.0.0.1", HostID: "host-1", Journalctl: "journalctl", AllowedPaths: []string{"/**"},
		StopTimeout: 10 * time.Second, RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		Store: e.store, Sender: e.sink, Metrics: metrics.New(nil), Log: log})
	t.Cleanup(task.Close)
	return task
}

func sample() []journaltest.Entry {
	return []journaltest.Entry{
		{Message: "nginx started", Fields: map[string]string{"_SYSTEMD_UNIT": "nginx.service", "PRIORITY": "6", "SYSLOG_IDENTIFIER": "nginx", "_PID": "10", "_HOSTNAME": "web-1"}},
		{Message: "disk failing", Fields: map[string]string{"_TRANSPORT": "kernel", "PRIORITY": "2"}},
		{Message: "upstream timed out", Fields: map[string]string{"_SYSTEMD_UNIT": "nginx.service", "PRIORITY": "3"}},
		{Message: "bin\xff\x00ary", Fields: map[string]string{"_SYSTEMD_UNIT": "app.service", "PRIORITY": "7"}},
		{Message: "from a container", Fields: map[string]string{"CONTAINER_NAME": "web", "CONTAINER_ID": "abc123", "CONTAINER_TAG": "web", "PRIORITY": "6"}},
	}
}

func waitN(t *testing.T, e *env, topic string, n int) []kt.Record {
	t.Helper()
	rs := kt.WaitFor(t, e.kafka.Addr(), topic, 20*time.Second, func(rs []kt.Record) bool { return len(rs) >= n })
	if len(rs) < n {
		t.Fatalf("%d records in %s, want %d; log:\n%s", len(rs), topic, n, e.logs.String())
	}
	return rs
}

// Every entry of a journal directory reaches Kafka with the mapped fields,
// and the checkpoint ends at the last entry's cursor.
func TestDeliversEveryEntryWithFields(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	journaltest.Write(t, filepath.Join(dir, "system.journal"), 1_700_000_000, sample())
	task := e.start(t, `{"type":"journald","topic":"sys_log","directory":"`+dir+`","seek":"head","fields":{"env":"test"}}`)
	rs := waitN(t, e, "sys_log", 5)
	time.Sleep(200 * time.Millisecond)
	if rs = kt.ReadAll(t, e.kafka.Addr(), "sys_log"); len(rs) != 5 {
		t.Fatalf("%d records, want exactly 5", len(rs))
	}
	type doc struct {
		Timestamp string            `json:"@timestamp"`
		Message   string            `json:"message"`
		Host      map[string]string `json:"host"`
		Log       struct {
			File struct {
				Path string `json:"path"`
			} `json:"file"`
			Flags []string `json:"flags"`
		} `json:"log"`
		Fields   map[string]string `json:"fields"`
		Journald map[string]string `json:"journald"`
		Event    struct {
			ID string `json:"id"`
		} `json:"event"`
	}
	docs := make([]doc, len(rs))
	ids := map[string]bool{}
	for i, r := range rs {
		if err := json.Unmarshal(r.Value, &docs[i]); err != nil {
			t.Fatalf("record %d is not JSON: %v: %s", i, err, r.Value)
		}
		if r.Key != "host-1|journald:"+dir {
			t.Errorf("Kafka key %q, want the journal's stable id", r.Key)
		}
		d := docs[i]
		if d.Fields["env"] != "test" || d.Host["name"] != "web-1" || d.Host["ip"] != "127.0.0.1" || d.Log.File.Path != "journald:"+dir || d.Event.ID == "" {
			t.Errorf("record %d: %s", i, r.Value)
		}
		ids[d.Event.ID] = true
	}
	if len(ids) != 5 {
		t.Errorf("%d distinct event ids, want 5", len(ids))
	}
	first := docs[0]
	if first.Message != "nginx started" || first.Timestamp != "2023-11-14T22:13:20.000Z" || first.Journald["unit"] != "nginx.service" ||
		first.Journald["priority"] != "6" || first.Journald["identifier"] != "nginx" || first.Journald["pid"] != "10" || first.Journald["hostname"] != "web-1" {
		t.Errorf("first record: %s", rs[0].Value)
	}
	if docs[1].Journald["transport"] != "kernel" || docs[1].Timestamp != "2023-11-14T22:13:21.000Z" {
		t.Errorf("kernel record: %s", rs[1].Value)
	}
	if docs[3].Message != "bin\ufffd\x00ary" || len(docs[3].Log.Flags) != 1 || docs[3].Log.Flags[0] != "invalid_utf8" {
		t.Errorf("byte-array message: %s", rs[3].Value)
	}
	if c := docs[4].Journald; c["container_name"] != "web" || c["container_id"] != "abc123" || c["container_tag"] != "web" {
		t.Errorf("docker driver fields: %s", rs[4].Value)
	}
	last, err := journald.TailCursor(context.Background(), journald.Options{Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, _ := e.store.GetCursor(task.Key())
		if c.Cursor == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint cursor %q, want the last entry's %q", c.Cursor, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestUnitAndPriorityFilters(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	journaltest.Write(t, filepath.Join(dir, "system.journal"), 1_700_000_000, sample())
	e.start(t, `{"type":"journald","topic":"nginx_log","directory":"`+dir+`","seek":"head","units":["nginx.service"]}`)
	e.start(t, `{"type":"journald","topic":"err_log","directory":"`+dir+`","seek":"head","priority":"err"}`)
	e.start(t, `{"type":"journald","topic":"kernel_log","directory":"`+dir+`","seek":"head","match":["_TRANSPORT=kernel"]}`)
	for topic, want := range map[string]string{
		"nginx_log":  "nginx started|upstream timed out",
		"err_log":    "disk failing|upstream timed out",
		"kernel_log": "disk failing",
	} {
		waitN(t, e, topic, strings.Count(want, "|")+1)
		time.Sleep(200 * time.Millisecond)
		if got := strings.Join(kt.Messages(kt.ReadAll(t, e.kafka.Addr(), topic)), "|"); got != want {
			t.Errorf("%s: %q, want %q", topic, got, want)
		}
	}
}

// A clean stop and restart (store reloaded from disk) resumes after the
// saved cursor: entries written while stopped are read, nothing twice,
// and the tail start skips only what existed before the entry was first
// seen.
func TestCursorResumeAfterCleanRestart(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	journaltest.Write(t, filepath.Join(dir, "a.journal"), 1_700_000_000, journaltest.Numbered("old", 1, 20, nil))
	entry := `{"type":"journald","topic":"resume_log","directory":"` + dir + `"}`
	task := e.start(t, entry)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(e.logs.String(), "following journal") {
		if time.Now().After(deadline) {
			t.Fatalf("never followed; log:\n%s", e.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	journaltest.Write(t, filepath.Join(dir, "b.journal"), 1_700_000_100, journaltest.Numbered("new", 1, 30, nil))
	waitN(t, e, "resume_log", 30)
	task.Close()

	// Written while stopped: must be read after the restart.
	journaltest.Write(t, filepath.Join(dir, "c.journal"), 1_700_000_200, journaltest.Numbered("new", 31, 30, nil))
	e.reopenStore(t)
	e.start(t, entry)
	journaltest.Write(t, filepath.Join(dir, "d.journal"), 1_700_000_300, journaltest.Numbered("new", 61, 30, nil))
	rs := waitN(t, e, "resume_log", 90)
	time.Sleep(300 * time.Millisecond)
	rs = kt.ReadAll(t, e.kafka.Addr(), "resume_log")
	seen := map[string]int{}
	for _, r := range rs {
		seen[r.Message]++
	}
	for i := 1; i <= 90; i++ {
		if m := fmt.Sprintf("new %05d", i); seen[m] != 1 {
			t.Errorf("%q delivered %d times, want once", m, seen[m])
		}
	}
	if len(rs) != 90 {
		t.Errorf("%d records, want 90 (old entries before the first start must not be read)", len(rs))
	}
	if !strings.Contains(e.logs.String(), "journal resumes after its checkpoint") {
		t.Errorf("restart did not resume from the checkpoint; log:\n%s", e.logs.String())
	}
}

// journalctl missing and a missing journal are reported once each and
// retried; the journal is read once it appears.
func TestErrorsAreReportedAndRetried(t *testing.T) {
	e := newEnv(t)
	es, _ := collect.Parse([]byte(`[{"type":"journald","topic":"x_log","seek":"head"}]`))
	log, _ := logging.New(e.logs, "info", "text")
	missing := Start(Options{Entry: es[0], HostIP: "127.0.0.1", Journalctl: filepath.Join(t.TempDir(), "no-journalctl"), StopTimeout: time.Second,
		RetryMin: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond, Store: e.store, Sender: e.sink, Metrics: metrics.New(nil), Log: log})
	defer missing.Close()

	dir := filepath.Join(t.TempDir(), "journal")
	e.start(t, `{"type":"journald","topic":"late_log","directory":"`+dir+`","seek":"head"}`)
	time.Sleep(500 * time.Millisecond) // several retries of both
	logs := e.logs.String()
	if n := strings.Count(logs, "journalctl not found"); n != 1 {
		t.Errorf("journalctl missing logged %d times at info+, want once; log:\n%s", n, logs)
	}
	if n := strings.Count(logs, "journal "+dir+": stat"); n != 1 {
		t.Errorf("missing journal logged %d times at info+, want once; log:\n%s", n, logs)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	journaltest.Write(t, filepath.Join(dir, "a.journal"), 1_700_000_000, sample()[:2])
	rs := waitN(t, e, "late_log", 2)
	if rs[0].Message != "nginx started" {
		t.Errorf("first record %q", rs[0].Message)
	}
}

// Before each journalctl run the journal is checked after symlinks,
// including a directory's entries and a --file glob's matches: links made
// after the config was accepted lead neither out of allowed_paths nor, with
// allow_journal = false, into the system journal.
func TestCheckAllowedResolvesLinks(t *testing.T) {
	dir := t.TempDir()
	sys := filepath.Join(dir, "sys") // stands in for /var/log/journal
	mk := func(p string) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, name string) {
		os.MkdirAll(filepath.Dir(name), 0o755)
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
	}
	mk(filepath.Join(sys, "mid", "system.journal"))
	mk(filepath.Join(dir, "plain", "app.journal"))
	link(filepath.Join(sys, "mid"), filepath.Join(dir, "j", "0123456789abcdef0123456789abcdef"))
	link(filepath.Join(sys, "mid", "system.journal"), filepath.Join(dir, "files", "b.journal"))
	mk(filepath.Join(dir, "files", "a.journal"))
	link("/etc", filepath.Join(dir, "out"))
	tests := []struct {
		entry       collect.Entry
		deny, allow string // the error wanted with allow_journal false, true; "" none
	}{
		{collect.Entry{Directory: filepath.Join(dir, "plain")}, "", ""},
		{collect.Entry{File: filepath.Join(dir, "plain", "app.journal")}, "", ""},
		{collect.Entry{Directory: filepath.Join(dir, "j")}, "allow_journal = false", ""},
		{collect.Entry{File: filepath.Join(dir, "files", "*.journal")}, "allow_journal = false", ""},
		{collect.Entry{File: filepath.Join(dir, "files", "b.journal")}, "allow_journal = false", ""},
		{collect.Entry{Directory: filepath.Join(dir, "out")}, "outside allowed_paths", "outside allowed_paths"},
	}
	for _, tt := range tests {
		for _, allow := range []bool{false, true} {
			task := &Task{o: Options{Entry: tt.entry, AllowedPaths: []string{dir + "/**"}, AllowJournal: allow, journalDirs: []string{sys}}}
			want := tt.deny
			if allow {
				want = tt.allow
			}
			err := task.checkAllowed()
			if (want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), want) {
				t.Errorf("%+v allow_journal=%v: err %v, want %q", tt.entry, allow, err, want)
			}
		}
	}
}
