package esemu

import (
	"testing"
)

func TestDataDirSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := Start(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	call(t, s, "PUT", "/_index_template/logs", `{"index_patterns":["logs-*"],"priority":200,"template":{"mappings":{"properties":{"n":{"type":"long"}}}}}`)
	call(t, s, "PUT", "/_template/old", `{"index_patterns":["old-*"],"mappings":{"properties":{"k":{"type":"keyword"}}}}`)
	_, resp := call(t, s, "POST", "/_bulk", ndjson(
		`{"index":{"_index":"logs-a","_id":"1"}}`, `{"n":1,"msg":"first"}`,
		`{"index":{"_index":"logs-a","_id":"2"}}`, `{"n":2,"msg":"second"}`,
		`{"index":{"_index":"logs-a","_id":"1"}}`, `{"n":3,"msg":"first again"}`,
	))
	if resp["errors"] != false {
		t.Fatalf("bulk: %v", resp)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}

	s2 := startServer(t, Config{DataDir: dir})
	if n := mustCount(t, s2, "logs-*"); n != 2 {
		t.Errorf("count after restart %d, want 2 (unrefreshed writes are flushed on Close)", n)
	}
	src, ok, err := s2.Get("logs-a", "1")
	if err != nil || !ok || src["msg"] != "first again" {
		t.Errorf("get after restart: %v %v %v", src, ok, err)
	}
	_, resp = call(t, s2, "POST", "/_bulk", ndjson(`{"index":{"_index":"logs-a","_id":"1"}}`, `{"n":4}`, `{"index":{"_index":"logs-a","_id":"1"}}`, `{"n":"x"}`))
	if dig(resp, "items", 0, "index", "_version") != 3.0 || dig(resp, "items", 0, "index", "_seq_no") != 3.0 {
		t.Errorf("version/seq_no not continued: %v", dig(resp, "items", 0))
	}
	if dig(resp, "items", 1, "index", "error", "type") != "mapper_parsing_exception" {
		t.Errorf("mapping not restored: %v", dig(resp, "items", 1))
	}
	if status, _ := call(t, s2, "HEAD", "/_index_template/logs", ""); status != 200 {
		t.Error("composable template lost")
	}
	call(t, s2, "PUT", "/old-1/_doc/1", `{"k":5}`)
	_, m := call(t, s2, "GET", "/old-1/_mapping", "")
	if dig(m, "old-1", "mappings", "properties", "k", "type") != "keyword" {
		t.Errorf("legacy template lost: %v", m)
	}
}
