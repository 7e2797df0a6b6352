package esemu

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// seedLogs indexes a small, varied data set into two daily indices.
func seedLogs(t *testing.T, s *Server) {
	t.Helper()
	call(t, s, "PUT", "/_index_template/logs", `{"index_patterns":["logs-*"],"priority":200,"template":{"mappings":{"properties":{
		"@timestamp":{"type":"date"},"status":{"type":"long"},"level":{"type":"keyword"},"took":{"type":"float"},
		"message":{"type":"text"},"host":{"properties":{"name":{"type":"keyword"},"ip":{"type":"ip"}}},"ok":{"type":"boolean"}}}}}`)
	now := time.Now().UTC()
	docs := []struct {
		index, id, ts, level, msg, host string
		status                          int
		took                            float64
		ok                              bool
	}{
		{"logs-2025.11.20", "a", "2025-11-20T10:00:00Z", "info", "GET /index.html completed", "web-1", 200, 1.5, true},
		{"logs-2025.11.20", "b", "2025-11-20T11:00:00Z", "error", "connection refused by upstream server", "web-2", 502, 30.25, false},
		{"logs-2025.11.21", "c", "2025-11-21T09:00:00Z", "warn", "slow request GET /api/users", "web-1", 200, 900, true},
		{"logs-2025.11.21", "d", "2025-11-21T10:00:00Z", "error", "Upstream Timeout while reading response", "web-3", 504, 5000, false},
		{"logs-2025.11.21", "e", now.Add(-5 * time.Minute).Format(time.RFC3339Nano), "info", "health check passed", "web-2", 204, 0.1, true},
	}
	var lines []string
	for _, d := range docs {
		lines = append(lines, fmt.Sprintf(`{"index":{"_index":%q,"_id":%q}}`, d.index, d.id),
			fmt.Sprintf(`{"@timestamp":%q,"level":%q,"message":%q,"host":{"name":%q,"ip":"10.0.0.%d"},"status":%d,"took":%v,"ok":%v}`,
				d.ts, d.level, d.msg, d.host, len(d.id), d.status, d.took, d.ok))
	}
	status, resp := call(t, s, "POST", "/_bulk?refresh=true", ndjson(lines...))
	if status != 200 || resp["errors"] != false {
		t.Fatalf("seed: %d %v", status, resp)
	}
}

// hitIDs returns the ids of the hits in order.
func hitIDs(resp map[string]any) string {
	var ids []string
	hits, _ := dig(resp, "hits", "hits").([]any)
	for _, h := range hits {
		ids = append(ids, dig(h, "_id").(string))
	}
	return strings.Join(ids, ",")
}

