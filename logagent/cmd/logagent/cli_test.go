package main

import (
	"bytes"
	"context"
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

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/logagent/internal/agent"
	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
	"github.com/logcollect/logcollect/pkg/program"
)

// run runs the binary's Run with args and returns exit code, stdout and
// stderr as main would (program.Main reports Run's error).
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := program.Report("logagent", Run(context.Background(), args, &out, &errb), &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.json", `[{"path":"/var/log/nginx/access.log","topic":"web_log"},{"path":"/srv/app/*.log","topic":"app_log","format":"json"}]`)
	bad := writeFile(t, dir, "bad.json", `[{"path":"/var/log/a.log","topic":"web log"},{"path":"/var/log/b.log","topic":"ok"},{"path":"rel.log","topic":"t"}]`)
	dup := writeFile(t, dir, "dup.json", `[{"path":"/var/log/a.log","topic":"a"},{"path":"/var/log/a.log","topic":"b"}]`)
	syntax := writeFile(t, dir, "syntax.json", `{"path":"/var/log/a.log"`)
	empty := writeFile(t, dir, "empty.json", `[]`)
	ini := writeFile(t, dir, "agent.ini", "[agent]\nallowed_paths = /var/log/**\n")
	tests := []struct {
		args     []string
		code     int
		out, err []string // every line must appear
	}{
		{[]string{"validate", good}, 0, []string{"OK: " + good + ": 2 entries\n"}, nil},
		{[]string{"validate", empty}, 0, []string{"OK: " + empty + ": 0 entries (an agent given this stops collecting)\n"}, nil},
		{[]string{"validate", bad}, 1, nil, []string{
			bad + `: collect config entry 1 (/var/log/a.log): field "topic": "web log" is not a valid Kafka topic name: ' ' is not allowed (only letters, digits, '.', '_', '-'): rename it` + "\n",
			bad + `: collect config entry 3 (rel.log): field "path": "rel.log" is relative: use an absolute path such as /var/log/app/*.log` + "\n",
			bad + ": 2 problems\n"}},
		{[]string{"validate", dup}, 1, nil, []string{
			dup + `: collect config entry 2 (/var/log/a.log): field "path": "/var/log/a.log" is also entry 1: merge them or remove one` + "\n",
			dup + ": 1 problem\n"}},
		{[]string{"validate", syntax}, 1, nil, []string{syntax + `: collect config is not a JSON array of entries: unexpected end of JSON input: write it like [{"path":"/var/log/app.log","topic":"app_log"}]` + "\n"}},
		// The allowlist of -config, flags after the file work too.
		{[]string{"validate", good, "-config", ini}, 1, nil, []string{
			good + `: collect config entry 2 (/srv/app/*.log): field "path": "/srv/app/*.log" is outside the agent's allowed_paths (/var/log/**): collect from there, or widen [agent] allowed_paths on the host` + "\n",
			good + ": 1 problem\n"}},
		{[]string{"validate", "-config", ini, empty}, 0, []string{"OK: " + empty + ": 0 entries"}, nil},
		{[]string{"validate"}, 2, nil, []string{"logagent validate: want exactly one FILE, got 0 arguments\n", "Usage: logagent validate [-config agent.ini] [-sample LOGFILE [-lines N]] FILE\n"}},
		{[]string{"validate", filepath.Join(dir, "missing.json")}, 1, nil, []string{"no such file"}},
	}
	for _, tt := range tests {
		code, out, errs := run(t, tt.args...)
		if code != tt.code {
			t.Errorf("%v: exit %d, want %d; stdout %q stderr %q", tt.args, code, tt.code, out, errs)
		}
		for _, w := range tt.out {
			if !strings.Contains(out, w) {
				t.Errorf("%v: stdout %q lacks %q", tt.args, out, w)
			}
		}
		for _, w := range tt.err {
			if !strings.Contains(errs, w) {
				t.Errorf("%v: stderr %q lacks %q", tt.args, errs, w)
			}
		}
	}
}

// validate -sample prints what each entry would send of the first lines:
// records after the processors, and the dropped lines with the reason.
func TestValidateSample(t *testing.T) {
	dir := t.TempDir()
	logf := writeFile(t, dir, "access.log", strings.Join([]string{
		`10.0.0.1 - - [21/Nov/2026:10:00:01 +0000] "GET /login?password=hunter2 HTTP/1.1" 500 12 "-" "curl/8"`,
		`10.0.0.2 - - [21/Nov/2026:10:00:02 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe"`,
		`garbage`,
		`10.0.0.4 - - [21/Nov/2026:10:00:04 +0000] "GET /four HTTP/1.1" 200 2 "-" "curl/8"`,
		`10.0.0.5 - - [21/Nov/2026:10:00:05 +0000] "GET /five HTTP/1.1" 200 2 "-" "curl/8"`,
	}, "\n")+"\n")
	cfg := writeFile(t, dir, "collect.json", `[{"path":"/var/log/nginx/access.log","topic":"web","processors":[
		{"type":"mask","builtins":["secrets"]},{"type":"parse","format":"nginx"},
		{"type":"drop","field":"parsed.path","pattern":"^/healthz"},
		{"type":"timestamp","field":"parsed.time","layouts":["nginx"]}]},
		{"path":"/var/log/raw.log","topic":"raw"},
		{"type":"journald","topic":"j"}]`)
	code, out, errs := run(t, "validate", "-sample", logf, "-lines", "4", cfg)
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	const e1, e2 = "entry 1 (/var/log/nginx/access.log): ", "entry 2 (/var/log/raw.log): "
	want := []string{
		"OK: " + cfg + ": 3 entries",
		e1 + "{", // the record, checked below
		e1 + `offset 101 dropped by drop/keep: "10.0.0.2 - - [21/Nov/2026:10:00:02 +0000] \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"kube-probe\""`,
		e1 + "{",
		e1 + "{",
		e2 + "{", e2 + "{", e2 + "{", e2 + "{",
		"entry 3 (journald:system|j|",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want it to start with %q", i+1, lines[i], w)
		}
	}
	var first struct {
		Timestamp string         `json:"@timestamp"`
		Message   string         `json:"message"`
		Parsed    map[string]any `json:"parsed"`
		Log       struct {
			Offset int64 `json:"offset"`
		} `json:"log"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[1], e1)), &first); err != nil {
		t.Fatalf("record is not JSON: %v: %s", err, lines[1])
	}
	if strings.Contains(strings.Join(lines[:5], "\n"), "hunter2") || first.Parsed["status"] != float64(500) || first.Timestamp != "2026-11-21T10:00:01.000Z" {
		t.Errorf("first record not masked, parsed and timed: %s", lines[1])
	}
	if !strings.Contains(lines[3], `"parse_failed"`) || !strings.Contains(lines[3], `"message":"garbage"`) {
		t.Errorf("the non-matching line: %s, want it kept as read and flagged parse_failed", lines[3])
	}
	if strings.Contains(lines[5], `"parsed"`) {
		t.Errorf("entry without processors parsed: %s", lines[5])
	}

	code, _, errs = run(t, "validate", "-sample", logf, "-lines", "0", cfg)
	if code != 2 || !strings.Contains(errs, "-lines 0: want 1 or more") {
		t.Errorf("-lines 0: exit %d, stderr %q", code, errs)
	}
	code, _, errs = run(t, "validate", "-sample", filepath.Join(dir, "missing.log"), cfg)
	if code != 1 || !strings.Contains(errs, "no such file") {
		t.Errorf("missing sample: exit %d, stderr %q", code, errs)
	}
}

func TestHelp(t *testing.T) {
	code, out, _ := run(t, "--help")
	for _, w := range []string{"logagent COMMAND", "validate", "put", "get", "agents", "Examples:", "-config"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("--help: exit %d, lacks %q:\n%s", code, w, out)
		}
	}
	for _, name := range []string{"validate", "put", "get", "agents"} {
		cmd, ok := lookupCommand(name)
		if !ok || !strings.Contains(commandList, "  "+name+" ") {
			t.Errorf("%s: not a command, or missing from the command list", name)
			continue
		}
		for _, args := range [][]string{{name, "-h"}, {name, "--help"}, {"help", name}} {
			code, out, errs := run(t, args...)
			if code != 0 || !strings.HasPrefix(out, "Usage: logagent "+name) || !strings.Contains(out, "Examples:\n  logagent "+name) || errs != "" {
				t.Errorf("%v: exit %d stdout %q stderr %q", args, code, out, errs)
			}
			if !strings.Contains(out, cmd.usage[:20]) {
				t.Errorf("%v: usage text missing", args)
			}
		}
	}
	code, _, errs := run(t, "frobnicate")
	if code != exitUsage || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %d %q", code, errs)
	}
	code, _, errs = run(t, "put", "-nope")
	if code != exitUsage || !strings.Contains(errs, "flag provided but not defined: -nope") || !strings.Contains(errs, "Usage: logagent put") {
		t.Errorf("bad flag: %d %q", code, errs)
	}
}

// TestCheck: -check validates the settings without starting anything: the
// shipped file passes, a bad one exits 2 naming every bad key.
func TestCheck(t *testing.T) {
	code, out, errs := run(t, "-check", "-config", "../../conf/config.ini")
	if code != exitOK || !strings.Contains(out, "settings ok: ../../conf/config.ini") {
		t.Errorf("shipped config: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	bad := writeFile(t, t.TempDir(), "bad.ini", "[kafka]\nbrokers = 127.0.0.1:9092\nchan_max_size = -5\n[agent]\nmemory_limit = 1KiB\nfrobnicate = 1\n")
	code, out, errs = run(t, "-check", "-config", bad)
	for _, w := range []string{"chan_max_size", "memory_limit", "frobnicate"} {
		if code != exitUsage || !strings.Contains(errs, w) || strings.Contains(out, "settings ok") {
			t.Errorf("bad config: exit %d, stdout %q, stderr lacks %q:\n%s", code, out, w, errs)
		}
	}
}

func TestUnreachableEtcd(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.json", `[{"path":"/var/log/a.log","topic":"a"}]`)
	for _, args := range [][]string{
		{"get", "-ip", "10.0.0.5"},
		{"put", "-ip", "10.0.0.5", good},
		{"agents"},
	} {
		start := time.Now()
		code, _, errs := run(t, append(args, "-endpoints", "127.0.0.1:1", "-dial-timeout", "300ms")...)
		if code != exitRuntime || !strings.Contains(errs, "etcd at 127.0.0.1:1 not reachable within the dial timeout (300ms)") {
			t.Errorf("%v: exit %d stderr %q", args, code, errs)
		}
		if time.Since(start) > 3*time.Second {
			t.Errorf("%v: took %s with a 300ms dial timeout", args, time.Since(start))
		}
	}
	for _, tt := range []struct {
		args []string
		err  string
	}{
		{[]string{"get", "-ip", "not-an-ip"}, `-ip "not-an-ip" is not an IP address`},
		{[]string{"get"}, "-ip or -group is required"},
		{[]string{"put", "-group", "Web", good}, `-group: group "Web": use 1-63 lower-case letters`},
		{[]string{"put", "-group", "web", "-ip", "10.0.0.5", good}, "-ip and -group name different keys: give one of them"},
		{[]string{"get", "-group", "web", "-status"}, "-status is an agent's: use -ip, or logagent agents -group web"},
	} {
		code, _, errs := run(t, tt.args...)
		if code != exitUsage || !strings.Contains(errs, tt.err) {
			t.Errorf("%v: %d %q, want usage error %q", tt.args, code, errs, tt.err)
		}
	}
}

func TestPutGet(t *testing.T) {
	e := testkit.StartEtcd(t, testkit.EtcdOptions{})
	cli := kt.EtcdClient(t, clientv3.Config{Endpoints: []string{e.Endpoint()}})
	dir := t.TempDir()
	goodJSON := `[{"path":"/var/log/nginx/access.log","topic":"web_log"}]`
	good := writeFile(t, dir, "good.json", goodJSON)
	bad := writeFile(t, dir, "bad.json", `[{"path":"/var/log/a.log","topic":"web log"}]`)
	ep := e.Endpoint()
	key := "/logagent/10.0.0.5/collect_config"

	code, _, errs := run(t, "get", "-ip", "10.0.0.5", "-endpoints", ep)
	if code != exitRuntime || !strings.Contains(errs, "no collect config at "+key+": write one with logagent put -ip 10.0.0.5 FILE") {
		t.Errorf("get absent: %d %q", code, errs)
	}
	code, out, errs := run(t, "put", "-ip", "10.0.0.5", "-endpoints", ep, bad)
	if code != exitRuntime || out != "" || !strings.Contains(errs, `field "topic": "web log" is not a valid Kafka topic name`) || !strings.Contains(errs, "nothing written") {
		t.Errorf("put bad: %d %q %q", code, out, errs)
	}
	if resp, _ := cli.Get(context.Background(), key); len(resp.Kvs) != 0 {
		t.Fatalf("a bad config was written: %s", resp.Kvs[0].Value)
	}
	code, out, errs = run(t, "put", good, "-ip", "10.0.0.5", "-endpoints", ep)
	if code != exitOK || !strings.HasPrefix(out, "wrote "+good+" (1 entry) to "+key+" at revision ") {
		t.Errorf("put good: %d %q %q", code, out, errs)
	}
	resp, err := cli.Get(context.Background(), key)
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != goodJSON {
		t.Fatalf("etcd holds %v %v", resp, err)
	}
	code, out, _ = run(t, "get", "-ip", "10.0.0.5", "-endpoints", ep)
	if code != exitOK || out != goodJSON+"\n" {
		t.Errorf("get: %d %q", code, out)
	}
	// The key follows the ini's collect_log_key; connection from the ini.
	ini := writeFile(t, dir, "agent.ini", fmt.Sprintf("[etcd]\nendpoints = %s\ncollect_log_key = /prod/%%s/collect\n", ep))
	if code, out, errs := run(t, "put", "-config", ini, "-ip", "10.0.0.6", good); code != exitOK || !strings.Contains(out, "to /prod/10.0.0.6/collect at") {
		t.Errorf("put with ini: %d %q %q", code, out, errs)
	}
	if code, out, _ := run(t, "get", "-config", ini, "-ip", "10.0.0.6"); code != exitOK || out != goodJSON+"\n" {
		t.Errorf("get with ini: %d %q", code, out)
	}
	// A group's config: its own key, derived from the collect key pattern.
	if code, out, errs := run(t, "put", "-config", ini, "-group", "web", good); code != exitOK || !strings.Contains(out, "to /prod/groups/web/collect at") {
		t.Errorf("put -group: %d %q %q", code, out, errs)
	}
	if code, out, _ := run(t, "get", "-config", ini, "-group", "web"); code != exitOK || out != goodJSON+"\n" {
		t.Errorf("get -group: %d %q", code, out)
	}
	if code, _, errs := run(t, "get", "-group", "db", "-endpoints", ep); code != exitRuntime || !strings.Contains(errs, "no collect config at /logagent/groups/db/collect_config: write one with logagent put -group db FILE") {
		t.Errorf("get -group absent: %d %q", code, errs)
	}
	code, _, errs = run(t, "get", "-status", "-ip", "10.0.0.5", "-endpoints", ep)
	if code != exitRuntime || !strings.Contains(errs, "no status at /logagent/10.0.0.5/status") {
		t.Errorf("get -status absent: %d %q", code, errs)
	}
	code, out, errs = run(t, "agents", "-endpoints", ep)
	if code != exitOK || out != "" || !strings.Contains(errs, "no agent publishes status under /logagent/<ip>/status") {
		t.Errorf("agents, none: %d %q %q", code, out, errs)
	}
	if code, out, _ := run(t, "agents", "-json", "-endpoints", ep); code != exitOK || out != "[]\n" {
		t.Errorf("agents -json, none: %d %q", code, out)
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the logagent binary once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "logagent-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "logagent")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// A running agent shows in "agents" and "get -status"; killed with SIGKILL
// its status stays until the lease expires (status_ttl), then goes; a
// SIGTERM stop removes it at once.
func TestAgentsAndStatusLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := binary(t)
	stack := kt.StartStack(t)
	e, k, cli := stack.Etcd, stack.Kafka, stack.Cli
	dir := t.TempDir()
	ini := writeFile(t, dir, "config.ini", fmt.Sprintf(`[kafka]
brokers = %s
[etcd]
endpoints = %s
status_ttl = 2s
status_interval = 200ms
status_refresh = 1s
[agent]
ip = 127.0.0.1
hostname = fleet-host
data_dir = %s
http_listen =
allowed_paths = %s/**
scan_interval = 100ms
`, k.Addr(), e.Endpoint(), filepath.Join(dir, "data"), dir))
	logPath := writeFile(t, dir, "app.log", "one\ntwo\n")
	cfgFile := writeFile(t, dir, "collect.json", `[{"path":"`+logPath+`","topic":"fleet_log","start":"beginning"}]`)
	if code, out, errs := run(t, "put", "-config", ini, "-ip", "127.0.0.1", cfgFile); code != exitOK {
		t.Fatalf("put: %d %q %q", code, out, errs)
	}

	p := startAgent(t, bin, ini)
	key := "/logagent/127.0.0.1/status"
	waitFor(t, "the agent's status with its file delivered", func() bool {
		code, out, _ := run(t, "get", "-status", "-config", ini, "-ip", "127.0.0.1")
		var st agent.Status
		return code == exitOK && json.Unmarshal([]byte(out), &st) == nil && len(st.Files) == 1 && st.Files[0].Offset == 8
	}, p)

	code, out, errs := run(t, "agents", "-config", ini)
	t.Logf("logagent agents:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || len(lines) != 2 {
		t.Fatalf("agents: %d %q %q", code, out, errs)
	}
	for _, col := range []string{"IP", "HOST", "VERSION", "FILES", "LAG", "CONFIG", "LAST ERROR"} {
		if !strings.Contains(lines[0], col) {
			t.Errorf("header %q lacks %s", lines[0], col)
		}
	}
	f := strings.Fields(lines[1])
	if len(f) < 7 || f[0] != "127.0.0.1" || f[1] != "fleet-host" || f[2] != "dev" || f[3] != "1" || f[4] != "0B" || f[5] != "applied" || !strings.HasPrefix(f[6], "r") {
		t.Errorf("agents row: %q", lines[1])
	}
	code, out, _ = run(t, "agents", "-json", "-endpoints", e.Endpoint())
	var sts []agent.Status
	if code != exitOK || json.Unmarshal([]byte(out), &sts) != nil || len(sts) != 1 || sts[0].Hostname != "fleet-host" || sts[0].Config.State != agent.ConfigApplied {
		t.Errorf("agents -json: %d %s", code, out)
	}

	// A rejected config shows in the table.
	badFile := writeFile(t, dir, "bad.json", `[{"path":"`+logPath+`","topic":"fleet log"}]`)
	if _, err := cli.Put(context.Background(), "/logagent/127.0.0.1/collect_config", mustRead(t, badFile)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "REJECTED in the agents table", func() bool {
		_, out, _ := run(t, "agents", "-config", ini)
		if strings.Contains(out, "REJECTED r") && strings.Contains(out, "collect config rejected") {
			t.Logf("logagent agents:\n%s", out)
			return true
		}
		return false
	}, p)

	// SIGKILL: the key outlives the process until the lease expires.
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	killed := time.Now()
	if resp, err := cli.Get(context.Background(), key); err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("status gone at once after SIGKILL (want it to expire with the lease): %v %v", resp, err)
	}
	waitFor(t, "the status to expire", func() bool {
		resp, err := cli.Get(context.Background(), key)
		return err == nil && len(resp.Kvs) == 0
	}, p)
	if d := time.Since(killed); d > 6*time.Second {
		t.Errorf("status expired after %s with status_ttl 2s", d)
	}

	// SIGTERM: deleted at once.
	p2 := startAgent(t, bin, ini)
	waitFor(t, "the restarted agent's status", func() bool {
		resp, err := cli.Get(context.Background(), key)
		return err == nil && len(resp.Kvs) == 1
	}, p2)
	p2.cmd.Process.Signal(syscall.SIGTERM)
	if err := p2.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p2.log())
	}
	if resp, err := cli.Get(context.Background(), key); err != nil || len(resp.Kvs) != 0 {
		t.Fatalf("status still there after a clean stop: %v %v\n%s", resp, err, p2.log())
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func waitFor(t *testing.T, what string, cond func() bool, p *proc) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; agent log:\n%s", what, p.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The CLI takes TLS and credentials from the agent's ini; failures say
// what to check and never print the password.
func TestCLITLSAndAuth(t *testing.T) {
	dir := t.TempDir()
	certs, err := testkit.GenerateCerts(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := testkit.StartEtcd(t, testkit.EtcdOptions{TLS: &certs, ClientCertAuth: true})
	defer e.Close()
	good := writeFile(t, dir, "good.json", `[{"path":"/var/log/a.log","topic":"a"}]`)
	tlsIni := writeFile(t, dir, "tls.ini", fmt.Sprintf("[etcd]\nendpoints = %s\ndial_timeout = 1s\ntls_ca_file = %s\ntls_cert_file = %s\ntls_key_file = %s\n",
		e.Endpoint(), certs.CAFile, certs.ClientCert, certs.ClientKey))
	if code, out, errs := run(t, "put", "-config", tlsIni, "-ip", "10.0.0.7", good); code != exitOK || !strings.Contains(out, "wrote") {
		t.Fatalf("put over TLS: %d %q %q", code, out, errs)
	}
	if code, out, errs := run(t, "get", "-config", tlsIni, "-ip", "10.0.0.7"); code != exitOK || !strings.Contains(out, `"topic":"a"`) {
		t.Fatalf("get over TLS: %d %q %q", code, out, errs)
	}
	noCert := writeFile(t, dir, "nocert.ini", fmt.Sprintf("[etcd]\nendpoints = %s\ndial_timeout = 500ms\ntls_ca_file = %s\n", e.Endpoint(), certs.CAFile))
	if code, _, errs := run(t, "get", "-config", noCert, "-ip", "10.0.0.7"); code != exitRuntime || !strings.Contains(errs, "not reachable within the dial timeout (500ms): check the endpoints, TLS settings") {
		t.Errorf("get without a client certificate: %d %q", code, errs)
	}

	// Username and password.
	pe := testkit.StartEtcd(t, testkit.EtcdOptions{})
	cli := kt.EtcdClient(t, clientv3.Config{Endpoints: []string{pe.Endpoint()}})
	ctx := context.Background()
	for _, step := range []func() error{
		func() error { _, err := cli.UserAdd(ctx, "root", "root-Secret-1"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	authIni := func(pass string) string {
		return writeFile(t, dir, "auth-"+pass+".ini", fmt.Sprintf("[etcd]\nendpoints = %s\nusername = root\npassword = %s\n", pe.Endpoint(), pass))
	}
	if code, out, errs := run(t, "put", "-config", authIni("root-Secret-1"), "-ip", "10.0.0.8", good); code != exitOK {
		t.Fatalf("put with password: %d %q %q", code, out, errs)
	}
	code, out, errs := run(t, "get", "-config", authIni("wrong-Secret-2"), "-ip", "10.0.0.8")
	if code != exitRuntime || !strings.Contains(errs, "rejected the credentials: check [etcd] username and password") {
		t.Errorf("get with a wrong password: %d %q", code, errs)
	}
	if strings.Contains(out+errs, "wrong-Secret-2") {
		t.Errorf("the password was printed: %q", out+errs)
	}
}

// systemJournalConfigs are the configs of the collect package's
// testdata/system_journal.txt (the agent's tests read the same file), with
// DIR replaced by dir and the symlinks it names made there.
func systemJournalConfigs(t *testing.T, dir string) []string {
	t.Helper()
	for link, target := range map[string]string{"jlink": "/var/log/journal", "varlog": "/var/log", "runlink": "/run/log/journal"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile("../../internal/collect/testdata/system_journal.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, strings.ReplaceAll(l, "DIR", dir))
		}
	}
	return out
}

// validate -config rejects every config naming the system journal when the
// ini sets allow_journal = false, as the agent does, and accepts them when
// it is true.
func TestValidateSystemJournal(t *testing.T) {
	dir := t.TempDir()
	configs := systemJournalConfigs(t, dir)
	policy := "[agent]\nallowed_paths = /var/log/**, /run/log/**, /var/run/**, " + dir + "/**\nallow_journal = "
	deny := writeFile(t, dir, "deny.ini", policy+"false\n")
	allow := writeFile(t, dir, "allow.ini", policy+"true\n")
	for i, c := range configs {
		f := writeFile(t, dir, fmt.Sprintf("c%d.json", i), c)
		if code, out, errs := run(t, "validate", "-config", deny, f); code != 1 || !strings.Contains(errs, "allow_journal = false") {
			t.Errorf("allow_journal = false: %s: exit %d, stdout %q stderr %q; want 1 and the journal named", c, code, out, errs)
		}
		if code, out, errs := run(t, "validate", "-config", allow, f); code != 0 {
			t.Errorf("allow_journal = true: %s: exit %d, stdout %q stderr %q; want 0", c, code, out, errs)
		}
	}
}
