package devstack

import (
	"crypto/tls"
	"fmt"

	"github.com/logcollect/logcollect/devkit/testkit"
)

// TLSFiles are the PEM files a part serves TLS with (testkit.GenerateCerts
// writes a set).
type TLSFiles struct {
	CertFile, KeyFile string
	// ClientCAFile, when set, requires client certificates signed by it.
	ClientCAFile string
}

// serverConfig is nil without a certificate.
func (f TLSFiles) serverConfig() (*tls.Config, error) {
	if f.CertFile == "" && f.KeyFile == "" && f.ClientCAFile == "" {
		return nil, nil
	}
	if f.CertFile == "" || f.KeyFile == "" {
		return nil, fmt.Errorf("tls: want both a certificate and a key file")
	}
	certs := testkit.Certs{ServerCert: f.CertFile, ServerKey: f.KeyFile, CAFile: f.ClientCAFile}
	return certs.ServerTLS(f.ClientCAFile != "")
}
