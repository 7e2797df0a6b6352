package testkit

import (
	"strconv"
	"testing"
)

// EtcdOptions configure a single-member etcd server (the real one, embedded
// in the devstack).
type EtcdOptions struct {
	// Port for clients on 127.0.0.1; 0 picks a free one.
	Port int
	// Dir keeps the data across a restart on the same Port; "" keeps it in a
	// temporary directory.
	Dir string
	// TLS, when set, serves clients over TLS with the certificates' server
	// pair; ClientCertAuth then requires client certificates of their CA.
	TLS            *Certs
	ClientCertAuth bool
}

// Etcd is an etcd server running in a devstack child process.
type Etcd struct {
	p *process
}

// StartEtcd starts etcd and stops it at the end of the test.
func StartEtcd(t testing.TB, o EtcdOptions) *Etcd {
	t.Helper()
	args := []string{"-no-kafka", "-no-es", "-etcd-port", strconv.Itoa(o.Port)}
	if o.Dir != "" {
		args = append(args, "-data-dir", o.Dir)
	}
	args = append(args, tlsArgs(o.TLS, o.ClientCertAuth)...)
	return &Etcd{p: startProcess(t, args)}
}

// Endpoint is the client URL ("http://127.0.0.1:PORT", https with TLS).
func (e *Etcd) Endpoint() string { return e.p.ep.Etcd }

// Close stops the server. Safe to call twice.
func (e *Etcd) Close() { e.p.Close() }
