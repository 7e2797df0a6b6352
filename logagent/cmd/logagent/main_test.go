package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
)

func TestRunFlags(t *testing.T) {
	dir := t.TempDir()
	badIni := filepath.Join(dir, "bad.ini")
	os.WriteFile(badIni, []byte("[kafka]\nrequired_acks = maybe\n[nosuch]\nx = 1\n"), 0o644)
	tests := []struct {
		args       []string
		code       int
		out, errst string
	}{
		{[]string{"-version"}, exitOK, "logagent ", ""},
		{[]string{"--help"}, exitOK, "LOGAGENT_<SECTION>_<KEY>", ""},
		{[]string{"-nope"}, exitUsage, "", "flag provided but not defined"},
		{[]string{"-config", filepath.Join(dir, "missing.ini")}, exitUsage, "", "no such file"},
		{[]string{"-config", badIni}, exitUsage, "", `[kafka] required_acks = "maybe": want one of all, leader, none`},
		{[]string{"-config", badIni}, exitUsage, "", "[nosuch] *: unknown section"},
	}
	for _, tt := range tests {
		code, out, errs := run(t, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errs, tt.errst) {
			t.Errorf("%v: code %d stdout %q stderr %q", tt.args, code, out, errs)
		}
	}
}

type proc struct {
	cmd  *exec.Cmd
	logs *bytes.Buffer
	mu   *sync.Mutex
}

type lockedBuf struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func startAgent(t *testing.T, bin, ini string) *proc {
	t.Helper()
	p := &proc{logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	p.cmd = exec.Command(bin, "-config", ini)
	p.cmd.Stderr = lockedBuf{p.mu, p.logs}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// The agent process is killed with SIGKILL mid-stream and restarted: every
// line reaches Kafka, and a line sent twice carries the same event.id.
// Then SIGTERM stops it cleanly with exit code 0.
func TestSIGKILLMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := binary(t)
	stack := kt.StartStack(t)
	k := stack.Kafka
	ini := filepath.Join(dir, "config.ini")
	os.WriteFile(ini, []byte(fmt.Sprintf(`[kafka]
address = %s
chan_max_size = 200
[etcd]
address = %s
timeout = 5
collect_log_key = /logagent/%%s/collect_config
[agent]
ip = 127.0.0.1
hostname = kill-test
data_dir = %s
http_listen =
allowed_paths = %s/**
scan_interval = 100ms
checkpoint_interval = 50ms
[log]
level = info
`, k.Addr(), stack.Etcd.Endpoint(), filepath.Join(dir, "data"), dir)), 0o644)
	logPath := filepath.Join(dir, "app.log")
	stack.PutCollect(t, `[{"path":"`+logPath+`","topic":"kill_log","start":"beginning"}]`)

	// A writer appends lines throughout the test.
	const total = 4000
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			panic(err)
		}
		defer f.Close()
		for i := 1; i <= total; i++ {
			fmt.Fprintf(f, "kill-test line %05d\n", i)
			if i%100 == 0 {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()

	p := startAgent(t, bin, ini)
	rs := kt.WaitFor(t, k.Addr(), "kill_log", 20*time.Second, func(rs []kt.Record) bool { return len(rs) >= 500 })
	if len(rs) < 500 {
		t.Fatalf("only %d records before the kill; agent log:\n%s", len(rs), p.log())
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	t.Logf("killed after %d records", len(rs))

	p2 := startAgent(t, bin, ini)
	<-writerDone
	rs = kt.WaitFor(t, k.Addr(), "kill_log", 60*time.Second, func(rs []kt.Record) bool { return distinct(rs) == total })
	if n := distinct(rs); n != total {
		t.Fatalf("%d of %d lines in Kafka after restart; agent log:\n%s", n, total, p2.log())
	}
	dups := kt.RepeatsKeepTheirIDs(t, rs)
	t.Logf("%d records, %d duplicates, all with the same event.id", len(rs), dups)

	// SIGTERM: clean exit 0 with a final checkpoint.
	p2.cmd.Process.Signal(syscall.SIGTERM)
	if err := p2.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p2.log())
	}
	if !strings.Contains(p2.log(), "checkpoints saved") {
		t.Fatalf("no final checkpoint:\n%s", p2.log())
	}
	st, cp, err := readState(filepath.Join(dir, "data"))
	fi, _ := os.Stat(logPath)
	if err != nil || !st.hasOffset(fi.Size()) {
		t.Fatalf("checkpoint does not cover the whole file (%d bytes): %s %v", fi.Size(), cp, err)
	}
}

// savedState is what the agent's checkpoints.json holds, as far as these
// tests look.
type savedState struct {
	Files map[string]struct {
		Offset int64 `json:"offset"`
	} `json:"files"`
	Cursors map[string]struct {
		Cursor string `json:"cursor"`
	} `json:"cursors"`
}

// readState decodes data/checkpoints.json; the raw bytes are for messages.
func readState(data string) (savedState, []byte, error) {
	var st savedState
	raw, err := os.ReadFile(filepath.Join(data, "checkpoints.json"))
	if err == nil {
		err = json.Unmarshal(raw, &st)
	}
	return st, raw, err
}

func (s savedState) hasOffset(off int64) bool {
	for _, f := range s.Files {
		if f.Offset == off {
			return true
		}
	}
	return false
}

// cursor returns a saved journal cursor ("" if none).
func (s savedState) cursor() string {
	for _, c := range s.Cursors {
		return c.Cursor
	}
	return ""
}

func distinct(rs []kt.Record) int {
	m := map[string]bool{}
	for _, r := range rs {
		m[r.Message] = true
	}
	return len(m)
}

// A second SIGTERM while the first stop waits for Kafka exits at once, and
// the checkpoint file is whole.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "logagent")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	logPath := filepath.Join(dir, "app.log")
	os.WriteFile(logPath, []byte("one\ntwo\n"), 0o644)
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o755)
	// etcd and Kafka are both unreachable: the cached config runs, lines
	// wait in flight, so the first stop waits for shutdown_timeout.
	os.WriteFile(filepath.Join(data, "collect_config.json"), []byte(`[{"path":"`+logPath+`","topic":"t","start":"beginning"}]`), 0o644)
	ini := filepath.Join(dir, "config.ini")
	os.WriteFile(ini, []byte(fmt.Sprintf("[kafka]\nbrokers = 127.0.0.1:1\n[etcd]\nendpoints = 127.0.0.1:1\n[agent]\nip = 127.0.0.1\ndata_dir = %s\nhttp_listen =\nallowed_paths = %s/**\nscan_interval = 100ms\ncheckpoint_interval = 50ms\nshutdown_timeout = 1m\n", data, dir)), 0o644)
	p := startAgent(t, bin, ini)
	deadline := time.Now().Add(10 * time.Second)
	for _, err := os.Stat(filepath.Join(data, "checkpoints.json")); err != nil || !strings.Contains(p.log(), "following file"); _, err = os.Stat(filepath.Join(data, "checkpoints.json")) {
		if time.Now().After(deadline) {
			t.Fatalf("agent did not start following:\n%s", p.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	err := p.cmd.Wait()
	if time.Since(start) > 3*time.Second {
		t.Fatalf("second signal took %s", time.Since(start))
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitRuntime {
		t.Fatalf("exit: %v", err)
	}
	st, cp, err := readState(data)
	if err != nil || !st.hasOffset(0) {
		t.Fatalf("checkpoint after second signal must be whole and not past unacknowledged lines: %s %v", cp, err)
	}
}
