package esemu

import (
	"strconv"
	"strings"
	"testing"
)

func TestDynamicMappingTypes(t *testing.T) {
	s := startServer(t, Config{})
	status, resp := call(t, s, "PUT", "/dyn/_doc/1?refresh=true", `{
		"@timestamp":"2026-11-21T10:00:00.123Z","day":"2026-11-21","msg":"hello world","count":42,"ratio":0.5,
		"ok":true,"host":{"name":"web-1","port":8080},"tags":["a","b"],"nothing":null,"empty":[],"dotted.key":"v"}`)
	if status != 201 || resp["result"] != "created" {
		t.Fatalf("index: %d %v", status, resp)
	}
	_, m := call(t, s, "GET", "/dyn/_mapping", "")
	props := dig(m, "dyn", "mappings", "properties")
	want := map[string]string{
		"@timestamp": "date", "day": "date", "msg": "text", "count": "long", "ratio": "float", "ok": "boolean",
		"tags": "text",
	}
	for field, typ := range want {
		if got := dig(props, field, "type"); got != typ {
			t.Errorf("%s: %v, want %s", field, got, typ)
		}
	}
	if dig(props, "msg", "fields", "keyword", "type") != "keyword" || dig(props, "msg", "fields", "keyword", "ignore_above") != 256.0 {
		t.Errorf("msg.keyword: %v", dig(props, "msg"))
	}
	if dig(props, "host", "properties", "port", "type") != "long" || dig(props, "host", "type") != nil {
		t.Errorf("object mapping: %v", dig(props, "host"))
	}
	if dig(props, "dotted", "properties", "key", "type") != "text" {
		t.Errorf("dotted field not expanded: %v", dig(props, "dotted"))
	}
	if dig(props, "nothing") != nil || dig(props, "empty") != nil {
		t.Errorf("null/empty array must not be mapped: %v", props)
	}
	_, r := call(t, s, "POST", "/dyn/_search", `{"query":{"term":{"msg.keyword":"hello world"}}}`)
	if dig(r, "hits", "total", "value") != 1.0 {
		t.Errorf("keyword subfield not searchable: %v", r)
	}
}

func TestMappingRejections(t *testing.T) {
	s := startServer(t, Config{})
	call(t, s, "PUT", "/typed", `{"mappings":{"properties":{
		"n":{"type":"integer"},"d":{"type":"date"},"b":{"type":"boolean"},"k":{"type":"keyword"},"t":{"type":"text"},
		"o":{"properties":{"x":{"type":"keyword"}}},"off":{"type":"object","enabled":false},"ni":{"type":"keyword","index":false},
		"ip":{"type":"ip"},"im":{"type":"long","ignore_malformed":true},"short":{"type":"keyword","ignore_above":3}}}}`)
	tests := []struct {
		name   string
		doc    string
		reason string // "" means accepted
	}{
		{"long from string", `{"n":"12"}`, ""},
		{"long truncates float", `{"n":12.7}`, ""},
		{"integer out of range", `{"n":3000000000}`, "failed to parse field [n] of type [integer]"},
		{"integer from text", `{"n":"abc"}`, "Preview of field's value: 'abc'"},
		{"integer from bool", `{"n":true}`, "failed to parse field [n] of type [integer]"},
		{"date iso", `{"d":"2026-11-21T10:00:00+01:00"}`, ""},
		{"date epoch millis", `{"d":1763719200000}`, ""},
		{"date garbage", `{"d":"yesterday"}`, "failed to parse field [d] of type [date]"},
		{"boolean string", `{"b":"false"}`, ""},
		{"boolean garbage", `{"b":"yes"}`, "failed to parse field [b] of type [boolean]"},
		{"keyword from number", `{"k":5}`, ""},
		{"object into keyword", `{"k":{"a":1}}`, "Preview of field's value: '{a=1}'"},
		{"object into text", `{"t":{"a":1}}`, "failed to parse field [t] of type [text]"},
		{"scalar into object", `{"o":"flat"}`, "object mapping for [o] tried to parse field [o] as object, but found a concrete value"},
		{"disabled object takes anything", `{"off":{"any":[1,"x",{"y":true}]}}`, ""},
		{"index false still validated", `{"ni":"v"}`, ""},
		{"bad ip", `{"ip":"999.1.1.1"}`, "failed to parse field [ip] of type [ip]"},
		{"ignore_malformed", `{"im":"not a number"}`, ""},
		{"array element bad", `{"n":[1,"x"]}`, "Preview of field's value: 'x'"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := string(rune('a' + i))
			status, resp := call(t, s, "PUT", "/typed/_doc/"+id, tc.doc)
			if tc.reason == "" {
				if status != 201 {
					t.Fatalf("rejected: %d %v", status, resp)
				}
				return
			}
			reason, _ := dig(resp, "error", "reason").(string)
			if status != 400 || dig(resp, "error", "type") != "mapper_parsing_exception" || !strings.Contains(reason, tc.reason) {
				t.Errorf("got %d %v, want mapper_parsing_exception containing %q", status, dig(resp, "error"), tc.reason)
			}
			if _, ok, _ := s.Get("typed", id); ok {
				t.Error("rejected document was stored")
			}
		})
	}
	call(t, s, "POST", "/typed/_refresh", "")
	for q, want := range map[string]float64{
		`{"term":{"ni":"v"}}`:                    0, // index:false is stored, not searchable
		`{"term":{"short":"abcd"}}`:              0,
		`{"exists":{"field":"off"}}`:             0,
		`{"range":{"n":{"gte":12}}}`:             2,
		`{"term":{"k":"5"}}`:                     1,
		`{"term":{"b":false}}`:                   1,
		`{"match":{"d":"2026-11-21T09:00:00Z"}}`: 1,
	} {
		_, r := call(t, s, "POST", "/typed/_count", `{"query":`+q+`}`)
		if r["count"] != want {
			t.Errorf("%s: count %v, want %v", q, r["count"], want)
		}
	}
}

