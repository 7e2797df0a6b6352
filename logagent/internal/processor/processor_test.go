package processor

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/pkg/record"
)

var readTime = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// mustParse compiles processors for a test.
func mustParse(t testing.TB, processors string) *Chain {
	t.Helper()
	c, err := Parse([]byte(processors), Options{})
	if err != nil {
		t.Fatalf("Parse(%s): %v", processors, err)
	}
	return c
}

// run applies c to a fresh line of msg read at readTime.
func run(c *Chain, msg string) (*Line, Verdict) {
	l := &Line{Message: msg, Time: readTime, Source: "/var/log/a.log"}
	return l, c.Apply(l)
}

type recordField = record.Field

func fields(fs ...record.Field) []record.Field { return fs }

func str(k, v string) record.Field         { return record.StringField(k, v) }
func num(k string, v int64) record.Field   { return record.IntField(k, v) }
func flt(k string, v float64) record.Field { return record.FloatField(k, v) }

func TestEmptyChainKeepsLinesAsRead(t *testing.T) {
	for _, raw := range []string{"", "null", " [] "} {
		c := mustParse(t, raw)
		l, v := run(c, "x")
		if v != Keep || c.Len() != 0 || l.Message != "x" || l.Parsed != nil || l.Flags != nil || !l.Created.IsZero() {
			t.Errorf("Parse(%q): %v %+v", raw, v, l)
		}
	}
}

func TestFilter(t *testing.T) {
	tests := []struct {
		name, processors, msg string
		want                  Verdict
	}{
		{"drop match", `[{"type":"drop","pattern":"^DEBUG"}]`, "DEBUG x", Drop},
		{"drop no match", `[{"type":"drop","pattern":"^DEBUG"}]`, "INFO x", Keep},
		{"keep match", `[{"type":"keep","pattern":"ERROR|WARN"}]`, "a WARN b", Keep},
		{"keep no match", `[{"type":"keep","pattern":"ERROR|WARN"}]`, "INFO", Drop},
		{"keep on a parsed number", `[{"type":"parse","format":"logfmt","types":{"status":"int"}},{"type":"keep","field":"parsed.status","pattern":"^5"}]`, "status=503", Keep},
		{"keep on a parsed number, other", `[{"type":"parse","format":"logfmt","types":{"status":"int"}},{"type":"keep","field":"parsed.status","pattern":"^5"}]`, "status=200", Drop},
		{"keep without the field drops", `[{"type":"keep","field":"parsed.status","pattern":"."}]`, "status=200", Drop},
		{"drop without the field keeps", `[{"type":"drop","field":"parsed.status","pattern":"."}]`, "status=200", Keep},
		// RE2 is linear: the classic catastrophic pattern is answered at once.
		{"catastrophic-looking pattern", `[{"type":"drop","pattern":"^(a+)+$"}]`, strings.Repeat("a", 100000) + "!", Keep},
		{"invalid UTF-8", `[{"type":"drop","pattern":"^\\x{FFFD}"}]`, "\xff oops", Drop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, v := run(mustParse(t, tt.processors), tt.msg); v != tt.want {
				t.Errorf("Apply(%.40q) = %v, want %v", tt.msg, v, tt.want)
			}
		})
	}
}

func TestFilterOnJSONField(t *testing.T) {
	c := mustParse(t, `[{"type":"drop","field":"json.level","pattern":"^debug$"}]`)
	for _, tt := range []struct {
		json string
		want Verdict
	}{
		{`{"level":"debug","msg":"x"}`, Drop},
		{`{"level":"info"}`, Keep},
		{`{"level":{"nested":"debug"}}`, Keep},
		{`not json`, Keep},
	} {
		l := &Line{Message: "m", JSON: []byte(tt.json)}
		if v := c.Apply(l); v != tt.want {
			t.Errorf("JSON %s: %v, want %v", tt.json, v, tt.want)
		}
	}
}

