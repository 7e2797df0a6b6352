package esemu

import (
	"net/http"
	"strings"
	"testing"
)

func TestBulkRejectsOneItemAndIndexesTheRest(t *testing.T) {
	s := startServer(t, Config{})
	status, _ := call(t, s, "PUT", "/logs", `{"mappings":{"properties":{"status":{"type":"long"}}}}`)
	if status != 200 {
		t.Fatalf("create index: %d", status)
	}
	status, resp := call(t, s, "POST", "/_bulk", ndjson(
		`{"index":{"_index":"logs","_id":"1"}}`, `{"status":200,"message":"ok"}`,
		`{"index":{"_index":"logs","_id":"2"}}`, `{"status":"abc","message":"bad"}`,
		`{"index":{"_index":"logs","_id":"3"}}`, `{"status":"404","message":"coerced"}`,
	))
	if status != 200 || resp["errors"] != true {
		t.Fatalf("status %d errors %v", status, resp["errors"])
	}
	items := resp["items"].([]any)
	wantStatus := []float64{201, 400, 201}
	for i, want := range wantStatus {
		if got := dig(items[i], "index", "status"); got != want {
			t.Errorf("item %d status %v, want %v", i, got, want)
		}
	}
	e := dig(items[1], "index", "error")
	if dig(e, "type") != "mapper_parsing_exception" {
		t.Fatalf("error type %v", dig(e, "type"))
	}
	wantReason := "failed to parse field [status] of type [long] in document with id '2'. Preview of field's value: 'abc'"
	if dig(e, "reason") != wantReason {
		t.Errorf("reason %q", dig(e, "reason"))
	}
	if dig(e, "index") != "logs" || dig(e, "index_uuid") == nil {
		t.Errorf("error lacks index metadata: %v", e)
	}
	if dig(items[0], "index", "_type") != "_doc" || dig(items[0], "index", "result") != "created" ||
		dig(items[0], "index", "_shards", "total") != 2.0 || dig(items[2], "index", "_seq_no") != 1.0 {
		t.Errorf("item shape: %v / %v", items[0], items[2])
	}
	if n := mustCount(t, s, "logs"); n != 2 {
		t.Errorf("count %d, want 2", n)
	}
	st := s.Stats()
	if st.BulkItems != 3 || st.Indexed != 2 || st.Rejected != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestBulkVersioning(t *testing.T) {
	s := startServer(t, Config{})
	tests := []struct {
		name       string
		action     string
		wantStatus float64
		wantResult string
		wantVer    float64
		wantType   string
	}{
		{"first index creates", `{"index":{"_index":"v","_id":"a"}}`, 201, "created", 1, ""},
		{"same id overwrites", `{"index":{"_index":"v","_id":"a"}}`, 200, "updated", 2, ""},
		{"create on existing conflicts", `{"create":{"_index":"v","_id":"a"}}`, 409, "", 0, "version_conflict_engine_exception"},
		{"create on new id", `{"create":{"_index":"v","_id":"b"}}`, 201, "created", 1, ""},
		{"op_type create conflicts", `{"index":{"_index":"v","_id":"b","op_type":"create"}}`, 409, "", 0, "version_conflict_engine_exception"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, resp := call(t, s, "POST", "/_bulk", ndjson(tc.action, `{"n":1}`))
			item := dig(resp, "items", 0)
			var inner any
			for _, v := range item.(map[string]any) {
				inner = v
			}
			if got := dig(inner, "status"); got != tc.wantStatus {
				t.Fatalf("status %v, want %v (%v)", got, tc.wantStatus, inner)
			}
			if tc.wantType != "" {
				if got := dig(inner, "error", "type"); got != tc.wantType {
					t.Errorf("error type %v", got)
				}
				return
			}
			if dig(inner, "result") != tc.wantResult || dig(inner, "_version") != tc.wantVer {
				t.Errorf("result %v version %v", dig(inner, "result"), dig(inner, "_version"))
			}
		})
	}
	if n := mustCount(t, s, "v"); n != 2 {
		t.Errorf("count %d, want 2 (overwrite must not duplicate)", n)
	}
	src, ok, err := s.Get("v", "a")
	if err != nil || !ok || src["n"] != 1.0 {
		t.Errorf("get: %v %v %v", src, ok, err)
	}
}

