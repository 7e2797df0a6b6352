package etcdconf

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/pkg/backoff"
	"github.com/logcollect/logcollect/pkg/settings"
	"github.com/logcollect/logcollect/pkg/tlsconf"
)

func TestConnect(t *testing.T) {
	fast := func() *backoff.Backoff {
		return &backoff.Backoff{Min: 10 * time.Millisecond, Max: 20 * time.Millisecond}
	}
	e := Settings{Endpoints: []string{"127.0.0.1:2379"}, DialTimeout: DefaultDialTimeout}
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

func TestRead(t *testing.T) {
	d := Settings{Endpoints: []string{"127.0.0.1:2379"}, DialTimeout: DefaultDialTimeout}
	for _, tc := range []struct {
		name, ini string
		env       map[string]string
		want      Settings
		err       string
	}{
		{name: "empty section keeps the defaults", want: d},
		{name: "tutorial aliases", ini: "[etcd]\naddress = 10.0.0.1:2379\ntimeout = 3\n",
			want: Settings{Endpoints: []string{"10.0.0.1:2379"}, DialTimeout: 3 * time.Second}},
		{name: "credentials and TLS", ini: "[etcd]\nendpoints = a:1, b:2\ndial_timeout = 500ms\nusername = u\npassword = p\ntls_ca_file = /ca.pem\n",
			want: Settings{Endpoints: []string{"a:1", "b:2"}, DialTimeout: 500 * time.Millisecond, Username: "u", Password: "p", TLS: tlsconf.Files{CAFile: "/ca.pem"}}},
		{name: "environment overrides", ini: "[etcd]\nendpoints = a:1\n", env: map[string]string{"X_ETCD_ENDPOINTS": "c:3"},
			want: Settings{Endpoints: []string{"c:3"}, DialTimeout: DefaultDialTimeout}},
		{name: "bad timeout", ini: "[etcd]\ndial_timeout = soon\n", err: "[etcd] dial_timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := settings.Parse("x.ini", []byte(tc.ini), "X", func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if err != nil {
				t.Fatal(err)
			}
			got := Read(f, "etcd", d)
			err = f.Err()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Read = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
