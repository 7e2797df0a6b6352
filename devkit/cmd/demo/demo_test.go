package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/devkit/proc"
	"github.com/logcollect/logcollect/devkit/testkit"
)

// TestDemoEndToEnd runs `make demo` in its non-interactive form: the dev
// stack, logagent and logtransfer as real processes, sample logs with a
// rotation, and every written line searchable at the end.
func TestDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every binary")
	}
	root, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := proc.Build(ctx, root, bin, "./devkit/cmd/devstack", "./logagent/cmd/logagent", "./logtransfer/cmd/logtransfer"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = Run(ctx, []string{"-dir", filepath.Join(t.TempDir(), "demo"), "-bin", bin, "-duration", "4s", "-rate", "100", "-exit", "-random-ports"}, &out, &out)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	text := out.String()
	m := regexp.MustCompile(`all (\d+) lines are searchable`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("demo did not report all lines searchable:\n%s", text)
	}
	if n, _ := strconv.Atoi(m[1]); n < 400 {
		t.Errorf("only %d lines generated in 4s at 100/s per file", n)
	}
	for _, want := range []string{"rotated", "logcollect-web_log-", "logcollect-app_log-", "etcdctl --endpoints", "== try next",
		// The fleet part: a staged rollout over three agents of a group.
		"$ logagent rollout start -group web", "wave 1 of 3 (1): passed: 1 target healthy", "done: group web runs the candidate", "web: 3 agents, 3 on r"} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	// It ends with the console's address (the demo checked that it shows
	// the agent), not with curl commands.
	if !regexp.MustCompile(`== open http://127\.0\.0\.1:\d+/ui/\n   the console: Fleet \([1-9]\d* agents\), Rollouts, Delivery \(did every line arrive\?\), Search\n$`).MatchString(text) || strings.Contains(text, "curl ") {
		t.Errorf("the demo should end with the console's address, and print no curl:\n%s", text)
	}
	if hits := regexp.MustCompile(`: (\d+) hits`).FindStringSubmatch(text); hits == nil || hits[1] == "0" {
		t.Errorf("the demo search found nothing:\n%s", text)
	}

	// The access log's processors: parsed fields searchable, the event's
	// own time as @timestamp (the backlog's in yesterday's index), the read
	// time as event.created, the password masked.
	if hits := regexp.MustCompile(`search parsed\.status:500 .*: (\d+) hits`).FindStringSubmatch(text); hits == nil || hits[1] == "0" {
		t.Errorf("parsed.status:500 found nothing:\n%s", text)
	}
	if !regexp.MustCompile(`parsed: client_ip=10\.0\.\d+\.\d+ method=GET path=/\S* status=500 bytes=\d+`).MatchString(text) {
		t.Errorf("no parsed fields shown:\n%s", text)
	}
	times := regexp.MustCompile(`\[(logcollect-web_log-\S+)\] @timestamp (\S+) .*event\.created (\S+)`).FindAllStringSubmatch(text, -1)
	if len(times) != 2 {
		t.Fatalf("want the oldest and the newest hit with @timestamp and event.created:\n%s", text)
	}
	for i, m := range times {
		ts, err1 := time.Parse(time.RFC3339Nano, m[2])
		created, err2 := time.Parse(time.RFC3339Nano, m[3])
		if err1 != nil || err2 != nil {
			t.Errorf("hit %d: @timestamp %q, event.created %q: %v %v", i, m[2], m[3], err1, err2)
			continue
		}
		if wantIdx := "logcollect-web_log-" + ts.UTC().Format("2006.01.02"); m[1] != wantIdx {
			t.Errorf("hit %d: @timestamp %s in %s, want %s", i, m[2], m[1], wantIdx)
		}
		if i == 0 && created.Sub(ts) < 23*time.Hour {
			t.Errorf("the oldest 500 (yesterday's backlog): @timestamp %s, read at %s: want its own time, a day earlier", m[2], m[3])
		}
		if i == 1 && (created.Sub(ts) < -time.Second || created.Sub(ts) > time.Minute) {
			t.Errorf("the newest 500: @timestamp %s, read at %s: want the time it was written", m[2], m[3])
		}
	}
	if strings.Contains(text, demoPassword) || !strings.Contains(text, "password=***") {
		t.Errorf("want the login line shown with its password masked:\n%s", text)
	}
}
