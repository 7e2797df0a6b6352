package etcdclient

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/logagent/internal/config"
	"github.com/logcollect/logcollect/pkg/backoff"
	"github.com/logcollect/logcollect/pkg/tlsconf"
)

func TestConnect(t *testing.T) {
	fast := func() *backoff.Backoff {
		return &backoff.Backoff{Min: 10 * time.Millisecond, Max: 20 * time.Millisecond}
	}
	e := config.Default().Etcd
	e.DialTimeout = 100 * time.Millisecond

	// Settings that cannot work are not retried.
	bad := e
	bad.TLS = tlsconf.Files{CertFile: "/nope.pem"}
	if _, err := Connect(context.Background(), bad, fast(), func(err error) { t.Errorf("retried: %v", err) }); !errors.Is(err, ErrSettings) {
		t.Errorf("bad TLS: %v, want ErrSettings", err)
	}

	// With a username the client authenticates at once: an unreachable
	// etcd fails then, is explained and retried until ctx ends.
	down := e
	down.Endpoints, down.Username, down.Password = []string{"127.0.0.1:1"}, "agent", "secret"
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var failures []error
	if _, err := Connect(ctx, down, fast(), func(err error) { failures = append(failures, err) }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unreachable: %v, want the context's error", err)
	}
	if len(failures) < 2 || !strings.Contains(failures[0].Error(), "etcd at 127.0.0.1:1") {
		t.Errorf("failures %v: want several, explained", failures)
	}

	// A running etcd: connected at the first attempt.
	srv := testkit.StartEtcd(t, testkit.EtcdOptions{})
	defer srv.Close()
	up := e
	up.Endpoints, up.DialTimeout = []string{srv.Endpoint()}, 5*time.Second
	cli, err := Connect(context.Background(), up, fast(), func(err error) { t.Errorf("retried: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Put(context.Background(), "/k", "v"); err != nil {
		t.Fatal(err)
	}
}
