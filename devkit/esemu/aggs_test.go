package esemu

import (
	"testing"
)

func TestAggregations(t *testing.T) {
	s := startServer(t, Config{})
	seedLogs(t, s)
	tests := []struct {
		name string
		aggs string
		path []any
		want any
	}{
		{"terms top bucket", `{"by_level":{"terms":{"field":"level"}}}`, []any{"by_level", "buckets", 0, "key"}, "error"},
		{"terms count", `{"by_level":{"terms":{"field":"level"}}}`, []any{"by_level", "buckets", 0, "doc_count"}, 2.0},
		{"terms size and other", `{"by_host":{"terms":{"field":"host.name","size":1}}}`, []any{"by_host", "sum_other_doc_count"}, 2.0},
		{"terms numeric key", `{"s":{"terms":{"field":"status","order":{"_key":"asc"}}}}`, []any{"s", "buckets", 0, "key"}, 200.0},
		{"terms boolean ties by key", `{"ok":{"terms":{"field":"ok"}}}`, []any{"ok", "buckets", 1, "key_as_string"}, "true"},
		{"avg", `{"a":{"avg":{"field":"took"}}}`, []any{"a", "value"}, 1482.94},
		{"max date", `{"m":{"max":{"field":"@timestamp"}}}`, []any{"m", "value_as_string"}, "2025-11-21T10:00:00.000Z"},
		{"cardinality", `{"c":{"cardinality":{"field":"host.name"}}}`, []any{"c", "value"}, 3.0},
		{"value_count", `{"c":{"value_count":{"field":"status"}}}`, []any{"c", "value"}, 4.0},
		{"date_histogram fills gaps", `{"h":{"date_histogram":{"field":"@timestamp","fixed_interval":"1h","min_doc_count":0}}}`, []any{"h", "buckets", 1, "doc_count"}, 1.0},
		{"date_histogram day key", `{"h":{"date_histogram":{"field":"@timestamp","calendar_interval":"day"}}}`, []any{"h", "buckets", 0, "key_as_string"}, "2025-11-20T00:00:00.000Z"},
		{"histogram", `{"h":{"histogram":{"field":"status","interval":100}}}`, []any{"h", "buckets", 2, "key"}, 400.0},
		{"sub aggregation", `{"lv":{"terms":{"field":"level"},"aggs":{"hosts":{"cardinality":{"field":"host.name"}}}}}`, []any{"lv", "buckets", 0, "hosts", "value"}, 2.0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The query leaves out document e, whose timestamp is "now".
			status, resp := call(t, s, "POST", "/logs-2025.11.2*/_search", `{"size":0,"query":{"range":{"@timestamp":{"lt":"2026-01-01"}}},"aggs":`+tc.aggs+`}`)
			if status != 200 {
				t.Fatalf("status %d: %v", status, resp)
			}
			got := dig(resp["aggregations"], tc.path...)
			if f, ok := got.(float64); ok && tc.name == "avg" {
				got = float64(int(f*100+0.5)) / 100
			}
			if got != tc.want {
				t.Errorf("%v = %v, want %v (%v)", tc.path, got, tc.want, resp["aggregations"])
			}
		})
	}
	status, resp := call(t, s, "POST", "/logs-*/_search", `{"aggs":{"m":{"terms":{"field":"message"}}}}`)
	if status != 400 {
		t.Errorf("terms on text: %d %v", status, resp)
	}
}