func TestBulkGeneratesIDs(t *testing.T) {
	s := startServer(t, Config{})
	_, resp := call(t, s, "POST", "/gen/_bulk", ndjson(`{"index":{}}`, `{"a":1}`, `{"create":{}}`, `{"a":2}`))
	ids := map[string]bool{}
	for i := 0; i < 2; i++ {
		var inner any
		for _, v := range dig(resp, "items", i).(map[string]any) {
			inner = v
		}
		id, _ := dig(inner, "_id").(string)
		if len(id) != 20 || strings.ContainsAny(id, "+/=") {
			t.Errorf("generated id %q is not a 20-char URL-safe id", id)
		}
		if dig(inner, "_index") != "gen" || dig(inner, "status") != 201.0 {
			t.Errorf("item %v", inner)
		}
		ids[id] = true
		if _, ok, _ := s.Get("gen", id); !ok {
			t.Errorf("generated id %s not retrievable", id)
		}
	}
	if len(ids) != 2 {
		t.Errorf("ids not unique: %v", ids)
	}
}

func TestBulkMalformedRequests(t *testing.T) {
	s := startServer(t, Config{})
	tests := []struct {
		name     string
		body     string
		wantType string
		wantIn   string
	}{
		{"action not an object", ndjson(`"index"`, `{}`), "illegal_argument_exception", "expected START_OBJECT but found [VALUE_STRING]"},
		{"unknown action", ndjson(`{"upsert":{"_index":"x"}}`, `{}`), "illegal_argument_exception", "expected field [create], [delete], [index] or [update] but found [upsert]"},
		{"unknown parameter", ndjson(`{"index":{"_index":"x","foo":1}}`, `{}`), "illegal_argument_exception", "contains an unknown parameter [foo]"},
		{"truncated json", ndjson(`{"index":{"_index":"x"`, `{}`), "json_e_o_f_exception", "Unexpected end-of-input"},
		{"broken json", ndjson(`{"index":{_index:"x"}}`, `{}`), "json_parse_exception", "was expecting double-quote to start field name"},
		{"missing source shifts lines", ndjson(`{"index":{"_index":"x"}}`, `{"index":{"_index":"x"}}`, `{"a":1}`), "illegal_argument_exception", "Malformed action/metadata line [3]"},
		{"no trailing newline", `{"index":{"_index":"x"}}` + "\n" + `{"a":1}`, "illegal_argument_exception", "must be terminated by a newline"},
		{"no index", ndjson(`{"index":{}}`, `{"a":1}`), "action_request_validation_exception", "index is missing"},
		{"empty", "\n", "action_request_validation_exception", "no requests added"},
		// IndexRequest.validate counts UTF-8 bytes: 300 characters of 2 bytes are too long.
		{"id too long", ndjson(`{"index":{"_index":"x","_id":"`+strings.Repeat("é", 300)+`"}}`, `{}`, `{"index":{"_index":"x","_id":"ok"}}`, `{}`),
			"action_request_validation_exception", "Validation Failed: 1: id [" + strings.Repeat("é", 300) + "] is too long, must be no longer than 512 bytes but was: 600;"},
		{"array parameter", ndjson(`{"index":{"_index":["x"]}}`, `{}`), "illegal_argument_exception", "expected a simple value for field [_index]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := call(t, s, "POST", "/_bulk", tc.body)
			if status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %v", status, resp)
			}
			if got := dig(resp, "error", "type"); got != tc.wantType {
				t.Errorf("type %v, want %s", got, tc.wantType)
			}
			if reason, _ := dig(resp, "error", "reason").(string); !strings.Contains(reason, tc.wantIn) {
				t.Errorf("reason %q lacks %q", reason, tc.wantIn)
			}
			if dig(resp, "error", "root_cause", 0, "type") != tc.wantType || dig(resp, "status") != 400.0 {
				t.Errorf("body not ES-shaped: %v", resp)
			}
		})
	}
	if n := mustCount(t, s, "*"); n != 0 {
		t.Errorf("a rejected bulk indexed %d documents", n)
	}
}