func TestStrictDynamicAndPutMapping(t *testing.T) {
	s := startServer(t, Config{})
	call(t, s, "PUT", "/strict", `{"mappings":{"dynamic":"strict","properties":{"a":{"type":"keyword"}}}}`)
	status, resp := call(t, s, "PUT", "/strict/_doc/1", `{"a":"x","b":1}`)
	if status != 400 || dig(resp, "error", "type") != "strict_dynamic_mapping_exception" {
		t.Errorf("strict: %d %v", status, resp)
	}
	if status, resp = call(t, s, "PUT", "/strict/_mapping", `{"properties":{"b":{"type":"long"}}}`); status != 200 {
		t.Fatalf("put mapping: %d %v", status, resp)
	}
	if status, _ = call(t, s, "PUT", "/strict/_doc/1", `{"a":"x","b":1}`); status != 201 {
		t.Errorf("after put mapping: %d", status)
	}
	status, resp = call(t, s, "PUT", "/strict/_mapping", `{"properties":{"b":{"type":"text"}}}`)
	if status != 400 || !strings.Contains(dig(resp, "error", "reason").(string), "cannot be changed from type [long] to [text]") {
		t.Errorf("type change: %d %v", status, resp)
	}
	status, resp = call(t, s, "PUT", "/badmap", `{"mappings":{"properties":{"a":{"type":"strange"}}}}`)
	if status != 400 || dig(resp, "error", "type") != "mapper_parsing_exception" {
		t.Errorf("unknown type: %d %v", status, resp)
	}
	call(t, s, "PUT", "/dt", `{"mappings":{"dynamic_templates":[{"strings":{"match_mapping_type":"string","mapping":{"type":"keyword"}}}]}}`)
	call(t, s, "PUT", "/dt/_doc/1", `{"s":"v"}`)
	_, m := call(t, s, "GET", "/dt/_mapping", "")
	if dig(m, "dt", "mappings", "properties", "s", "type") != "keyword" {
		t.Errorf("dynamic template: %v", m)
	}
}

func TestTotalFieldsLimit(t *testing.T) {
	s := startServer(t, Config{})
	call(t, s, "PUT", "/lim", `{"settings":{"index.mapping.total_fields.limit":3}}`)
	if status, _ := call(t, s, "PUT", "/lim/_doc/1", `{"a":1,"b":{"c":1}}`); status != 201 {
		t.Fatalf("within limit: %d", status)
	}
	status, resp := call(t, s, "PUT", "/lim/_doc/2", `{"d":"text"}`) // text + keyword sub-field = 2 more
	if status != 400 || dig(resp, "error", "reason") != "Limit of total fields [3] has been exceeded" {
		t.Errorf("over limit: %d %v", status, resp)
	}
	_, m := call(t, s, "GET", "/lim/_mapping", "")
	if dig(m, "lim", "mappings", "properties", "d") != nil {
		t.Error("rejected document changed the mapping")
	}
}

