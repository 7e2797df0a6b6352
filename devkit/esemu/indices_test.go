package esemu

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestIndexLifecycleAndErrors(t *testing.T) {
	s := startServer(t, Config{})
	tests := []struct {
		name, method, path, body string
		status                   int
		wantType                 string
	}{
		{"create", "PUT", "/idx", `{"settings":{"number_of_replicas":0}}`, 200, ""},
		{"create again", "PUT", "/idx", "", 400, "resource_already_exists_exception"},
		{"uppercase name", "PUT", "/Idx", "", 400, "invalid_index_name_exception"},
		{"leading underscore name", "PUT", "/-idx", "", 400, "invalid_index_name_exception"},
		{"hash in name", "PUT", "/a%23b", "", 400, "invalid_index_name_exception"},
		{"unknown setting", "PUT", "/idx2", `{"settings":{"index":{"bogus":1}}}`, 400, "illegal_argument_exception"},
		{"head existing", "HEAD", "/idx", "", 200, ""},
		{"head missing", "HEAD", "/missing", "", 404, ""},
		{"get doc missing index", "GET", "/missing/_doc/1", "", 404, "index_not_found_exception"},
		{"delete missing", "DELETE", "/missing", "", 404, "index_not_found_exception"},
		{"wrong method", "GET", "/_bulk", "", 405, ""},
		{"unknown endpoint", "GET", "/_nonsense/x", "", 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, raw := callRaw(t, s, tc.method, tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, raw)
			}
			if tc.wantType != "" && !strings.Contains(raw, `"type":"`+tc.wantType+`"`) {
				t.Errorf("body %s lacks %s", raw, tc.wantType)
			}
		})
	}
	_, resp := call(t, s, "GET", "/idx/_doc/1", "")
	if resp["found"] != false || resp["_index"] != "idx" || resp["_type"] != "_doc" {
		t.Errorf("missing doc shape: %v", resp)
	}
	call(t, s, "POST", "/other/_doc/1?refresh=true", `{"a":1}`)
	status, raw := callRaw(t, s, "GET", "/_cat/indices?format=json", "")
	var rows []map[string]string
	if err := json.Unmarshal([]byte(raw), &rows); err != nil || status != 200 || len(rows) != 2 {
		t.Fatalf("_cat/indices: %d %s %v", status, raw, err)
	}
	if rows[0]["index"] != "idx" || rows[0]["health"] != "green" || rows[1]["health"] != "yellow" || rows[1]["docs.count"] != "1" {
		t.Errorf("_cat rows %v", rows)
	}
	if _, text := callRaw(t, s, "GET", "/_cat/indices?v", ""); !strings.HasPrefix(text, "health status index") {
		t.Errorf("_cat text: %q", text)
	}
	if _, h := call(t, s, "GET", "/_cluster/health", ""); h["status"] != "yellow" || h["unassigned_shards"] != 1.0 {
		t.Errorf("health %v", h)
	}
	if status, _ := call(t, s, "DELETE", "/idx", ""); status != 200 {
		t.Errorf("delete: %d", status)
	}
	if status, _ := call(t, s, "HEAD", "/idx", ""); status != 404 {
		t.Errorf("deleted index exists: %d", status)
	}
}

func TestInfoAndHeaders(t *testing.T) {
	s := startServer(t, Config{})
	resp, err := http.Get(s.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&info)
	if resp.Header.Get("Content-Type") != "application/json; charset=UTF-8" || resp.Header.Get("X-Elastic-Product") != "Elasticsearch" {
		t.Errorf("headers %v", resp.Header)
	}
	if dig(info, "version", "number") != "7.17.0" || info["tagline"] != "You Know, for Search" || info["cluster_uuid"] == "" {
		t.Errorf("info %v", info)
	}
	form, err := http.Post(s.URL()+"/x/_doc", "application/x-www-form-urlencoded", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	form.Body.Close()
	if form.StatusCode != http.StatusNotAcceptable {
		t.Errorf("form content type: %d, want 406 as ES", form.StatusCode)
	}
}

func TestGzipRequestAndUnknownPaths(t *testing.T) {
	s := startServer(t, Config{})
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(ndjson(`{"index":{"_index":"gz","_id":"1"}}`, `{"a":1}`)))
	_ = zw.Close()
	req, _ := http.NewRequest("POST", s.URL()+"/_bulk?refresh=true", &buf)
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("X-Opaque-Id", "trace-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Opaque-Id") != "trace-1" || mustCount(t, s, "gz") != 1 {
		t.Errorf("gzip bulk: %d %v", resp.StatusCode, resp.Header)
	}
	if status, resp := call(t, s, "GET", "/_unknown", ""); status != 404 || dig(resp, "error", "type") != "index_not_found_exception" {
		t.Errorf("GET /_unknown: %d %v", status, resp)
	}
	if status, raw := callRaw(t, s, "GET", "/_unknown/deeper", ""); status != 400 || !strings.Contains(raw, "no handler found for uri [/_unknown/deeper] and method [GET]") {
		t.Errorf("GET /_unknown/deeper: %d %s", status, raw)
	}
}
