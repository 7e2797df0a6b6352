package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
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
	sane(agentFile(ctx, o, 20000, 2, chain{}, containerLogs{}))
	// The chain's row also reads records back: parsed, event time, masked.
	sane(agentFile(ctx, o, 20000, 1, nginxChain, containerLogs{}))
	// Container logs read records back too: the message without its
	// framing, the pod from the path, and with -kubernetes the node and
	// labels from a real kube-apiserver.
	sane(agentFile(ctx, o, 20000, 1, chain{}, containerLogs{format: "docker"}))
	if _, err := testkit.KubeAPIServerBinary(); err != nil {
		t.Errorf("no kube-apiserver for -kubernetes: %v", err)
	} else {
		r := agentFile(ctx, o, 20000, 1, chain{}, containerLogs{format: "cri", api: true, kube: true})
		sane(r)
		if !strings.Contains(r.Scenario, "pod metadata") {
			t.Errorf("kubernetes row: %+v", r)
		}
	}
	// Issue 19's outside conditions: no metrics endpoint, CPU read 2 s
	// after the last record; agent-many seeds its files instead of
	// scraping logagent_files_open.
	o19 := *o
	o19.cond = issue19Conditions()
	r := agentFile(ctx, &o19, 20000, 1, chain{}, containerLogs{})
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

// TestChainFlag: -chain and -processors, and that the nginx chain's check
// fails on what the agent sends without processors (so an ignored chain
// cannot pass as a fast one).
func TestChainFlag(t *testing.T) {
	if c, err := chainFlag("nginx", ""); err != nil || c.name != "nginx" || !strings.Contains(c.json, `"format":"nginx"`) {
		t.Errorf("-chain nginx: %+v, %v", c, err)
	}
	if c, err := chainFlag("", ""); err != nil || c.json != "" {
		t.Errorf("no chain: %+v, %v", c, err)
	}
	for _, name := range []string{"apache", "x"} {
		if _, err := chainFlag(name, ""); err == nil {
			t.Errorf("-chain %s accepted", name)
		}
	}
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.json"), filepath.Join(dir, "bad.json")
	os.WriteFile(good, []byte("[\n {\"type\": \"drop\", \"pattern\": \"^x\"}\n]\n"), 0o644)
	os.WriteFile(bad, []byte(`{"type":"drop"}`), 0o644)
	if c, err := chainFlag("", good); err != nil || c.json != `[{"type":"drop","pattern":"^x"}]` || c.verify != nil {
		t.Errorf("-processors good.json: %+v, %v", c, err)
	}
	for _, args := range [][2]string{{"", bad}, {"", filepath.Join(dir, "missing.json")}, {"nginx", good}} {
		if _, err := chainFlag(args[0], args[1]); err == nil {
			t.Errorf("chainFlag(%q, %q) accepted", args[0], args[1])
		}
	}

	// The flags reach the scenario: a bad chain is the row's error.
	var out, errOut bytes.Buffer
	err := Run(context.Background(), []string{"-dir", t.TempDir(), "agent-file", "-chain", "apache"}, &out, &errOut)
	if err == nil || !strings.Contains(out.String(), `-chain "apache": want nginx`) {
		t.Errorf("agent-file -chain apache: %v\n%s%s", err, out.String(), errOut.String())
	}

	var secrets, emails int
	for seq := range int64(1000) {
		line := appendLine(nil, seq)
		if bytes.Contains(line, []byte("&password="+secretPrefix)) {
			secrets++
		}
		if bytes.Contains(line, []byte("@shop.example [")) {
			emails++
		}
		if seq < 200 {
			raw := agentRecord(nil, seq, seq*200, line)
			if err := nginxChain.verify(raw); err == nil {
				t.Fatalf("the nginx chain's check passes a record no chain made: %s", raw)
			}
		}
	}
	if secrets < 30 || secrets > 100 || emails < 30 || emails > 100 {
		t.Errorf("%d of 1000 lines with a password, %d with an e-mail address; want about 1 in 16 each", secrets, emails)
	}
}
