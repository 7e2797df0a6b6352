package esemu

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestServesHTTPS: with Config.TLS the emulator speaks HTTPS, also after
// going down and coming back, and a plain-HTTP client gets no answer.
func TestServesHTTPS(t *testing.T) {
	// httptest brings a certificate for 127.0.0.1 and a client that trusts it.
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	defer ts.Close()
	s, err := Start(Config{TLS: ts.TLS.Clone()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL(), "https://") {
		t.Fatalf("URL = %s, want https", s.URL())
	}
	client := ts.Client()
	get := func() (int, error) {
		resp, err := client.Get(s.URL() + "/_cluster/health")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := get(); err != nil || code != 200 {
		t.Fatalf("HTTPS health = %d, %v", code, err)
	}
	if resp, err := http.Get("http://" + s.Addr() + "/"); err == nil {
		body := resp.Status
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP answered %s on a TLS emulator", body)
		}
	}
	s.SetDown(true)
	s.SetDown(false)
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, err := get()
		if err == nil && code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after coming back: %d, %v", code, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
