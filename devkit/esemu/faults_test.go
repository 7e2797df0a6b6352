package esemu

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFailNextBulks(t *testing.T) {
	for _, tc := range []struct {
		status   int
		wantType string
	}{{429, "es_rejected_execution_exception"}, {503, "cluster_block_exception"}} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			s := startServer(t, Config{})
			s.FailNextBulks(2, tc.status)
			body := ndjson(`{"index":{"_index":"f","_id":"1"}}`, `{"a":1}`)
			for i := 0; i < 2; i++ {
				status, resp := call(t, s, "POST", "/_bulk", body)
				if status != tc.status || dig(resp, "error", "type") != tc.wantType || dig(resp, "status") != float64(tc.status) {
					t.Fatalf("attempt %d: %d %v", i, status, resp)
				}
			}
			if status, _ := call(t, s, "POST", "/_bulk", body); status != 200 {
				t.Fatalf("third bulk: %d", status)
			}
			if n := mustCount(t, s, "f"); n != 1 {
				t.Errorf("count %d: failed bulks must not index", n)
			}
			if st := s.Stats(); st.FaultsInjected != 2 || st.BulkRequests != 3 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestFailBulksForAndClear(t *testing.T) {
	s := startServer(t, Config{})
	s.FailBulksFor(150*time.Millisecond, 503)
	body := ndjson(`{"index":{"_index":"f"}}`, `{"a":1}`)
	if status, _ := call(t, s, "POST", "/_bulk", body); status != 503 {
		t.Fatalf("during window: %d", status)
	}
	if status, _ := call(t, s, "GET", "/", ""); status != 200 {
		t.Errorf("non-bulk requests must not fail: %d", status)
	}
	time.Sleep(200 * time.Millisecond)
	if status, _ := call(t, s, "POST", "/_bulk", body); status != 200 {
		t.Fatalf("after window: %d", status)
	}
	s.FailBulksFor(time.Hour, 429)
	s.ClearFaults()
	if status, _ := call(t, s, "POST", "/_bulk", body); status != 200 {
		t.Fatalf("after ClearFaults: %d", status)
	}
}

func TestLatency(t *testing.T) {
	s := startServer(t, Config{})
	s.SetLatency(120 * time.Millisecond)
	start := time.Now()
	call(t, s, "GET", "/", "")
	if d := time.Since(start); d < 120*time.Millisecond {
		t.Errorf("request took %v, want >= 120ms", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL(), nil)
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("client timeout not hit: %v", err)
	}
}

func TestDropNextConnections(t *testing.T) {
	s := startServer(t, Config{})
	s.DropNextConnections(1)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	body := ndjson(`{"index":{"_index":"dr","_id":"1"}}`, `{"a":1}`)
	// POST is not retried by net/http, so the dropped connection surfaces.
	_, err := client.Post(s.URL()+"/_bulk", "application/x-ndjson", strings.NewReader(body))
	if err == nil {
		t.Fatal("dropped connection produced a response")
	}
	resp, err := client.Post(s.URL()+"/_bulk", "application/x-ndjson", strings.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("next request: %v %v", resp, err)
	}
	resp.Body.Close()
	if st := s.Stats(); st.DroppedConnections != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestSetDownRefusesThenReturnsOnSamePort(t *testing.T) {
	s := startServer(t, Config{})
	addr := s.Addr()
	call(t, s, "PUT", "/kept", "")
	s.SetDown(true)
	_, err := net.DialTimeout("tcp", addr, time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial while down: %v, want connection refused", err)
	}
	s.SetDown(false)
	if s.Addr() != addr {
		t.Fatalf("address changed: %s -> %s", addr, s.Addr())
	}
	if status, _ := call(t, s, "HEAD", "/kept", ""); status != 200 {
		t.Errorf("state lost across down/up: %d", status)
	}

	down, err := Start(Config{})
	if err != nil {
		t.Fatal(err)
	}
	down.SetDown(true)
	if err := down.Close(); err != nil {
		t.Errorf("close while down: %v", err)
	}
}

func TestAdminFaultEndpoint(t *testing.T) {
	s := startServer(t, Config{Username: "elastic", Password: "changeme"})
	req := func(method, path, body string) (int, string) {
		r, _ := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
		r.SetBasicAuth("elastic", "changeme")
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		return resp.StatusCode, b.String()
	}
	if status, body := req("POST", "/_emulator/faults", `{"fail_next_bulks":1,"status":503,"latency":"1ms"}`); status != 200 || !strings.Contains(body, `"fail_next_bulks":1`) {
		t.Fatalf("post faults: %d %s", status, body)
	}
	if status, _ := req("POST", "/_bulk", ndjson(`{"index":{"_index":"a"}}`, `{}`)); status != 503 {
		t.Errorf("bulk after admin fault: %d", status)
	}
	if status, body := req("GET", "/_emulator/stats", ""); status != 200 || !strings.Contains(body, `"faults_injected":1`) {
		t.Errorf("stats: %d %s", status, body)
	}
	s.FailNextBulks(5, 429)
	if status, body := req("DELETE", "/_emulator/faults", ""); status != 200 || !strings.Contains(body, `"fail_next_bulks":0`) {
		t.Errorf("delete faults: %d %s", status, body)
	}
	if status, _ := req("POST", "/_emulator/faults", `{"latency":"soon"}`); status != 400 {
		t.Errorf("bad duration accepted: %d", status)
	}
	if status, _ := req("POST", "/_emulator/faults", `{"down_for":"200ms"}`); status != 200 {
		t.Fatalf("down_for: %d", status)
	}
	time.Sleep(80 * time.Millisecond)
	if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		t.Error("listener still accepting during down_for")
	}
	time.Sleep(300 * time.Millisecond)
	if status, _ := req("GET", "/", ""); status != 200 {
		t.Errorf("not back after down_for: %d", status)
	}
}

func TestRejectNextItems(t *testing.T) {
	s := startServer(t, Config{})
	s.RejectNextItems(2, http.StatusTooManyRequests)
	status, resp := call(t, s, "POST", "/_bulk", ndjson(
		`{"index":{"_index":"ri","_id":"1"}}`, `{"a":1}`,
		`{"index":{"_index":"ri","_id":"2"}}`, `{"a":2}`,
		`{"index":{"_index":"ri","_id":"3"}}`, `{"a":3}`,
	))
	if status != 200 || resp["errors"] != true {
		t.Fatalf("status %d errors %v", status, resp["errors"])
	}
	for i, want := range []float64{429, 429, 201} {
		if got := dig(resp, "items", i, "index", "status"); got != want {
			t.Errorf("item %d status %v, want %v", i, got, want)
		}
	}
	if dig(resp, "items", 0, "index", "error", "type") != "es_rejected_execution_exception" {
		t.Errorf("item error %v", dig(resp, "items", 0))
	}
	if n := mustCount(t, s, "ri"); n != 1 {
		t.Errorf("count %d: rejected items must not be indexed", n)
	}
}

func TestMaxContentLength(t *testing.T) {
	s := startServer(t, Config{MaxContentLength: 1024})
	big := ndjson(`{"index":{"_index":"m"}}`, `{"a":"`+strings.Repeat("x", 2000)+`"}`)
	status, raw := callRaw(t, s, "POST", "/_bulk", big)
	if status != http.StatusRequestEntityTooLarge || raw != "" {
		t.Errorf("oversized bulk: %d %q", status, raw)
	}
	if status, _ := callRaw(t, s, "POST", "/_bulk", ndjson(`{"index":{"_index":"m"}}`, `{"a":1}`)); status != 200 {
		t.Errorf("small bulk: %d", status)
	}
}
