package chaos

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Scenario 8: bad inputs beside a running load. Each must give a clear log
// line and a counted, inspectable outcome, and the sequenced files must
// still lose nothing.
func TestBadInputs(t *testing.T) {
	files := otherFiles()
	e := newEnv(t, "8 bad inputs", envOptions{files: files, rate: otherRate(),
		agentIni: map[string]string{"agent": "close_inactive = 2s"}})
	dir := e.c.LogDir
	reuse := len(files) // a sequenced file deleted and recreated
	if err := e.w.Add(reuse, FileSpec{}); err != nil {
		t.Fatal(err)
	}
	e.report.Files++
	adir := filepath.Join(dir, "adir")
	bad := filepath.Join(dir, "bad.log")
	conflict := filepath.Join(dir, "conflict.log")
	unreadable := filepath.Join(dir, "unreadable.log")
	if err := os.Mkdir(adir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{bad, conflict} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(unreadable, []byte("unreadable line\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	e.entries[reuse] = fmt.Sprintf(`{"path":%q,"topic":"chaos","format":"json","start":"beginning"}`, e.w.Path(reuse))
	e.entries[20] = fmt.Sprintf(`{"path":%q,"topic":"chaos"}`, adir)
	e.entries[21] = fmt.Sprintf(`{"path":%q,"topic":"chaos","start":"beginning"}`, bad)
	e.entries[22] = fmt.Sprintf(`{"path":%q,"topic":"chaos","format":"json","start":"beginning"}`, conflict)
	e.entries[23] = fmt.Sprintf(`{"path":%q,"topic":"chaos","start":"beginning"}`, unreadable)
	if err := e.c.PutConfig(e.ctx, e.config()); err != nil {
		t.Fatal(err)
	}
	e.write()
	e.sleep(2 * time.Second)

	// Malformed collect JSON: rejected, the last good config keeps running.
	if err := e.c.PutConfig(e.ctx, `[{"path":"`+dir+`/x.log","topic":`); err != nil {
		t.Fatal(err)
	}
	e.report.Faults++

	// A 10 MB line, NUL bytes, invalid UTF-8, then a normal line.
	var b bytes.Buffer
	b.WriteString(strings.Repeat("L", 10<<20) + "\n")
	b.WriteString("nul\x00bytes\x00here\n")
	b.WriteString("bad utf8 \xff\xfe\xfd end\n")
	b.WriteString("after the bad lines\n")
	if err := os.WriteFile(bad, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// A mapping conflict: json.conflict is a long, then an object.
	if err := os.WriteFile(conflict, []byte(`{"conflict":1}`+"\n"+`{"conflict":{"x":"an object"}}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.report.Faults += 4

	// Deleted and recreated: the reuse file's writer is separate (not
	// started): 200 lines, wait until indexed and the agent closed it
	// (close_inactive), delete, create again (same inode where the file
	// system reuses it), 200 more lines.
	e.w.WriteLines(reuse, 200)
	waitCount(t, e, reuse, 200)
	e.sleep(4 * time.Second)
	oldIno, newIno, err := e.w.Recreate(reuse)
	if err != nil {
		t.Fatal(err)
	}
	e.w.WriteLines(reuse, 250)
	e.report.Faults++
	e.report.Note("deleted and recreated file: inode %d → %d (same inode: %v)", oldIno, newIno, oldIno == newIno)

	e.sleep(pick(10*time.Second, 5*time.Second))
	// The good config again (the malformed one never ran).
	if err := e.c.PutConfig(e.ctx, e.config()); err != nil {
		t.Fatal(err)
	}
	e.tableLater = true
	res := e.finish(pick(60*time.Second, 20*time.Second))

	// Outcomes.
	log := readLog(t, e.c, e.agent.Name)
	expectLog := func(what string, subs ...string) {
		for _, l := range strings.Split(log, "\n") {
			all := true
			for _, s := range subs {
				all = all && strings.Contains(l, s)
			}
			if all {
				e.report.Note("%s: %s", what, trimLog(l))
				return
			}
		}
		t.Errorf("%s: no agent log line with %q", what, subs)
	}
	expectLog("malformed collect JSON", "rejected")
	expectLog("path is a directory", "adir", "is a directory, not a file: write a glob of its files")
	count := func(q string) int64 {
		n, err := e.c.Count(e.ctx, e.c.Index(), q)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	badPath := fmt.Sprintf(`{"term":{"log.file.path":%q}}`, bad)
	if n := count(badPath); n != 4 {
		t.Errorf("bad.log: %d documents, want 4 (10 MB line truncated, NUL, invalid UTF-8, normal)", n)
	}
	if n := count(`{"term":{"log.flags":"truncated"}}`); n != 1 {
		t.Errorf("%d documents flagged truncated, want 1", n)
	}
	if n := count(`{"term":{"log.flags":"invalid_utf8"}}`); n < 1 {
		t.Errorf("no document flagged invalid_utf8")
	}
	e.report.Note("bad.log: %d documents (10 MB line cut to max_line_bytes and flagged truncated; NUL escaped; invalid UTF-8 flagged)", count(badPath))
	if res.DeadLetters < 1 {
		t.Errorf("mapping conflict: no dead-letter document")
	}
	e.report.Note("mapping conflict: %d dead-letter document(s) in logcollect-dead-letter", res.DeadLetters)
	if n := count(fmt.Sprintf(`{"term":{"log.file.path":%q}}`, unreadable)); n == 1 {
		e.report.Note("unreadable file (mode 000): read anyway, the tests run as root; as another user the agent logs 'cannot open file' every minute and retries")
	} else if os.Geteuid() != 0 {
		expectLog("unreadable file", "unreadable.log")
	}
	e.printTable()
}

func waitCount(t *testing.T, e *env, f int, want int64) {
	t.Helper()
	// Under the full load the file's lines queue behind a backlog.
	limit := pick(5*time.Minute, time.Minute)
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		n, err := e.c.Count(e.ctx, e.c.Index(), fmt.Sprintf(`{"term":{"json.f":%d}}`, f))
		if err == nil && n >= want {
			return
		}
		e.sleep(500 * time.Millisecond)
	}
	t.Fatalf("file %d: fewer than %d documents after %v", f, want, limit)
}