func TestQueryTypes(t *testing.T) {
	s := startServer(t, Config{})
	seedLogs(t, s)
	tests := []struct {
		name  string
		query string
		want  string // sorted ids
	}{
		{"match_all", `{"match_all":{}}`, "a,b,c,d,e"},
		{"match analyzed", `{"match":{"message":"UPSTREAM"}}`, "b,d"},
		{"match and", `{"match":{"message":{"query":"upstream timeout","operator":"and"}}}`, "d"},
		{"match or", `{"match":{"message":"refused timeout"}}`, "b,d"},
		{"match on keyword is exact", `{"match":{"level":"error"}}`, "b,d"},
		{"match_phrase", `{"match_phrase":{"message":"connection refused"}}`, "b"},
		{"match_phrase order matters", `{"match_phrase":{"message":"refused connection"}}`, ""},
		{"term keyword", `{"term":{"host.name":"web-1"}}`, "a,c"},
		{"term keyword is case sensitive", `{"term":{"host.name":"WEB-1"}}`, ""},
		{"term long", `{"term":{"status":200}}`, "a,c"},
		{"term long as string", `{"term":{"status":"504"}}`, "d"},
		{"term boolean", `{"term":{"ok":false}}`, "b,d"},
		{"term ip", `{"term":{"host.ip":"10.0.0.1"}}`, "a,b,c,d,e"},
		{"term on unmapped field", `{"term":{"nope":"x"}}`, ""},
		{"terms", `{"terms":{"level":["warn","info"]}}`, "a,c,e"},
		{"range long", `{"range":{"status":{"gte":500,"lt":504}}}`, "b"},
		{"range float", `{"range":{"took":{"gt":1.5}}}`, "b,c,d"},
		{"range date iso", `{"range":{"@timestamp":{"gte":"2025-11-21T00:00:00Z","lt":"2025-11-21T09:30:00Z"}}}`, "c"},
		{"range date rounded lte", `{"range":{"@timestamp":{"gte":"2025-11-20","lte":"2025-11-20"}}}`, "a,b"},
		{"range date epoch_millis", `{"range":{"@timestamp":{"lt":1763632800001,"format":"epoch_millis"}}}`, "a"},
		{"range date math", `{"range":{"@timestamp":{"gte":"now-15m"}}}`, "e"},
		{"range date math rounded", `{"range":{"@timestamp":{"gte":"now-1d/d"}}}`, "e"},
		{"exists", `{"exists":{"field":"took"}}`, "a,b,c,d,e"},
		{"exists object", `{"exists":{"field":"host"}}`, "a,b,c,d,e"},
		{"exists missing", `{"exists":{"field":"nope"}}`, ""},
		{"ids", `{"ids":{"values":["a","e","zz"]}}`, "a,e"},
		{"prefix", `{"prefix":{"host.name":"web-"}}`, "a,b,c,d,e"},
		{"wildcard", `{"wildcard":{"host.name":"web-?"}}`, "a,b,c,d,e"},
		{"bool must filter must_not", `{"bool":{"must":[{"match":{"message":"get"}}],"filter":{"term":{"status":200}},"must_not":{"term":{"level":"warn"}}}}`, "a"},
		{"bool should min 1", `{"bool":{"should":[{"term":{"level":"warn"}},{"term":{"status":502}}]}}`, "b,c"},
		{"bool should optional with must", `{"bool":{"must":{"term":{"level":"error"}},"should":{"term":{"status":999}}}}`, "b,d"},
		{"bool minimum_should_match", `{"bool":{"should":[{"term":{"level":"error"}},{"term":{"ok":false}},{"term":{"status":504}}],"minimum_should_match":3}}`, "d"},
		{"bool must matching nothing", `{"bool":{"must":{"term":{"nope":"x"}},"must_not":{"term":{"level":"info"}}}}`, ""},
		{"bool only must_not", `{"bool":{"must_not":{"term":{"level":"error"}}}}`, "a,c,e"},
		{"constant_score", `{"constant_score":{"filter":{"term":{"level":"info"}}}}`, "a,e"},
		{"multi_match", `{"multi_match":{"query":"web-3","fields":["host.*","message"]}}`, "d"},
		{"query_string field", `{"query_string":{"query":"level:error"}}`, "b,d"},
		{"query_string and not", `{"query_string":{"query":"level:error AND NOT host.name:web-2"}}`, "d"},
		{"query_string or", `{"query_string":{"query":"status:502 OR status:204"}}`, "b,e"},
		{"query_string phrase", `{"query_string":{"query":"message:\"check passed\""}}`, "e"},
		{"query_string bare term", `{"query_string":{"query":"timeout"}}`, "d"},
		{"query_string default_field", `{"query_string":{"query":"web-2","default_field":"host.name"}}`, "b,e"},
		{"query_string range", `{"query_string":{"query":"status:[500 TO 503]"}}`, "b"},
		{"query_string comparison", `{"query_string":{"query":"took:>=900"}}`, "c,d"},
		{"query_string date range", `{"query_string":{"query":"@timestamp:[2025-11-21 TO *]"}}`, "c,d,e"},
		{"query_string wildcard", `{"query_string":{"query":"host.name:web-*"}}`, "a,b,c,d,e"},
		{"query_string exists", `{"query_string":{"query":"_exists_:took AND level:warn"}}`, "c"},
		{"query_string grouping", `{"query_string":{"query":"(level:warn OR level:info) AND status:200"}}`, "a,c"},
		{"query_string required and prohibited", `{"query_string":{"query":"+level:error -status:502"}}`, "d"},
		{"query_string default AND", `{"query_string":{"query":"upstream timeout","default_operator":"AND"}}`, "d"},
		{"query_string only negative", `{"query_string":{"query":"NOT level:info"}}`, "b,c,d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := fmt.Sprintf(`{"query":%s,"sort":[{"_id":"asc"}]}`, tc.query)
			status, resp := call(t, s, "POST", "/logs-*/_search", body)
			if status != 200 {
				t.Fatalf("status %d: %v", status, resp)
			}
			if got := hitIDs(resp); got != tc.want {
				t.Errorf("hits %q, want %q", got, tc.want)
			}
			_, count := call(t, s, "POST", "/logs-*/_count", fmt.Sprintf(`{"query":%s}`, tc.query))
			wantN := 0
			if tc.want != "" {
				wantN = len(strings.Split(tc.want, ","))
			}
			if count["count"] != float64(wantN) {
				t.Errorf("count %v, want %d", count["count"], wantN)
			}
		})
	}
}

func TestSearchErrors(t *testing.T) {
	s := startServer(t, Config{})
	seedLogs(t, s)
	tests := []struct {
		name, path, body string
		status           int
		wantType         string
	}{
		{"unknown query", "/logs-*/_search", `{"query":{"fancy":{}}}`, 400, "parsing_exception"},
		{"missing concrete index", "/nope/_search", `{}`, 404, "index_not_found_exception"},
		{"sort on text", "/logs-*/_search", `{"sort":["message"]}`, 400, "search_phase_execution_exception"},
		{"sort on unmapped", "/logs-*/_search", `{"sort":["nope"]}`, 400, "search_phase_execution_exception"},
		{"term on long with text", "/logs-*/_search", `{"query":{"term":{"status":"abc"}}}`, 400, "query_shard_exception"},
		{"unknown body key", "/logs-*/_search", `{"foo":1}`, 400, "parsing_exception"},
		{"window too large", "/logs-*/_search", `{"from":9999,"size":2}`, 400, "search_phase_execution_exception"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := call(t, s, "POST", tc.path, tc.body)
			if status != tc.status || dig(resp, "error", "type") != tc.wantType {
				t.Errorf("got %d %v, want %d %s", status, dig(resp, "error"), tc.status, tc.wantType)
			}
		})
	}
	status, resp := call(t, s, "GET", "/nomatch-*/_search", "")
	if status != 200 || dig(resp, "hits", "total", "value") != 0.0 {
		t.Errorf("pattern matching nothing: %d %v", status, resp)
	}
}

