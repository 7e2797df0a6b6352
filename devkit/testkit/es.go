package testkit

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"
)

// ESOptions configure the Elasticsearch-API emulator.
type ESOptions struct {
	// Username and Password turn on HTTP basic auth.
	Username, Password string
	// RefreshInterval: writes become searchable after it (0: 1s).
	RefreshInterval time.Duration
	// Blackhole acknowledges bulks without indexing.
	Blackhole bool
	// TLS, when set, serves HTTPS with the certificates' server pair.
	TLS *Certs
}

// ES is the emulator running in a devstack child process. Its methods
// reach it through the Elasticsearch API (with the options' credentials and
// CA) and its /_emulator endpoints, as any client would.
type ES struct {
	t      testing.TB
	p      *process
	client *http.Client
}

// StartES starts the emulator and stops it at the end of the test.
func StartES(t testing.TB, o ESOptions) *ES {
	t.Helper()
	args := []string{"-no-etcd", "-no-kafka", "-es-port", "0", "-es-control", "127.0.0.1:0",
		"-es-refresh-interval", o.RefreshInterval.String(), "-es-blackhole=" + strconv.FormatBool(o.Blackhole)}
	if o.Username != "" {
		args = append(args, "-es-user", o.Username, "-es-password", o.Password)
	}
	args = append(args, tlsArgs(o.TLS, false)...)
	var transport http.RoundTripper = http.DefaultTransport
	if o.TLS != nil {
		pem, err := os.ReadFile(o.TLS.CAFile)
		if err != nil {
			t.Fatalf("emulator client CA: %v", err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	if o.Username != "" {
		transport = basicAuth{o.Username, o.Password, transport}
	}
	client := &http.Client{Timeout: getTimeout, Transport: transport}
	return &ES{t: t, p: startProcess(t, args), client: client}
}

// URL is the emulator's base URL ("http://127.0.0.1:PORT", https with TLS).
func (e *ES) URL() string { return e.p.ep.Elasticsearch }

// Close stops the emulator. Safe to call twice.
func (e *ES) Close() { e.p.Close() }

// Count refreshes the indices matching pattern (a name, comma list or
// wildcard) and counts their documents; a pattern matching nothing counts 0.
func (e *ES) Count(pattern string) (int, error) {
	const lenient = "?ignore_unavailable=true&allow_no_indices=true"
	target := e.URL() + "/" + url.PathEscape(pattern)
	if err := e.call(http.MethodPost, target+"/_refresh"+lenient, nil, nil); err != nil {
		return 0, fmt.Errorf("count %s: %w", pattern, err)
	}
	var resp struct {
		Count int `json:"count"`
	}
	if err := e.call(http.MethodGet, target+"/_count"+lenient, nil, &resp); err != nil {
		return 0, fmt.Errorf("count %s: %w", pattern, err)
	}
	return resp.Count, nil
}

// Get returns a document's source in realtime (GET <index>/_doc/<id>);
// found is false for a missing document or index.
func (e *ES) Get(index, id string) (source map[string]any, found bool, err error) {
	var resp struct {
		Found  bool           `json:"found"`
		Source map[string]any `json:"_source"`
	}
	err = e.call(http.MethodGet, e.URL()+"/"+url.PathEscape(index)+"/_doc/"+url.PathEscape(id), nil, &resp)
	var status statusError
	if errors.As(err, &status) && status.code == http.StatusNotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get %s/%s: %w", index, id, err)
	}
	return resp.Source, resp.Found, nil
}

// FailBulksFor answers every _bulk request with status until d has passed.
func (e *ES) FailBulksFor(d time.Duration, status int) {
	e.t.Helper()
	e.mustCall(http.MethodPost, e.URL()+"/_emulator/faults", map[string]any{"fail_bulks_for": d.String(), "status": status})
}

// SetLatency delays every request but the /_emulator ones by d (0: none).
func (e *ES) SetLatency(d time.Duration) {
	e.t.Helper()
	e.mustCall(http.MethodPost, e.URL()+"/_emulator/faults", map[string]string{"latency": d.String()})
}

// ClearFaults removes every injected fault.
func (e *ES) ClearFaults() {
	e.t.Helper()
	e.mustCall(http.MethodDelete, e.URL()+"/_emulator/faults", nil)
}

// SetDown takes the emulator down (connections refused) or back up on the
// same port.
func (e *ES) SetDown(down bool) {
	e.t.Helper()
	method := http.MethodDelete
	if down {
		method = http.MethodPost
	}
	if err := callJSON(http.DefaultClient, method, e.p.ep.ESControl+"/down", nil, nil); err != nil {
		e.t.Fatal(err)
	}
}

func (e *ES) mustCall(method, url string, body any) {
	e.t.Helper()
	if err := e.call(method, url, body, nil); err != nil {
		e.t.Fatal(err)
	}
}

// call is callJSON with the emulator's credentials and CA.
func (e *ES) call(method, url string, body, out any) error {
	return callJSON(e.client, method, url, body, out)
}

// basicAuth adds credentials to every request.
type basicAuth struct {
	user, password string
	next           http.RoundTripper
}

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.password)
	return b.next.RoundTrip(r)
}