func TestBulkItemErrors(t *testing.T) {
	s := startServer(t, Config{})
	tests := []struct {
		name       string
		lines      []string
		wantStatus float64
		wantType   string
	}{
		{"invalid source json", []string{`{"index":{"_index":"e","_id":"1"}}`, `{"a":`}, 400, "mapper_parsing_exception"},
		{"source not an object", []string{`{"index":{"_index":"e","_id":"1"}}`, `[1,2]`}, 400, "mapper_parsing_exception"},
		{"invalid index name", []string{`{"index":{"_index":"Bad","_id":"1"}}`, `{"a":1}`}, 400, "invalid_index_name_exception"},
		{"delete on missing index", []string{`{"delete":{"_index":"nope","_id":"1"}}`}, 404, "index_not_found_exception"},
		{"update of missing doc", []string{`{"update":{"_index":"e","_id":"zz"}}`, `{"doc":{"a":1}}`}, 404, "document_missing_exception"},
		{"metadata field in source", []string{`{"index":{"_index":"e","_id":"2"}}`, `{"_id":"x"}`}, 400, "mapper_parsing_exception"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := ndjson(append(tc.lines, `{"index":{"_index":"ok","_id":"1"}}`, `{"fine":true}`)...)
			status, resp := call(t, s, "POST", "/_bulk", body)
			if status != 200 || resp["errors"] != true {
				t.Fatalf("status %d errors %v", status, resp["errors"])
			}
			var inner any
			for _, v := range dig(resp, "items", 0).(map[string]any) {
				inner = v
			}
			if dig(inner, "status") != tc.wantStatus || dig(inner, "error", "type") != tc.wantType {
				t.Errorf("item %v", inner)
			}
			if dig(resp, "items", 1, "index", "status") == 400.0 {
				t.Errorf("good item failed too")
			}
		})
	}
}

func TestBulkDeleteAndUpdate(t *testing.T) {
	s := startServer(t, Config{})
	_, resp := call(t, s, "POST", "/_bulk?refresh=true", ndjson(
		`{"index":{"_index":"d","_id":"1"}}`, `{"a":1,"b":{"c":1}}`,
		`{"update":{"_index":"d","_id":"1"}}`, `{"doc":{"b":{"d":2}}}`,
		`{"update":{"_index":"d","_id":"1"}}`, `{"doc":{"b":{"d":2}}}`,
		`{"update":{"_index":"d","_id":"2"}}`, `{"doc":{"x":1},"doc_as_upsert":true}`,
		`{"delete":{"_index":"d","_id":"2"}}`,
		`{"delete":{"_index":"d","_id":"3"}}`,
	))
	want := []struct {
		kind, result string
		status       float64
	}{{"index", "created", 201}, {"update", "updated", 200}, {"update", "noop", 200}, {"update", "created", 201}, {"delete", "deleted", 200}, {"delete", "not_found", 404}}
	for i, w := range want {
		if dig(resp, "items", i, w.kind, "result") != w.result || dig(resp, "items", i, w.kind, "status") != w.status {
			t.Errorf("item %d: %v, want %s %s %v", i, dig(resp, "items", i), w.kind, w.result, w.status)
		}
	}
	src, ok, _ := s.Get("d", "1")
	if !ok || dig(src, "b", "c") != 1.0 || dig(src, "b", "d") != 2.0 {
		t.Errorf("partial update not merged: %v", src)
	}
	if _, ok, _ := s.Get("d", "2"); ok {
		t.Error("deleted document still found")
	}
	if n := mustCount(t, s, "d"); n != 1 {
		t.Errorf("count %d", n)
	}
}
