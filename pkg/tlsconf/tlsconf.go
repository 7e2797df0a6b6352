// Package tlsconf turns the TLS file settings every client in the project
// has (etcd, Kafka, Elasticsearch) into a *tls.Config.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/logcollect/logcollect/pkg/settings"
)

// Files names the PEM files of a TLS client.
type Files struct {
	CAFile             string // trusted CA bundle; "" uses the system pool
	CertFile, KeyFile  string // client certificate for mutual TLS; both or neither
	InsecureSkipVerify bool   // for development only
	Enable             bool   // TLS with the system pool and no files
}

// Read reads <prefix>tls, <prefix>tls_ca_file, <prefix>tls_cert_file,
// <prefix>tls_key_file and <prefix>tls_insecure_skip_verify from section.
func Read(f *settings.File, section, prefix string) Files {
	files := Files{
		Enable:             f.Bool(section, prefix+"tls", false),
		CAFile:             f.String(section, prefix+"tls_ca_file", ""),
		CertFile:           f.String(section, prefix+"tls_cert_file", ""),
		KeyFile:            f.String(section, prefix+"tls_key_file", ""),
		InsecureSkipVerify: f.Bool(section, prefix+"tls_insecure_skip_verify", false),
	}
	if (files.CertFile == "") != (files.KeyFile == "") {
		f.Check(section, prefix+"tls_cert_file", files.CertFile, fmt.Errorf("tls_cert_file and tls_key_file together (both or neither)"))
	}
	return files
}

// Enabled reports whether any TLS setting asks for TLS.
func (f Files) Enabled() bool {
	return f.Enable || f.CAFile != "" || f.CertFile != "" || f.InsecureSkipVerify
}

// Config loads the files; it returns nil, nil when TLS is not enabled.
func (f Files) Config() (*tls.Config, error) {
	if !f.Enabled() {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: f.InsecureSkipVerify} //nolint:gosec // opt-in for development
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS CA file %s: no PEM certificates found", f.CAFile)
		}
		cfg.RootCAs = pool
	}
	if f.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load TLS client certificate %s: %w", f.CertFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
