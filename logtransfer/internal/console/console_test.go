package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/logtransfer/internal/indexer"
	"github.com/logcollect/logcollect/logtransfer/internal/template"
	"github.com/logcollect/logcollect/pkg/etcdconf"
	"github.com/logcollect/logcollect/pkg/fleet"
)

// stack is a console over a real etcd and the Elasticsearch emulator.
type stack struct {
	es   *testkit.ES
	etcd *testkit.Etcd
	cli  *clientv3.Client
	srv  *httptest.Server
	c    *Console
}

func newStack(t *testing.T, withEtcd bool, tune func(*Options)) *stack {
	t.Helper()
	s := &stack{es: testkit.StartES(t, testkit.ESOptions{RefreshInterval: 10 * time.Millisecond})}
	t.Cleanup(s.es.Close)
	es, err := indexer.NewClient(indexer.ClientConfig{URLs: []string{s.es.URL()}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(es.Stop)
	// The transfer's templates: keyword fields the audit aggregates on.
	if _, err := template.Install(context.Background(), es, template.Spec{Name: "logcollect", IndexPattern: "logcollect-*", DeadLetterIndex: "logcollect-dead-letter"}); err != nil {
		t.Fatal(err)
	}
	o := Options{ES: ElasticSearcher{Client: es}, Indices: "logcollect-*", DeadLetterIndex: "logcollect-dead-letter",
		Keys: fleet.Keys{CollectPattern: fleet.DefaultCollectPattern}, StatusPattern: "/logagent/%s/status", StaleAfter: time.Minute}
	if withEtcd {
		s.etcd = testkit.StartEtcd(t, testkit.EtcdOptions{})
		t.Cleanup(s.etcd.Close)
		o.Etcd = etcdconf.Settings{Endpoints: []string{s.etcd.Endpoint()}, DialTimeout: 5 * time.Second}
		s.cli, err = etcdconf.New(o.Etcd)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.cli.Close() })
	}
	return s.serve(t, o, tune)
}

// newStackOver serves another console over the same etcd and emulator.
func newStackOver(t *testing.T, s *stack, tune func(*Options)) *stack {
	t.Helper()
	o := s.c.o
	return (&stack{es: s.es, etcd: s.etcd, cli: s.cli}).serve(t, o, tune)
}

func (s *stack) serve(t *testing.T, o Options, tune func(*Options)) *stack {
	t.Helper()
	if tune != nil {
		tune(&o)
	}
	var err error
	s.c, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.c.Close() })
	s.srv = httptest.NewServer(s.c)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *stack) get(t *testing.T, path string, into any) int {
	t.Helper()
	resp, err := http.Get(s.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Logf("GET %s: %s %s", path, resp.Status, data)
	}
	if into != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, into); err != nil {
			t.Fatalf("%s: %v: %s", path, err, data)
		}
	}
	return resp.StatusCode
}

func (s *stack) put(t *testing.T, key string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.cli.Put(context.Background(), key, string(data)); err != nil {
		t.Fatal(err)
	}
}

// index writes documents with _bulk and refreshes.
func (s *stack) index(t *testing.T, docs map[string]string) {
	t.Helper()
	var b bytes.Buffer
	for id, doc := range docs {
		index, _, _ := strings.Cut(id, "/")
		fmt.Fprintf(&b, `{"index":{"_index":%q,"_id":%q}}`+"\n%s\n", index, id, doc)
	}
	resp, err := http.Post(s.es.URL()+"/_bulk?refresh=true", "application/x-ndjson", &b)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || bytes.Contains(body, []byte(`"errors":true`)) {
		t.Fatalf("bulk: %s %s", resp.Status, body)
	}
}

