package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	tt "github.com/logcollect/logcollect/logtransfer/internal/transfertest"
	"github.com/logcollect/logcollect/pkg/program"
)

func TestBadSettingsAreUsageErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.ini")
	os.WriteFile(path, []byte("[kafka]\ntopic = web_log\nbalance_strategy = fastest\n[es]\naddress = 127.0.0.1:9200\nbulk_actions = many\nworkerz = 3\n"), 0o600)
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), []string{"-config", path}, &stdout, &stderr)
	if !errors.Is(err, program.ErrUsage) {
		t.Fatalf("err = %v, want a usage error", err)
	}
	for _, want := range []string{`[kafka] balance_strategy = "fastest": want one of range, roundrobin, sticky, cooperative-sticky`,
		`[es] bulk_actions = "many"`, `[es] workerz: unknown key`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}

	err = Run(context.Background(), []string{"-config", filepath.Join(dir, "missing.ini")}, &stdout, &stderr)
	if !errors.Is(err, program.ErrUsage) || !strings.Contains(err.Error(), "missing.ini") {
		t.Errorf("missing file: %v", err)
	}
	if err := Run(context.Background(), []string{"-bogus"}, &stdout, &stderr); !errors.Is(err, program.ErrUsage) {
		t.Errorf("unknown flag: %v", err)
	}
}

func TestHelpVersionAndCheck(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), []string{"-help"}, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("help: %v", err)
	}
	if !strings.Contains(stderr.String(), "LOGTRANSFER_<SECTION>_<KEY>") || !strings.Contains(stderr.String(), "-config") {
		t.Errorf("help text:\n%s", stderr.String())
	}
	stdout.Reset()
	if err := Run(context.Background(), []string{"-version"}, &stdout, &stderr); err != nil || !strings.HasPrefix(stdout.String(), "logtransfer ") {
		t.Errorf("version: %v %q", err, stdout.String())
	}
	stdout.Reset()
	if err := Run(context.Background(), []string{"-check", "-config", "../../conf/config.ini"}, &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), "settings ok") {
		t.Errorf("check of the shipped config: %v %q", err, stdout.String())
	}
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "logtransfer")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type proc struct {
	cmd  *exec.Cmd
	logs *tt.Buffer
	done chan struct{} // closed when the process exited, with err set
	err  error
}

func startProc(t *testing.T, bin, config string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, "-config", config), logs: &tt.Buffer{}, done: make(chan struct{})}
	p.cmd.Stderr = p.logs
	p.cmd.Stdout = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		p.err = p.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			t.Errorf("pid %d did not exit within 30s of SIGKILL", p.cmd.Process.Pid)
		}
	})
	return p
}

// TestSIGKILLMidStreamLosesNothingAndDuplicatesNothing kills the process
// while it indexes, restarts it, and checks every record is in
// Elasticsearch exactly once (ids are idempotent, so the count of documents
// equals the number of distinct records only if none is missing).
func TestSIGKILLMidStreamLosesNothingAndDuplicatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	k := tt.Kafka(t, map[string]int32{"web_log": 4}, filepath.Join(dir, "kafka"))
	es := tt.ES(t, false)
	es.SetLatency(100 * time.Millisecond) // slow bulks so the kill lands mid-stream

	config := filepath.Join(dir, "config.ini")
	ini := fmt.Sprintf(`[kafka]
brokers = %s
topics = web_log
group_id = g-kill
session_timeout = 6s
heartbeat_interval = 500ms
commit_interval = 100ms
[es]
urls = %s
workers = 2
bulk_actions = 50
flush_interval = 50ms
retry_backoff_min = 50ms
retry_backoff_max = 500ms
[transfer]
chan_max_size = 200
http_listen =
drain_timeout = 3s
shutdown_timeout = 10s
`, k.Addr(), es.URL())
	if err := os.WriteFile(config, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	const n = 3000
	recs := tt.Records("web-kill", n, time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC))
	tt.Produce(t, k.Addr(), "web_log", recs)

	first := startProc(t, bin, config)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("first process logs:\n%s", first.logs)
		}
	})
	tt.Eventually(t, 90*time.Second, "indexing under way", func() (bool, string) {
		c := tt.Count(t, es, "logcollect-web_log-*")
		return c >= 400, fmt.Sprint("count ", c)
	})
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.done
	before := tt.Count(t, es, "logcollect-web_log-*")
	committed := tt.Sum(tt.Committed(t, k.Addr(), "g-kill", "web_log", 4))
	t.Logf("killed with %d documents indexed, %d records committed", before, committed)
	if committed > int64(before) {
		t.Fatalf("committed %d records but only %d documents are in elasticsearch", committed, before)
	}
	if before >= n {
		t.Logf("the kill landed after the end of the stream; the restart check is weaker")
	}

	es.SetLatency(0)
	second := startProc(t, bin, config)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("second process logs:\n%s", second.logs)
		}
	})
	tt.Eventually(t, 60*time.Second, "every record exactly once", func() (bool, string) {
		c := tt.Count(t, es, "logcollect-web_log-*")
		if c > n {
			t.Fatalf("%d documents for %d records: duplicates", c, n)
		}
		return c == n, fmt.Sprint("count ", c)
	})
	tt.Eventually(t, 10*time.Second, "all committed", func() (bool, string) {
		s := tt.Sum(tt.Committed(t, k.Addr(), "g-kill", "web_log", 4))
		return s == n, fmt.Sprint("committed ", s)
	})
	for _, i := range []int{0, n / 2, n - 1} {
		id := tt.EventID(recs[i])
		if _, found, err := es.Get("logcollect-web_log-2026.08.01", id); err != nil || !found {
			t.Errorf("record %d (%s) missing: %v", i, id, err)
		}
	}

	// Graceful stop: SIGTERM → exit 0. When the first process had indexed
	// everything the checks above pass at once; wait until the second one
	// runs (its signal handler is installed) or SIGTERM kills it outright.
	tt.Eventually(t, 60*time.Second, "the second process in the group", func() (bool, string) {
		return strings.Contains(second.logs.String(), "kafka group session started"), ""
	})
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-second.done:
		if second.err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", second.err, second.logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no exit after SIGTERM\n%s", second.logs)
	}
	if !strings.Contains(second.logs.String(), "stopped cleanly") {
		t.Errorf("logs lack the clean stop:\n%s", second.logs)
	}
}