func TestStatsCountDrops(t *testing.T) {
	now := readTime
	c, err := Parse([]byte(`[{"type":"drop","pattern":"^DEBUG"},{"type":"rate_limit","lines_per_second":1,"burst":1}]`),
		Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"DEBUG a", "b", "c", "DEBUG d", "e"} {
		run(c, msg)
	}
	if got, want := c.Stats(), (Stats{Filtered: 2, RateLimited: 2}); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

// panicky is a processor with a bug.
type panicky struct{}

func (panicky) apply(l *Line) Verdict {
	l.Message = "half done"
	l.Flag("x")
	var m map[string]int
	m["boom"]++
	return Keep
}

func TestAFailingProcessorLeavesTheLineUnprocessed(t *testing.T) {
	c := mustParse(t, `[{"type":"parse","format":"logfmt"}]`)
	c.steps, c.types = append(c.steps, panicky{}), append(c.types, "test")
	l, v := run(c, "a=1")
	if v != Keep || l.Message != "a=1" || len(l.Parsed) != 0 || !reflect.DeepEqual(l.Flags, []string{record.FlagProcessorError}) {
		t.Errorf("after a panic: %v %+v", v, l)
	}
	if c.Stats().Failed != 1 {
		t.Errorf("Stats = %+v", c.Stats())
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		processors string
		want       ConfigError
	}{
		{`[{"pattern":"x"}]`, ConfigError{Index: 0, Field: "type", Problem: "missing"}},
		{`[{"type":"filter"}]`, ConfigError{Index: 0, Field: "type", Value: `"filter"`, Problem: "unknown processor type"}},
		{`["drop"]`, ConfigError{Index: 0}},
		{`[{"type":"drop","pattern":"x"},{"type":"drop","patern":"x"}]`, ConfigError{Index: 1, Type: "drop", Field: "patern", Problem: "unknown field", Fix: "the fields of drop are type, pattern, field"}},
		{`[{"type":"drop"}]`, ConfigError{Type: "drop", Field: "pattern", Value: `""`, Problem: "missing"}},
		{`[{"type":"keep","pattern":"a(b"}]`, ConfigError{Type: "keep", Field: "pattern", Value: `"a(b"`}},
		{`[{"type":"keep","pattern":"(a)\\1"}]`, ConfigError{Type: "keep", Field: "pattern", Value: `"(a)\\1"`}},
		{`[{"type":"drop","pattern":"x","field":"msg"}]`, ConfigError{Type: "drop", Field: "field", Value: `"msg"`, Problem: "not a field a processor can read"}},
		{`[{"type":"drop","pattern":7}]`, ConfigError{Type: "drop", Field: "pattern", Problem: "is a JSON number, want a string"}},
		{`[{"type":"mask"}]`, ConfigError{Type: "mask", Field: "pattern"}},
		{`[{"type":"mask","builtins":["email","emial"]}]`, ConfigError{Type: "mask", Field: "builtins[1]", Value: `"emial"`, Problem: "not a built-in mask", Fix: "write one of email, credit_card, secrets, ipv4"}},
		{`[{"type":"mask","builtins":["email","email"]}]`, ConfigError{Type: "mask", Field: "builtins[1]", Problem: "listed twice"}},
		{`[{"type":"mask","builtins":"email"}]`, ConfigError{Type: "mask", Field: "builtins", Problem: "is a JSON string, want an array of strings"}},
		{`[{"type":"parse"}]`, ConfigError{Type: "parse", Field: "format", Problem: "missing"}},
		{`[{"type":"parse","format":"json"}]`, ConfigError{Type: "parse", Field: "format", Value: `"json"`, Problem: "unknown format"}},
		{`[{"type":"parse","format":"nginx","pattern":"(?P<a>x)"}]`, ConfigError{Type: "parse", Field: "format", Problem: "given together with a pattern"}},
		{`[{"type":"parse","pattern":"(x)"}]`, ConfigError{Type: "parse", Field: "pattern", Problem: "has no named group, so it would parse nothing"}},
		{`[{"type":"parse","pattern":"(?P<n>x)","types":{"m":"int"}}]`, ConfigError{Type: "parse", Field: "types", Value: `"m"`, Problem: "not a named group of the pattern"}},
		{`[{"type":"parse","pattern":"(?P<n>x)","types":{"n":"integer"}}]`, ConfigError{Type: "parse", Field: "types.n", Value: `"integer"`, Problem: "unknown type"}},
		{`[{"type":"parse","format":"nginx","types":{"status":"string"}}]`, ConfigError{Type: "parse", Field: "types", Problem: "format nginx sets its own types"}},
		{`[{"type":"timestamp","layouts":["nginx"]}]`, ConfigError{Type: "timestamp", Field: "field", Problem: "missing"}},
		{`[{"type":"timestamp","field":"parsed.time"}]`, ConfigError{Type: "timestamp", Field: "layouts", Problem: "missing"}},
		{`[{"type":"timestamp","field":"parsed.time","layouts":["nginx","RFC3339"]}]`, ConfigError{Type: "timestamp", Field: "layouts[1]", Value: `"RFC3339"`}},
		{`[{"type":"timestamp","field":"parsed.time","layouts":["nginx"],"timezone":"Mars/Olympus"}]`, ConfigError{Type: "timestamp", Field: "timezone", Value: `"Mars/Olympus"`}},
		{`[{"type":"timestamp","field":"parsed.time","layouts":["nginx"],"timezone":"Local"}]`, ConfigError{Type: "timestamp", Field: "timezone"}},
		{`[{"type":"rate_limit"}]`, ConfigError{Type: "rate_limit", Field: "lines_per_second", Value: "0", Problem: "must be more than 0"}},
		{`[{"type":"rate_limit","lines_per_second":-5}]`, ConfigError{Type: "rate_limit", Field: "lines_per_second", Value: "-5"}},
		{`[{"type":"rate_limit","lines_per_second":5,"burst":-1}]`, ConfigError{Type: "rate_limit", Field: "burst", Value: "-1", Problem: "negative"}},
		{`[{"type":"rate_limit","lines_per_second":5,"burst":1.5}]`, ConfigError{Type: "rate_limit", Field: "burst", Problem: "is a JSON number 1.5, want an integer"}},
		{`[{"type":"rate_limit","lines_per_second":5,"per_file":"yes"}]`, ConfigError{Type: "rate_limit", Field: "per_file", Problem: "is a JSON string, want true or false"}},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.processors), Options{})
		var got *ConfigError
		if !errors.As(err, &got) {
			t.Errorf("Parse(%s) = %v, want a *ConfigError", tt.processors, err)
			continue
		}
		w := tt.want
		if got.Index != w.Index || got.Type != w.Type || got.Field != w.Field ||
			w.Value != "" && got.Value != w.Value || !strings.Contains(got.Problem, w.Problem) || !strings.Contains(got.Fix, w.Fix) {
			t.Errorf("Parse(%s):\n got  %#v\n want %#v", tt.processors, *got, w)
		}
		if got.Fix == "" {
			t.Errorf("Parse(%s) = %v: says nothing about what to write instead", tt.processors, err)
		}
	}
}