func TestPagesAndHeaders(t *testing.T) {
	s := newStack(t, false, nil)
	for _, p := range []string{"/ui/", "/ui/app.js", "/ui/style.css"} {
		resp, err := http.Get(s.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(body) < 100 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("%s: %s, %d bytes, CSP %q", p, resp.Status, len(body), resp.Header.Get("Content-Security-Policy"))
		}
	}
	// Without [etcd] the fleet pages say why they are empty.
	for _, p := range []string{"fleet", "rollouts", "delivery"} {
		var off etcdOff
		if code := s.get(t, "/ui/api/"+p, &off); code != 200 || off.Enabled || !strings.Contains(off.Reason, "[etcd] endpoints") {
			t.Errorf("%s without etcd: %d %+v", p, code, off)
		}
	}
	// A POST without the console's header is refused (CSRF), and GET has no side effect.
	resp, err := http.Post(s.srv.URL+"/ui/api/rollouts/web/abort", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST without %s: %s", CSRFHeader, resp.Status)
	}
	if code := s.get(t, "/ui/api/rollouts/web/abort", nil); code < 400 {
		t.Errorf("GET abort: %d", code)
	}
}

func TestSearch(t *testing.T) {
	s := newStack(t, false, nil)
	now := time.Now().UTC()
	day := now.Format("2006.01.02")
	doc := func(ago time.Duration, msg, host string) string {
		return fmt.Sprintf(`{"@timestamp":%q,"message":%q,"host":{"name":%q}}`, now.Add(-ago).Format(time.RFC3339Nano), msg, host)
	}
	s.index(t, map[string]string{
		"logcollect-web-" + day + "/1": doc(1*time.Minute, "GET /a 200", "web-1"),
		"logcollect-web-" + day + "/2": doc(2*time.Minute, "GET /b 500 error", "web-1"),
		"logcollect-web-" + day + "/3": doc(3*time.Minute, "GET /c 500 error", "web-2"),
		"logcollect-web-" + day + "/4": doc(30*time.Minute, "GET /d 500 error", "web-2"), // outside 15 minutes
		"logcollect-dead-letter/5":     doc(time.Minute, "error that was rejected", "web-1"),
	})
	for _, tc := range []struct {
		query   string
		total   int64
		newest  string
		buckets int
	}{
		{"?q=error", 2, "logcollect-web-" + day + "/2", 31},                                                   // 30 bars of 30 s, and one where the range starts mid-bar
		{"?q=" + urlq(`error AND host.name:"web-2"`) + "&from=now-1h", 2, "logcollect-web-" + day + "/3", 61}, // 1 minute bars
		{"?from=now-1h&size=1", 4, "logcollect-web-" + day + "/1", 61},
		{"?q=nothing", 0, "", 31},
	} {
		var res SearchResult
		if code := s.get(t, "/ui/api/search"+tc.query, &res); code != 200 {
			t.Fatalf("%s: HTTP %d", tc.query, code)
		}
		var sum int64
		for _, b := range res.Buckets {
			sum += b.Count
		}
		if res.Total != tc.total || sum != tc.total || len(res.Buckets) < tc.buckets-1 || len(res.Buckets) > tc.buckets {
			t.Errorf("%s: total %d, histogram sums to %d in %d buckets; want %d in ~%d", tc.query, res.Total, sum, len(res.Buckets), tc.total, tc.buckets)
		}
		if tc.newest != "" && (len(res.Hits) == 0 || res.Hits[0].ID != tc.newest) {
			t.Errorf("%s: hits %+v, want %s first", tc.query, res.Hits, tc.newest)
		}
	}
	for _, bad := range []string{"?from=yesterday", "?from=now&to=now-1h", "?size=100000"} {
		if code := s.get(t, "/ui/api/search"+bad, nil); code != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400", bad, code)
		}
	}
}

func urlq(s string) string { return strings.NewReplacer(" ", "+", `"`, "%22", ":", "%3A").Replace(s) }

func TestInterval(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		span time.Duration
		want string
	}{{time.Minute, "1s"}, {15 * time.Minute, "30s"}, {time.Hour, "1m"}, {24 * time.Hour, "30m"}, {7 * 24 * time.Hour, "3h"}, {365 * 24 * time.Hour, "7d"}} {
		if got := esDuration(interval(t0, t0.Add(tc.span))); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.span, got, tc.want)
		}
	}
}
