package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/devkit/proc"
	"github.com/logcollect/logcollect/devkit/testkit"
)

// TestSmoke runs the harness's scenarios at a tiny size against the real
// binaries: the counts must be exact and the figures sane. Speed is judged
// by `make bench`, never here.
func TestSmoke(t *testing.T) {
	root, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := t.TempDir()
	if err := proc.Build(ctx, root, bin, "./devkit/cmd/devstack", "./logagent/cmd/logagent", "./logtransfer/cmd/logtransfer"); err != nil {
		t.Fatal(err)
	}
	o := &options{bin: bin, dir: t.TempDir(), timeout: time.Minute}
	sane := func(r result) {
		t.Helper()
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Scenario, r.Err)
		}
		if r.Got != r.Want || r.Want == 0 {
			t.Errorf("%s: count %d, want exactly %d", r.Scenario, r.Got, r.Want)
		}
		if r.Wall <= 0 || r.Rate <= 0 || r.MBps <= 0 || r.CPUPerGB <= 0 || r.PeakRSS < 1<<20 || r.PeakRSS > 4<<30 {
			t.Errorf("%s: figures not sane: %+v", r.Scenario, r)
		}
	}
	sane(agentFile(ctx, o, 20000, 2))
	// Issue 19's outside conditions: no metrics endpoint, CPU read 2 s
	// after the last record; agent-many seeds its files instead of
	// scraping logagent_files_open.
	o19 := *o
	o19.cond = issue19Conditions()
	r := agentFile(ctx, &o19, 20000, 1)
	sane(r)
	if !strings.Contains(r.Scenario, "conditions issue19") || !strings.Contains(r.Extra, "until 2s after the last record") {
		t.Errorf("issue19 row: %+v", r)
	}
	sane(agentMany(ctx, &o19, 20, 10, 2*time.Second))
	sane(transfer(ctx, o, 20000, "blackhole"))

	var out bytes.Buffer
	printTable(&out, []result{{Scenario: "x", Want: 1, Got: 1, Rate: 2, Met: true}})
	if !strings.Contains(out.String(), "| x | 1 / 1 |") || !strings.Contains(out.String(), "| yes |") {
		t.Errorf("table:\n%s", out.String())
	}
}

func TestLinesDeterministic(t *testing.T) {
	a, b := appendLine(nil, 12345), appendLine(nil, 12345)
	if !bytes.Equal(a, b) || bytes.ContainsRune(a, '\n') || !bytes.Contains(a, []byte("?id=s12345 ")) {
		t.Fatalf("line %q", a)
	}
	var total int
	for i := range int64(10000) {
		total += len(appendLine(nil, i)) + 1
	}
	if avg := total / 10000; avg < 180 || avg > 215 {
		t.Errorf("average line %d bytes, want about 195", avg)
	}
}
