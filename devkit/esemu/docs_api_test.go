package esemu

import (
	"strings"
	"testing"
)

func TestSingleDocumentAPIs(t *testing.T) {
	s := startServer(t, Config{})
	tests := []struct {
		name, method, path, body string
		status                   int
		result                   string
		errType                  string
	}{
		{"put creates", "PUT", "/docs/_doc/1", `{"a":1}`, 201, "created", ""},
		{"put overwrites", "PUT", "/docs/_doc/1", `{"a":2}`, 200, "updated", ""},
		{"_create conflicts", "PUT", "/docs/_create/1", `{"a":3}`, 409, "", "version_conflict_engine_exception"},
		{"op_type=create conflicts", "PUT", "/docs/_doc/1?op_type=create", `{"a":3}`, 409, "", "version_conflict_engine_exception"},
		{"if_seq_no mismatch", "PUT", "/docs/_doc/1?if_seq_no=0&if_primary_term=1", `{"a":3}`, 409, "", "version_conflict_engine_exception"},
		{"if_seq_no match", "PUT", "/docs/_doc/1?if_seq_no=1&if_primary_term=1", `{"a":3}`, 200, "updated", ""},
		{"post generates id", "POST", "/docs/_doc", `{"a":4}`, 201, "created", ""},
		{"_update merges", "POST", "/docs/_update/1", `{"doc":{"b":1}}`, 200, "updated", ""},
		{"_update missing", "POST", "/docs/_update/9", `{"doc":{"b":1}}`, 404, "", "document_missing_exception"},
		{"external version", "PUT", "/docs/_doc/7?version=5&version_type=external", `{"a":7}`, 201, "created", ""},
		{"external version not higher", "PUT", "/docs/_doc/7?version=5&version_type=external", `{"a":7}`, 409, "", "version_conflict_engine_exception"},
		{"delete", "DELETE", "/docs/_doc/7", "", 200, "deleted", ""},
		{"delete again", "DELETE", "/docs/_doc/7", "", 404, "not_found", ""},
		{"mapping error", "PUT", "/docs/_doc/2", `{"a":"text"}`, 400, "", "mapper_parsing_exception"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := call(t, s, tc.method, tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, resp)
			}
			if tc.result != "" && resp["result"] != tc.result {
				t.Errorf("result %v, want %s", resp["result"], tc.result)
			}
			if tc.errType != "" && dig(resp, "error", "type") != tc.errType {
				t.Errorf("error %v, want %s", dig(resp, "error"), tc.errType)
			}
		})
	}
	_, doc := call(t, s, "GET", "/docs/_doc/1", "")
	if doc["_version"] != 4.0 || dig(doc, "_source", "a") != 3.0 || dig(doc, "_source", "b") != 1.0 {
		t.Errorf("final doc %v", doc)
	}
	// A document re-created within gc_deletes continues the version sequence, as in ES.
	_, resp := call(t, s, "PUT", "/docs/_doc/7", `{"a":8}`)
	if resp["_version"] != 8.0 || resp["result"] != "created" {
		t.Errorf("re-create after delete: %v", resp)
	}
}

func TestFilterPathAndEmptyID(t *testing.T) {
	s := startServer(t, Config{})
	_, raw := callRaw(t, s, "POST", "/_bulk?filter_path=errors,items.*.error.type", ndjson(
		`{"index":{"_index":"fp","_id":"1"}}`, `{"a":1}`,
		`{"create":{"_index":"fp","_id":"1"}}`, `{"a":1}`,
	))
	want := `{"errors":true,"items":[{"create":{"error":{"type":"version_conflict_engine_exception"}}}]}`
	if strings.TrimSpace(raw) != want {
		t.Errorf("filter_path:\n got %s\nwant %s", raw, want)
	}
	status, resp := call(t, s, "POST", "/_bulk", ndjson(`{"index":{"_index":"fp","_id":""}}`, `{"a":1}`))
	if status != 400 || !strings.Contains(dig(resp, "error", "reason").(string), "if _id is specified it must not be empty") {
		t.Errorf("empty _id: %d %v", status, resp)
	}
}
