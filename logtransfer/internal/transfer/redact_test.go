package transfer

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/devkit/testkit"
	tt "github.com/logcollect/logcollect/logtransfer/internal/transfertest"
)

// TestPasswordInURLNeverShown puts the Elasticsearch credentials in [es]
// urls (http://elastic:pw@host), as the tutorial and many deployments do,
// and checks that the password appears in no log line, no /status,
// /readyz or /metrics answer and no returned error: with the right
// password, with a wrong one (stops at start) and with an unreachable
// server (retries, errors from net/http and olivere embed the URL).
func TestPasswordInURLNeverShown(t *testing.T) {
	const pw = "hunter2-s3cret"
	es := testkit.StartES(t, testkit.ESOptions{Username: "elastic", Password: pw, RefreshInterval: 100 * time.Millisecond})
	k := tt.Kafka(t, map[string]int32{"web_log": 1}, "")
	const n = 20
	tt.Produce(t, k.Addr(), "web_log", tt.Records("web-pw", n, time.Date(2026, 8, 2, 0, 0, 0, 0, time.UTC)))
	withCreds := func(password, hostport string) string {
		return "http://elastic:" + password + "@" + hostport
	}
	esHost := strings.TrimPrefix(es.URL(), "http://")
	unreachable := fmt.Sprintf("127.0.0.1:%d", freePort(t))

	tests := []struct {
		name    string
		url     string
		running bool // Run keeps going (retrying or indexing) until stopped
		ready   func(*testing.T, *running)
	}{
		{"right password", withCreds(pw, esHost), true, func(t *testing.T, r *running) {
			tt.Eventually(t, 60*time.Second, "every record indexed", countIs(t, es, "logcollect-web_log-*", n))
		}},
		{"unreachable", withCreds(pw, unreachable), true, func(t *testing.T, r *running) {
			tt.Eventually(t, 30*time.Second, "a retry logged", func() (bool, string) {
				return strings.Contains(r.logs.String(), "unreachable at start"), ""
			})
		}},
		{"wrong password", withCreds(pw+"-wrong", esHost), false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(k.Addr(), tc.url, "g-pw-"+strings.ReplaceAll(tc.name, " ", "-"), "web_log")
			cfg.Transfer.HTTPListen = "127.0.0.1:0"
			r := start(t, cfg)
			var shown strings.Builder
			if tc.running {
				tc.ready(t, r)
				tt.Eventually(t, 10*time.Second, "the operational server", func() (bool, string) { return r.httpAddr() != "", "" })
				for _, path := range []string{"/status", "/readyz", "/metrics"} {
					body := httpGet(t, "http://"+r.httpAddr()+path)
					if path == "/status" && !strings.Contains(body, "elastic:xxxxx@") {
						t.Errorf("/status does not show the (redacted) Elasticsearch URL: %s", body)
					}
					shown.WriteString(body)
				}
				r.cancel()
			}
			select {
			case <-r.done:
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return")
			}
			shown.WriteString(r.logs.String())
			if r.err != nil {
				shown.WriteString(r.err.Error())
			}
			if !tc.running && (r.err == nil || !strings.Contains(r.err.Error(), "elastic:xxxxx@")) {
				t.Errorf("Run = %v, want an error naming the URL with its password masked", r.err)
			}
			if strings.Contains(shown.String(), pw) {
				t.Errorf("the password appears in the logs, an endpoint or the error:\n%s", shown.String())
			}
		})
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return string(b)
}
