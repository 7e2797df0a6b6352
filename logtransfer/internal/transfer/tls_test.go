package transfer

import (
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/pkg/tlsconf"

	tt "github.com/logcollect/logcollect/logtransfer/internal/transfertest"
)

// TestElasticsearchTLS indexes over HTTPS with the CA from [es] tls_ca_file,
// and shows that a server the transfer does not trust gets nothing and a
// log line naming the certificate problem.
func TestElasticsearchTLS(t *testing.T) {
	certs, err := testkit.GenerateCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	es := testkit.StartES(t, testkit.ESOptions{TLS: &certs, RefreshInterval: 100 * time.Millisecond})
	k := tt.Kafka(t, map[string]int32{"web_log": 2}, "")
	const n = 100
	tt.Produce(t, k.Addr(), "web_log", tt.Records("web-tls", n, time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)))

	untrusted := testConfig(k.Addr(), es.URL(), "g-tls-untrusted", "web_log")
	untrusted.ES.TLS = tlsconf.Files{Enable: true} // the system pool: our throwaway CA is not in it
	r := start(t, untrusted)
	tt.Eventually(t, 30*time.Second, "the certificate problem logged", func() (bool, string) {
		return strings.Contains(r.logs.String(), "certificate signed by unknown authority"), r.logs.String()
	})
	r.stop(t)
	if c := tt.Count(t, es, "logcollect-*"); c != 0 {
		t.Errorf("%d documents indexed through an untrusted connection", c)
	}

	trusted := testConfig(k.Addr(), es.URL(), "g-tls", "web_log")
	trusted.ES.TLS = tlsconf.Files{CAFile: certs.CAFile}
	r = start(t, trusted)
	tt.Eventually(t, 60*time.Second, "every record indexed over TLS", countIs(t, es, "logcollect-web_log-*", n))
	r.stop(t)
}
