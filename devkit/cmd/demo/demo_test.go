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
	for _, want := range []string{"rotated", "logcollect-web_log-", "logcollect-app_log-", "etcdctl --endpoints", "== try next"} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	if hits := regexp.MustCompile(`: (\d+) hits`).FindStringSubmatch(text); hits == nil || hits[1] == "0" {
		t.Errorf("the demo search found nothing:\n%s", text)
	}
}
