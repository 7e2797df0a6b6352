package esemu

import (
	"testing"
)

func TestTemplatesApplyToNewDailyIndex(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		template string
	}{
		{"composable", "/_index_template/logs", `{"index_patterns":["logs-*"],"priority":200,"template":{
			"settings":{"number_of_replicas":0},
			"mappings":{"properties":{"@timestamp":{"type":"date"},"status":{"type":"keyword"},"bytes":{"type":"long"}}}}}`},
		{"legacy", "/_template/logs", `{"index_patterns":["logs-*"],"order":1,
			"settings":{"index":{"number_of_replicas":"0"}},
			"mappings":{"properties":{"@timestamp":{"type":"date"},"status":{"type":"keyword"},"bytes":{"type":"long"}}}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, Config{})
			if status, resp := call(t, s, "PUT", tc.path, tc.template); status != 200 || resp["acknowledged"] != true {
				t.Fatalf("put template: %d %v", status, resp)
			}
			if status, _ := call(t, s, "HEAD", tc.path, ""); status != 200 {
				t.Fatalf("HEAD template: %d", status)
			}
			_, resp := call(t, s, "POST", "/_bulk", ndjson(
				`{"index":{"_index":"logs-web-2026.11.21","_id":"1"}}`,
				`{"@timestamp":"2026-11-21T10:00:00.123Z","status":"200","bytes":"512","agent":"curl"}`,
				`{"index":{"_index":"logs-web-2026.11.21","_id":"2"}}`,
				`{"@timestamp":"yesterday","status":"500","bytes":1}`,
			))
			if dig(resp, "items", 0, "index", "status") != 201.0 {
				t.Fatalf("good doc rejected: %v", dig(resp, "items", 0))
			}
			if dig(resp, "items", 1, "index", "error", "type") != "mapper_parsing_exception" {
				t.Fatalf("bad date accepted: %v", dig(resp, "items", 1))
			}
			_, m := call(t, s, "GET", "/logs-web-2026.11.21/_mapping", "")
			props := dig(m, "logs-web-2026.11.21", "mappings", "properties")
			for field, typ := range map[string]string{"@timestamp": "date", "status": "keyword", "bytes": "long", "agent": "text"} {
				if got := dig(props, field, "type"); got != typ {
					t.Errorf("%s mapped as %v, want %s", field, got, typ)
				}
			}
			_, cat := call(t, s, "GET", "/_cluster/health", "")
			if cat["status"] != "green" {
				t.Errorf("health %v: template replicas=0 not applied", cat["status"])
			}
		})
	}
}

func TestComposableTemplatePriorityAndValidation(t *testing.T) {
	s := startServer(t, Config{})
	call(t, s, "PUT", "/_index_template/low", `{"index_patterns":["app-*"],"priority":1,"template":{"mappings":{"properties":{"code":{"type":"keyword"}}}}}`)
	call(t, s, "PUT", "/_index_template/high", `{"index_patterns":["app-prod-*"],"priority":10,"template":{"mappings":{"properties":{"code":{"type":"long"}}}}}`)
	call(t, s, "PUT", "/_template/legacy", `{"index_patterns":["app-*"],"mappings":{"properties":{"legacy":{"type":"keyword"}}}}`)
	status, resp := call(t, s, "PUT", "/_index_template/clash", `{"index_patterns":["app-*"],"priority":1}`)
	if status != 400 || dig(resp, "error", "type") != "illegal_argument_exception" {
		t.Errorf("same-priority overlap accepted: %d %v", status, resp)
	}
	call(t, s, "POST", "/app-prod-1/_doc/1", `{"code":"7"}`)
	call(t, s, "POST", "/app-dev-1/_doc/1", `{"code":"7"}`)
	for index, want := range map[string]string{"app-prod-1": "long", "app-dev-1": "keyword"} {
		_, m := call(t, s, "GET", "/"+index+"/_mapping", "")
		if got := dig(m, index, "mappings", "properties", "code", "type"); got != want {
			t.Errorf("%s: code is %v, want %s", index, got, want)
		}
		if dig(m, index, "mappings", "properties", "legacy") != nil {
			t.Errorf("%s: legacy template applied although a composable one matched", index)
		}
	}
	status, resp = call(t, s, "GET", "/_index_template/missing", "")
	if status != 404 || dig(resp, "error", "type") != "resource_not_found_exception" {
		t.Errorf("missing template: %d %v", status, resp)
	}
	_, resp = call(t, s, "GET", "/_index_template/h*", "")
	if n := len(dig(resp, "index_templates").([]any)); n != 1 {
		t.Errorf("wildcard get returned %d templates", n)
	}
	if status, _ := call(t, s, "DELETE", "/_index_template/high", ""); status != 200 {
		t.Errorf("delete: %d", status)
	}
	if status, _ := call(t, s, "HEAD", "/_index_template/high", ""); status != 404 {
		t.Errorf("deleted template still exists: %d", status)
	}
}

func TestTemplateConflictsWithBuiltinAndOverlap(t *testing.T) {
	s := startServer(t, Config{})
	tests := []struct {
		name, body string
		status     int
	}{
		{"same priority as builtin logs-*-*", `{"index_patterns":["logs-*"],"priority":100}`, 400},
		{"higher priority than builtin", `{"index_patterns":["logs-*"],"priority":101}`, 200},
		{"default priority", `{"index_patterns":["logcollect-*"]}`, 200},
		{"overlapping wildcards same priority", `{"index_patterns":["*-2026.11.21"]}`, 400},
		{"disjoint same priority", `{"index_patterns":["other-*"]}`, 200},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := call(t, s, "PUT", "/_index_template/t"+string(rune('a'+i)), tc.body)
			if status != tc.status {
				t.Errorf("status %d, want %d: %v", status, tc.status, resp)
			}
		})
	}
}
