package agent

import (
	"context"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/devkit/testkit"
	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
	"github.com/logcollect/logcollect/pkg/tlsconf"
)

// swapEtcd replaces the stack's etcd with e, reached by the test client
// through cc (endpoints filled in).
func swapEtcd(t *testing.T, s *stack, e *testkit.Etcd, cc clientv3.Config) {
	t.Helper()
	s.etcd.Close()
	s.etcd = e
	t.Cleanup(e.Close)
	s.cli.Close()
	cc.Endpoints = []string{e.Endpoint()}
	s.cli = kt.EtcdClient(t, cc)
	s.cfg.Etcd.Endpoints = []string{e.Endpoint()}
	s.cfg.Etcd.DialTimeout = time.Second
}

// The agent reads its config and publishes its status over TLS with a
// client certificate ([etcd] tls_ca_file, tls_cert_file, tls_key_file);
// without the client certificate etcd refuses it and it says so.
func TestEtcdTLSClientCertificate(t *testing.T) {
	s := newStack(t)
	fastStatus(s)
	certs, err := testkit.GenerateCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := testkit.StartEtcd(t, testkit.EtcdOptions{TLS: &certs, ClientCertAuth: true})
	files := tlsconf.Files{CAFile: certs.CAFile, CertFile: certs.ClientCert, KeyFile: certs.ClientKey}
	tlsCfg, err := files.Config()
	if err != nil {
		t.Fatal(err)
	}
	swapEtcd(t, s, e, clientv3.Config{TLS: tlsCfg})
	if !strings.HasPrefix(e.Endpoint(), "https://") {
		t.Fatalf("etcd endpoint %s is not TLS", e.Endpoint())
	}

	// Without a client certificate: refused, retried, reported.
	noCert := *s
	noCert.cfg.Etcd.TLS = tlsconf.Files{CAFile: certs.CAFile}
	noCert.cfg.Agent.DataDir += "-nocert"
	noCert.cfg.Agent.IP = "127.0.0.2"
	noCert.logs = &testkit.Buffer{}
	_, stopNoCert := noCert.run(t)
	waitLog(t, &noCert, "read collect config from etcd; retrying")
	stopNoCert()

	s.cfg.Etcd.TLS = files
	s.run(t)
	rev := putRev(t, s, `[{"path":"DIR/tls.log","topic":"topic_tls"}]`)
	st := waitStatus(t, s, "the config applied over TLS", func(st Status) bool {
		return st.Config.State == ConfigApplied && st.Config.Revision == rev
	})
	if st.Hostname != "test-host" {
		t.Errorf("status: %+v", st)
	}
}

// enableAuth creates a root user and a "logagent" user that may read and
// write /logagent/, then turns authentication on.
func enableAuth(t *testing.T, cli *clientv3.Client, rootPass, user, pass string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	steps := []func() error{
		func() error { _, err := cli.UserAdd(ctx, "root", rootPass); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.RoleAdd(ctx, "logagent"); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, "logagent", "/logagent/", clientv3.GetPrefixRangeEnd("/logagent/"), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, user, pass); return err },
		func() error { _, err := cli.UserGrantRole(ctx, user, "logagent"); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("auth setup step %d: %v", i+1, err)
		}
	}
}

// The agent authenticates with [etcd] username and password; a wrong
// password is refused and reported; the password never appears in the
// agent's log or its status document.
func TestEtcdUsernamePassword(t *testing.T) {
	s := newStack(t)
	fastStatus(s)
	const rootPass, pass, wrong = "r00t-Secret-91", "agent-Secret-73", "wrong-Secret-55"
	enableAuth(t, s.cli, rootPass, "agent", pass)
	s.cli = kt.EtcdClient(t, clientv3.Config{Endpoints: s.cfg.Etcd.Endpoints, Username: "root", Password: rootPass})
	// The dial timeout bounds authentication too (bcrypt on the server:
	// slow under the race detector on a busy machine).
	s.cfg.Etcd.DialTimeout = 5 * time.Second

	// A wrong password: refused, retried, reported without the secret.
	bad := *s
	bad.cfg.Etcd.Username, bad.cfg.Etcd.Password = "agent", wrong
	bad.cfg.Agent.DataDir += "-wrong"
	bad.cfg.Agent.IP = "127.0.0.2"
	bad.logs = &testkit.Buffer{}
	_, stopBad := bad.run(t)
	waitLog(t, &bad, "read collect config from etcd; retrying")
	waitLog(t, &bad, "authentication failed")
	stopBad()

	s.cfg.Etcd.Username, s.cfg.Etcd.Password = "agent", pass
	s.run(t)
	rev := putRev(t, s, `[{"path":"DIR/auth.log","topic":"topic_auth"}]`)
	st := waitStatus(t, s, "the config applied with auth", func(st Status) bool {
		return st.Config.State == ConfigApplied && st.Config.Revision == rev
	})
	resp, err := s.cli.Get(context.Background(), s.cfg.StatusKey("127.0.0.1"))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("status: %v %v", resp, err)
	}
	for _, secret := range []string{pass, wrong, rootPass} {
		if strings.Contains(s.logs.String(), secret) || strings.Contains(bad.logs.String(), secret) {
			t.Errorf("a password appears in the agent's log")
		}
		if strings.Contains(string(resp.Kvs[0].Value), secret) {
			t.Errorf("a password appears in the status document")
		}
	}
	if !strings.Contains(s.logs.String(), "fleet status published") || st.Hostname == "" {
		t.Errorf("status not published with auth:\n%s", s.logs.String())
	}
}