func TestConfigErrorMessage(t *testing.T) {
	_, err := Parse([]byte(`[{"type":"drop","pattern":"x"},{"type":"mask","builtins":["emial"]}]`), Options{})
	const want = `processors[1] (mask): builtins[0] "emial": not a built-in mask; write one of email, credit_card, secrets, ipv4`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant      %s", err, want)
	}
	if _, err := Parse([]byte(`{"type":"drop"}`), Options{}); err == nil || !strings.Contains(err.Error(), "want a JSON array") {
		t.Errorf("not an array: %v", err)
	}
}

// jsonTextDecoded is what jsonText replaced: the oracle it must agree with
// on valid objects.
func jsonTextDecoded(obj []byte, key string) (string, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(obj, &m) != nil {
		return "", false
	}
	v, ok := m[key]
	if !ok || len(v) == 0 {
		return "", false
	}
	switch v[0] {
	case '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return s, true
	case '{', '[', 'n':
		return "", false
	}
	return string(v), true
}

var jsonTextCases = []string{
	`{"ts":1732183200123,"level":"info"}`,
	` { "level" : "debug" , "ts" : "2026-11-21T10:00:00Z" } `,
	`{"a":{"ts":"inner"},"ts":"outer"}`,
	`{"ts":"first","ts":"last"}`,
	`{"t\u0073":"escaped key","x":[1,"]",{"y":"}"}]}`,
	`{"ts":"a\"b\\c\n"}`,
	`{"ts":null}`, `{"ts":true}`, `{"ts":-1.5e3}`, `{"ts":[1]}`, `{"ts":{}}`, `{}`, `{"ts":""}`,
}

func TestJSONTextMatchesDecoding(t *testing.T) {
	for _, obj := range jsonTextCases {
		for _, key := range []string{"ts", "level", "a", "x", "missing"} {
			got, gotOK := jsonText([]byte(obj), key)
			want, wantOK := jsonTextDecoded([]byte(obj), key)
			if got != want || gotOK != wantOK {
				t.Errorf("jsonText(%s, %q) = %q, %v; decoding says %q, %v", obj, key, got, gotOK, want, wantOK)
			}
		}
	}
	// Not an object, or broken: absent, no panic.
	for _, obj := range []string{``, `[]`, `"ts"`, `{"ts"`, `{"ts":`, `{"ts":"x`, `{"ts":[1,2}`, `{ts:1}`, `{"a":1 "ts":2}`} {
		if v, ok := jsonText([]byte(obj), "ts"); ok {
			t.Errorf("jsonText(%s) = %q, true", obj, v)
		}
	}
}

func FuzzJSONText(f *testing.F) {
	for _, obj := range jsonTextCases {
		f.Add(obj, "ts")
	}
	f.Fuzz(func(t *testing.T, obj, key string) {
		got, gotOK := jsonText([]byte(obj), key)
		if !json.Valid([]byte(obj)) {
			return // the agent only hands valid objects over; this must merely not panic
		}
		if want, wantOK := jsonTextDecoded([]byte(obj), key); got != want || gotOK != wantOK {
			t.Errorf("jsonText(%s, %q) = %q, %v; decoding says %q, %v", obj, key, got, gotOK, want, wantOK)
		}
	})
}
