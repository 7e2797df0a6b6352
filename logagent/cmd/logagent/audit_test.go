package main

import (
	"context"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/devkit/testkit"
	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
)

func TestAuditUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"audit"}, "-es is required"},
		{[]string{"audit", "-es", "127.0.0.1:9200"}, `-es "127.0.0.1:9200": want an http:// or https:// URL`},
		{[]string{"audit", "-es", "http://x", "-o", "yaml"}, `-o "yaml": want text or json`},
		{[]string{"audit", "-es", "http://x", "-host", "web-1"}, `-host "web-1" is not an IP address`},
		{[]string{"audit", "-es", "http://x", "-settle", "10s", "-wait", "5s"}, "-wait at least -settle"},
		{[]string{"audit", "-es", "http://x", "extra"}, "unexpected arguments"},
		{[]string{"audit", "-es", "https://x", "-es-ca", "/nonexistent/ca.pem"}, "-es-ca: read TLS CA file"},
	} {
		t.Setenv("LOGAGENT_AUDIT_ES_URL", "")
		code, _, errs := run(t, tc.args...)
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, errs, exitUsage, tc.want)
		}
	}
}

// The audit reads every status document from etcd, -group and -host pick
// agents by the status's groups and IP, and the exit code says whether
// lines are missing. The documents are written here as agents write them
// (the fleet work adds groups).
func TestAuditFiltersAndExitCode(t *testing.T) {
	e := testkit.StartEtcd(t, testkit.EtcdOptions{})
	es := testkit.StartES(t, testkit.ESOptions{RefreshInterval: 50 * time.Millisecond})
	cli := kt.EtcdClient(t, clientv3.Config{Endpoints: []string{e.Endpoint()}})
	for key, doc := range map[string]string{
		"/logagent/10.0.0.5/status": `{"ip":"10.0.0.5","hostname":"web-1","groups":[{"group":"web"}],
			"files":[{"path":"/var/log/a.log","topic":"t","id":"a1","offset":0,"device":1,"inode":2,"events":0,"dropped":0,"counted_since":0}]}`,
		"/logagent/10.0.0.6/status": `{"ip":"10.0.0.6","hostname":"db-1","groups":[{"group":"db"}],
			"files":[{"path":"/var/log/b.log","topic":"t","id":"b1","offset":30,"device":1,"inode":3,"events":3,"dropped":0,"counted_since":0}]}`,
		"/logagent/10.0.0.6/collect_config": `[]`,
	} {
		if _, err := cli.Put(context.Background(), key, doc); err != nil {
			t.Fatal(err)
		}
	}
	audit := func(args ...string) (int, string, string) {
		return run(t, append([]string{"audit", "-es", es.URL(), "-endpoints", e.Endpoint(), "-settle", "200ms", "-wait", "2s"}, args...)...)
	}
	code, out, errs := audit("-group", "web")
	if code != exitOK || !strings.Contains(out, "audit: 1 hosts, 1 files: 0 acked") || !strings.HasSuffix(strings.TrimSpace(out), ": ok") {
		t.Errorf("-group web: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = audit()
	if code != exitRuntime || !strings.Contains(out, "10.0.0.6  /var/log/b.log  0-30") || !strings.Contains(out, "10.0.0.6 /var/log/b.log (device 1, inode 3): missing lines in bytes 0-30") ||
		!strings.Contains(out, "audit: 2 hosts, 2 files: 3 acked, 0 dropped, 0 indexed, 0 dead-lettered, 0 in flight, 3 missing: MISSING") {
		t.Errorf("all agents: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = audit("-host", "10.0.0.6", "-o", "json")
	if code != exitRuntime || !strings.Contains(out, `"missing": 3`) || strings.Contains(out, "10.0.0.5") {
		t.Errorf("-host 10.0.0.6 -o json: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = audit("-group", "nobody")
	if code != exitRuntime || !strings.Contains(errs, "no agent publishes status in group nobody") {
		t.Errorf("-group nobody: exit %d %q", code, errs)
	}
}

// An https Elasticsearch is audited with -es-ca, and refused without it
// (its CA is not the system's).
func TestAuditTLS(t *testing.T) {
	certs, err := testkit.GenerateCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := testkit.StartEtcd(t, testkit.EtcdOptions{})
	es := testkit.StartES(t, testkit.ESOptions{TLS: &certs})
	cli := kt.EtcdClient(t, clientv3.Config{Endpoints: []string{e.Endpoint()}})
	if _, err := cli.Put(context.Background(), "/logagent/10.0.0.5/status",
		`{"ip":"10.0.0.5","files":[{"path":"/var/log/a.log","topic":"t","id":"a1","offset":0,"events":0,"counted_since":0}]}`); err != nil {
		t.Fatal(err)
	}
	args := []string{"audit", "-es", es.URL(), "-endpoints", e.Endpoint()}
	if code, out, errs := run(t, append(args, "-es-ca", certs.CAFile)...); code != exitOK || !strings.Contains(out, "0 missing: ok") {
		t.Errorf("with -es-ca: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := run(t, args...); code != exitRuntime || !strings.Contains(errs, "certificate") {
		t.Errorf("without -es-ca: exit %d %q", code, errs)
	}
}
