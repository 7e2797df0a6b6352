package esemu

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startServer starts an emulator that is closed when the test ends.
func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = time.Hour // tests refresh explicitly unless they test the interval
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// call sends a request and decodes the JSON answer (nil for an empty body).
func call(t testing.TB, s *Server, method, path, body string) (int, map[string]any) {
	t.Helper()
	status, raw := callRaw(t, s, method, path, body)
	if len(strings.TrimSpace(raw)) == 0 {
		return status, nil
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
	}
	return status, out
}

func callRaw(t testing.TB, s *Server, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		ct := "application/json"
		if strings.Contains(path, "_bulk") {
			ct = "application/x-ndjson"
		}
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// dig follows a path of map keys and array indices through decoded JSON.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

// ndjson joins lines into a bulk body with the trailing newline ES requires.
func ndjson(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

func mustCount(t testing.TB, s *Server, pattern string) int {
	t.Helper()
	n, err := s.Count(pattern)
	if err != nil {
		t.Fatalf("count %s: %v", pattern, err)
	}
	return n
}