func TestSearchSortPagingAndShape(t *testing.T) {
	s := startServer(t, Config{})
	seedLogs(t, s)
	tests := []struct {
		name, body string
		want       string
	}{
		{"timestamp desc", `{"sort":[{"@timestamp":"desc"}]}`, "e,d,c,b,a"},
		{"timestamp asc with size", `{"sort":[{"@timestamp":{"order":"asc"}}],"size":2}`, "a,b"},
		{"from and size", `{"sort":["@timestamp"],"from":2,"size":2}`, "c,d"},
		{"numeric then keyword", `{"sort":[{"status":"desc"},{"host.name":"asc"}]}`, "d,b,e,a,c"},
		{"default size is 10", `{"query":{"match_all":{}},"sort":"_id"}`, "a,b,c,d,e"},
		{"_doc order", `{"sort":["_doc"]}`, "c,d,e"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := "/logs-*/_search"
			if strings.Contains(tc.body, "_doc") {
				target = "/logs-2025.11.21/_search" // _doc order is per index, as in ES
			}
			_, resp := call(t, s, "POST", target, tc.body)
			if got := hitIDs(resp); got != tc.want {
				t.Errorf("hits %q, want %q", got, tc.want)
			}
		})
	}
	_, resp := call(t, s, "POST", "/logs-2025.11.20,logs-2025.11.21/_search", `{"sort":[{"@timestamp":"asc"}],"size":1,"_source":["host.name","level"]}`)
	hit := dig(resp, "hits", "hits", 0)
	if dig(hit, "_index") != "logs-2025.11.20" || dig(hit, "_type") != "_doc" || dig(hit, "_score") != nil {
		t.Errorf("hit shape %v", hit)
	}
	if dig(hit, "sort", 0) != 1763632800000.0 {
		t.Errorf("date sort value %v, want epoch millis", dig(hit, "sort", 0))
	}
	if dig(hit, "_source", "host", "name") != "web-1" || dig(hit, "_source", "message") != nil {
		t.Errorf("_source filtering: %v", dig(hit, "_source"))
	}
	if dig(resp, "hits", "total", "value") != 5.0 || dig(resp, "hits", "total", "relation") != "eq" || dig(resp, "_shards", "total") != 2.0 {
		t.Errorf("envelope: %v", resp)
	}
	_, resp = call(t, s, "POST", "/logs-*/_search", `{"query":{"match":{"message":"upstream"}},"track_total_hits":1,"_source":false}`)
	if dig(resp, "hits", "total", "relation") != "gte" || dig(resp, "hits", "hits", 0, "_source") != nil {
		t.Errorf("track_total_hits/_source false: %v", resp)
	}
	if score, _ := dig(resp, "hits", "max_score").(float64); score <= 0 {
		t.Errorf("max_score %v", dig(resp, "hits", "max_score"))
	}
	_, resp = call(t, s, "GET", "/logs-*/_search?q=level:error&sort=status:asc&size=1", "")
	if hitIDs(resp) != "b" {
		t.Errorf("URL search: %v", hitIDs(resp))
	}
}

func TestRefreshSemantics(t *testing.T) {
	s := startServer(t, Config{RefreshInterval: time.Hour})
	call(t, s, "POST", "/r/_bulk", ndjson(`{"index":{"_id":"1"}}`, `{"a":1}`))
	_, resp := call(t, s, "GET", "/r/_count", "")
	if resp["count"] != 0.0 {
		t.Fatalf("visible before refresh: %v", resp)
	}
	if _, doc := call(t, s, "GET", "/r/_doc/1", ""); doc["found"] != true {
		t.Errorf("GET _doc must be realtime: %v", doc)
	}
	call(t, s, "POST", "/r/_refresh", "")
	if _, resp = call(t, s, "GET", "/r/_count", ""); resp["count"] != 1.0 {
		t.Errorf("not visible after _refresh: %v", resp)
	}
	call(t, s, "POST", "/r/_bulk?refresh=wait_for", ndjson(`{"index":{"_id":"2"}}`, `{"a":2}`))
	if _, resp = call(t, s, "GET", "/r/_count", ""); resp["count"] != 2.0 {
		t.Errorf("refresh=wait_for not honoured: %v", resp)
	}

	fast := startServer(t, Config{RefreshInterval: 20 * time.Millisecond})
	call(t, fast, "POST", "/r/_doc/1", `{"a":1}`)
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, resp = call(t, fast, "GET", "/r/_count", ""); resp["count"] == 1.0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("refresh interval never made the document visible")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