// TestDynamicTemplatesByPathAndJSONType is what logtransfer's template
// relies on for parsed.*: path_match with match_mapping_type picks keyword,
// long or double by the JSON type of the first value, a string that date
// detection takes for a date matches "date" (not "string"), fields outside
// the path keep the default mappings, a long answers a query_string term,
// and a later value of another shape is refused as in Elasticsearch 7.17.
func TestDynamicTemplatesByPathAndJSONType(t *testing.T) {
	s := startServer(t, Config{})
	call(t, s, "PUT", "/p", `{"mappings":{"dynamic_templates":[
		{"parsed_strings":{"path_match":"parsed.*","match_mapping_type":"string","mapping":{"type":"keyword","ignore_above":1024}}},
		{"parsed_dates":{"path_match":"parsed.*","match_mapping_type":"date","mapping":{"type":"keyword","ignore_above":1024}}},
		{"parsed_longs":{"path_match":"parsed.*","match_mapping_type":"long","mapping":{"type":"long"}}},
		{"parsed_doubles":{"path_match":"parsed.*","match_mapping_type":"double","mapping":{"type":"double"}}}],
		"properties":{"event":{"properties":{"created":{"type":"date"}}}}}}`)
	doc := `{"parsed":{"status":500,"request":"GET /x HTTP/1.1","rt":0.25,"ts":"2026-11-21T10:00:00Z","deep":{"n":1}},
		"other":"2026-11-21T10:00:00Z","num":1.5,"event":{"created":"2026-11-21T10:00:01Z"}}`
	if status, resp := call(t, s, "PUT", "/p/_doc/1?refresh=true", doc); status != 201 {
		t.Fatalf("index: %d %v", status, resp)
	}
	_, m := call(t, s, "GET", "/p/_mapping", "")
	props := dig(m, "p", "mappings", "properties")
	for path, want := range map[string]string{
		"parsed.status": "long", "parsed.request": "keyword", "parsed.rt": "double", "parsed.ts": "keyword",
		"parsed.deep.n": "long", "other": "date", "num": "float", "event.created": "date",
	} {
		var leaf any = props
		parts := strings.Split(path, ".")
		for i, name := range parts {
			leaf = dig(leaf, name)
			if i < len(parts)-1 {
				leaf = dig(leaf, "properties")
			}
		}
		if got := dig(leaf, "type"); got != want {
			t.Errorf("%s mapped as %v, want %s", path, got, want)
		}
	}
	if got := dig(props, "parsed", "properties", "request", "ignore_above"); got != float64(1024) {
		t.Errorf("parsed.request ignore_above = %v", got)
	}
	for q, want := range map[string]float64{
		"parsed.status:500": 1, "parsed.status:404": 0, `parsed.request:"GET /x HTTP/1.1"`: 1, "parsed.rt:0.25": 1,
		"parsed.status:[400 TO 599]": 1,
	} {
		_, r := call(t, s, "POST", "/p/_count", `{"query":{"query_string":{"query":`+strconv.Quote(q)+`}}}`)
		if r["count"] != want {
			t.Errorf("%s: count %v, want %v", q, r["count"], want)
		}
	}
	// A number where a string was seen becomes the keyword "404"; a word
	// where a long was seen, or an object where a value was, is refused.
	if status, resp := call(t, s, "PUT", "/p/_doc/2", `{"parsed":{"request":404}}`); status != 201 {
		t.Errorf("number into keyword: %d %v", status, resp)
	}
	for _, bad := range []string{`{"parsed":{"status":"-"}}`, `{"parsed":{"status":{"code":1}}}`, `{"parsed":{"deep":7}}`} {
		status, resp := call(t, s, "PUT", "/p/_doc/3", bad)
		if status != 400 || dig(resp, "error", "type") != "mapper_parsing_exception" {
			t.Errorf("%s: %d %v, want 400 mapper_parsing_exception", bad, status, resp)
		}
	}
}
