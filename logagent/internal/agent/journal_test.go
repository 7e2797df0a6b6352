package agent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/logcollect/logcollect/logagent/internal/journaltest"
	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
)

func journalSample() []journaltest.Entry {
	return []journaltest.Entry{
		{Message: "nginx started", Fields: map[string]string{"_SYSTEMD_UNIT": "nginx.service", "PRIORITY": "6"}},
		{Message: "disk failing", Fields: map[string]string{"_TRANSPORT": "kernel", "PRIORITY": "2"}},
		{Message: "upstream timed out", Fields: map[string]string{"_SYSTEMD_UNIT": "nginx.service", "PRIORITY": "3"}},
		{Message: "app says hi", Fields: map[string]string{"_SYSTEMD_UNIT": "app.service", "PRIORITY": "6"}},
	}
}

// journalctl missing and a bad match expression are clear errors while the
// file task of the same config keeps delivering; the system journal is
// refused when the host does not allow it.
func TestJournaldErrorsLeaveFileTaskRunning(t *testing.T) {
	s := newStack(t)
	s.cfg.Agent.Journalctl = filepath.Join(s.dir, "no-journalctl")
	s.cfg.Agent.AllowJournal = false
	s.run(t)
	addr := s.kafka.Addr()
	app := filepath.Join(s.dir, "app.log")

	s.put(t, `[{"path":"DIR/app.log","topic":"file_log","start":"beginning"},{"type":"journald","topic":"j_log","directory":"DIR","seek":"head"}]`)
	want := writeLines(t, app, "first", 1, 5)
	waitLog(t, s, "journalctl not found")
	if rs := kt.WaitFor(t, addr, "file_log", 15*time.Second, func(rs []kt.Record) bool { return contains(rs, want) }); !contains(rs, want) {
		t.Fatalf("file task next to a failing journald task delivered %q", kt.Messages(rs))
	}

	s.put(t, `[{"path":"DIR/app.log","topic":"file_log","start":"beginning"},{"type":"journald","topic":"j_log","directory":"DIR","match":["transport=kernel"]}]`)
	waitLog(t, s, `collect config entry 2 (journald `+s.dir+`): field \"match\": \"transport=kernel\" is not FIELD=value`)
	s.put(t, `[{"path":"DIR/app.log","topic":"file_log"},{"type":"journald","topic":"j_log"}]`)
	waitLog(t, s, `collect config entry 2 (journald): field \"type\": reading the system journal is disabled on this host ([agent] allow_journal = false)`)
	want = writeLines(t, app, "second", 1, 5)
	if rs := kt.WaitFor(t, addr, "file_log", 15*time.Second, func(rs []kt.Record) bool { return contains(rs, want) }); !contains(rs, want) {
		t.Fatalf("after rejected configs the file task delivered %q", kt.Messages(rs))
	}
	if rs := kt.ReadAll(t, addr, "j_log"); len(rs) != 0 {
		t.Fatalf("journald without journalctl produced %d records", len(rs))
	}
}

// journald entries are started, restarted on change (keeping their cursor
// while the journal, topic and filters stay) and stopped through etcd.
func TestJournaldReconcile(t *testing.T) {
	s := newStack(t)
	journaltest.Remote(t)
	jdir := filepath.Join(s.dir, "journal")
	journaltest.Write(t, filepath.Join(jdir, "a.journal"), 1_700_000_000, journalSample())
	s.run(t)
	addr := s.kafka.Addr()
	count := func(n int) []kt.Record {
		t.Helper()
		rs := kt.WaitFor(t, addr, "j_log", 15*time.Second, func(rs []kt.Record) bool { return len(rs) >= n })
		time.Sleep(300 * time.Millisecond) // and no more arrive
		rs = kt.ReadAll(t, addr, "j_log")
		if len(rs) != n {
			t.Fatalf("j_log has %d records %q, want %d; log:\n%s", len(rs), kt.Messages(rs), n, s.logs.String())
		}
		return rs
	}

	s.put(t, `[{"type":"journald","topic":"j_log","directory":"DIR/journal","seek":"head","units":["nginx.service"],"fields":{"v":"1"}}]`)
	count(2)
	// Changed fields: restarted, resumes after the cursor (nothing resent).
	s.put(t, `[{"type":"journald","topic":"j_log","directory":"DIR/journal","seek":"head","units":["nginx.service"],"fields":{"v":"2"}}]`)
	waitLog(t, s, "journal resumes after its checkpoint")
	journaltest.Write(t, filepath.Join(jdir, "b.journal"), 1_700_000_100, []journaltest.Entry{{Message: "nginx reloaded", Fields: map[string]string{"_SYSTEMD_UNIT": "nginx.service"}}})
	rs := count(3)
	var doc struct {
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	}
	json.Unmarshal(rs[2].Value, &doc)
	if doc.Message != "nginx reloaded" || doc.Fields["v"] != "2" {
		t.Fatalf("third record %s: want the new entry with the changed fields", rs[2].Value)
	}
	// Another unit: a new stream, from the head.
	s.put(t, `[{"type":"journald","topic":"j_log","directory":"DIR/journal","seek":"head","units":["app.service"]}]`)
	if rs := count(4); rs[3].Message != "app says hi" {
		t.Fatalf("new stream read %q", rs[3].Message)
	}
	// Removed: stopped.
	s.put(t, `[]`)
	waitLog(t, s, "task stopping")
	journaltest.Write(t, filepath.Join(jdir, "c.journal"), 1_700_000_200, []journaltest.Entry{{Message: "after removal", Fields: map[string]string{"_SYSTEMD_UNIT": "app.service"}}})
	count(4)
	if !strings.Contains(s.logs.String(), `"task started" journal=journald:`+jdir+"|j_log|") {
		t.Errorf("no task start logged for the journal; log:\n%s", s.logs.String())
	}
}

// The configs of the collect package's testdata/system_journal.txt (the
// same ones `logagent validate` is tested with) name the system journal in
// every form: an agent with allow_journal = false rejects each, one with
// allow_journal = true applies each.
func TestSystemJournalSwitch(t *testing.T) {
	s := newStack(t)
	for link, target := range map[string]string{"jlink": "/var/log/journal", "varlog": "/var/log", "runlink": "/run/log/journal"} {
		if err := os.Symlink(target, filepath.Join(s.dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile("../collect/testdata/system_journal.txt")
	if err != nil {
		t.Fatal(err)
	}
	var configs []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			configs = append(configs, l) // s.put replaces DIR
		}
	}
	s.cfg.Agent.AllowedPaths = append(s.cfg.Agent.AllowedPaths, "/var/log/**", "/run/log/**", "/var/run/**")
	s.cfg.Agent.Journalctl = filepath.Join(s.dir, "no-journalctl") // accepted journal tasks fail harmlessly
	for _, allow := range []bool{false, true} {
		s.cfg.Agent.AllowJournal = allow
		a, stop := s.run(t)
		result := "rejected"
		if allow {
			result = "applied"
		}
		base := testutil.ToFloat64(a.m.ConfigReloads.WithLabelValues(result))
		for i, c := range configs {
			s.put(t, c)
			deadline := time.Now().Add(15 * time.Second)
			for testutil.ToFloat64(a.m.ConfigReloads.WithLabelValues(result)) < base+float64(i+1) {
				if time.Now().After(deadline) {
					t.Fatalf("allow_journal = %v: %s not %s; log:\n%s", allow, c, result, s.logs.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		stop()
		if !allow && strings.Count(s.logs.String(), "allow_journal = false") < len(configs) {
			t.Fatalf("rejections do not all name allow_journal; log:\n%s", s.logs.String())
		}
	}
}
