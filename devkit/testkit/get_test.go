package testkit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGetAndScrape(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metrics":
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			_, _ = w.Write([]byte("# TYPE test_lines_total counter\ntest_lines_total{a=\"1\"} 2\ntest_lines_total{a=\"2\"} 1\n"))
		case "/healthz":
			_, _ = w.Write([]byte("ok"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	samples, err := Scrape(ctx, srv.URL+"/metrics")
	if err != nil || samples["test_lines_total"] != 3 {
		t.Errorf("Scrape = %v, %v; want the two label sets summed to 3", samples, err)
	}
	if _, err := Get(ctx, srv.URL+"/nope"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("Get of a missing path = %v, want an error naming the 404", err)
	}
	var health struct {
		Ready bool `json:"ready"`
	}
	if err := GetJSON(ctx, srv.URL+"/healthz", &health); err == nil {
		t.Error("GetJSON decoded the plain-text /healthz")
	}
}
