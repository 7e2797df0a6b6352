package obs

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestEndpoints(t *testing.T) {
	reg := NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_lines_total", Help: "lines"})
	reg.MustRegister(c)
	c.Add(3)
	ready := NewReadiness("kafka")
	srv, err := Listen("127.0.0.1:0", Handler(reg, ready, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + srv.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "test_lines_total 3") {
		t.Errorf("/metrics = %d %q", code, body)
	}
	if code, _ := get("/nope"); code != 404 {
		t.Errorf("/nope = %d, want 404", code)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "not connected yet") {
		t.Errorf("/readyz before = %d %q", code, body)
	}
	ready.Set("kafka", nil)
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, `"kafka":"ok"`) {
		t.Errorf("/readyz after = %d %q", code, body)
	}
	ready.Set("kafka", errors.New("dial tcp: refused"))
	if code, _ := get("/readyz"); code != 503 {
		t.Errorf("/readyz after failure = %d", code)
	}
}

func TestPprofOffByDefault(t *testing.T) {
	get := func(h http.Handler) int {
		srv, err := Listen("127.0.0.1:0", h, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- srv.Run(ctx) }()
		defer func() { cancel(); <-done }()
		resp, err := http.Get("http://" + srv.Addr() + "/debug/pprof/cmdline")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	t.Setenv(PprofEnv, "")
	if code := get(Handler(NewRegistry(), NewReadiness(), nil)); code != http.StatusNotFound {
		t.Errorf("pprof without %s: status %d, want 404", PprofEnv, code)
	}
	t.Setenv(PprofEnv, "1")
	if code := get(Handler(NewRegistry(), NewReadiness(), nil)); code != http.StatusOK {
		t.Errorf("pprof with %s=1: status %d, want 200", PprofEnv, code)
	}
}
