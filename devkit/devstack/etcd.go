package devstack

import (
	"fmt"
	"net/url"
	"os"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// EtcdConfig configures an embedded etcd server.
type EtcdConfig struct {
	// Port for clients on 127.0.0.1; 0 picks a free one.
	Port int
	// Dir keeps the data; "" uses a temporary directory removed at Close.
	Dir string
	// TLS, when set, serves clients over TLS (and requires client
	// certificates when ClientCertAuth).
	CertFile, KeyFile, TrustedCAFile string
	ClientCertAuth                   bool
}

// Etcd is a running embedded etcd server.
type Etcd struct {
	e       *embed.Etcd
	tempDir string
	scheme  string
}

// StartEtcd starts a single-member etcd and waits until it serves.
func StartEtcd(cfg EtcdConfig) (*Etcd, error) {
	dir, tempDir := cfg.Dir, ""
	if dir == "" {
		d, err := os.MkdirTemp("", "devstack-etcd-")
		if err != nil {
			return nil, fmt.Errorf("etcd data dir: %w", err)
		}
		dir, tempDir = d, d
	}
	ec := embed.NewConfig()
	ec.Name = "devstack"
	ec.Dir = dir
	// Fast ticks make the single member elect itself in tens of milliseconds.
	ec.TickMs, ec.ElectionMs = 10, 50
	// etcd logs every listener it closes at error level; the dev stack's
	// owner reports failures through the returned errors instead.
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	scheme := "http"
	if cfg.CertFile != "" {
		scheme = "https"
		ec.ClientTLSInfo.CertFile = cfg.CertFile
		ec.ClientTLSInfo.KeyFile = cfg.KeyFile
		ec.ClientTLSInfo.TrustedCAFile = cfg.TrustedCAFile
		ec.ClientTLSInfo.ClientCertAuth = cfg.ClientCertAuth
	}
	curl := url.URL{Scheme: scheme, Host: fmt.Sprintf("127.0.0.1:%d", cfg.Port)}
	// Port 0 for peers too: a single member never dials its peer URL.
	purl := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	ec.ListenClientUrls, ec.AdvertiseClientUrls = []url.URL{curl}, []url.URL{curl}
	ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{purl}, []url.URL{purl}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)

	e, err := embed.StartEtcd(ec)
	if err != nil {
		if tempDir != "" {
			os.RemoveAll(tempDir)
		}
		return nil, fmt.Errorf("start etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd failed while starting: %w", err)
	case <-time.After(30 * time.Second):
		e.Close()
		return nil, fmt.Errorf("etcd not ready after 30s")
	}
	return &Etcd{e: e, tempDir: tempDir, scheme: scheme}, nil
}

// Endpoint is the client URL ("http://127.0.0.1:PORT").
func (s *Etcd) Endpoint() string {
	return s.scheme + "://" + s.e.Clients[0].Addr().String()
}

// Close stops the server and removes a temporary data directory.
func (s *Etcd) Close() {
	if s.e == nil {
		return
	}
	s.e.Close()
	s.e = nil
	if s.tempDir != "" {
		os.RemoveAll(s.tempDir)
	}
}
