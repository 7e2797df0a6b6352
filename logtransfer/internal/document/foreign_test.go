package document

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestForeignJSONAsObject(t *testing.T) {
	kafkaTS := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	deep := func(n int) string { return `{"a":` + strings.Repeat("[", n-1) + "1" + strings.Repeat("]", n-1) + `}` }
	tests := []struct {
		name, value string
		object      bool   // indexed under json
		message     any    // top-level message wanted (nil: absent)
		invalid     string // Rejection.Type wanted
	}{
		{"object with a message", `{"level":"info","message":"hi \"x\"","n":1,"o":{"k":[1,2]}}`, true, `hi "x"`, ""},
		{"object without message", `{"level":"warn","msg":"hi"}`, true, nil, ""},
		{"message not a string", `{"message":{"text":"hi"}}`, true, nil, ""},
		{"differently cased key is not message", `{"Message":"hi"}`, true, nil, ""},
		{"line breaks inside", "{\"a\":1,\n\"message\":\"m\"}\n", true, "m", ""},
		{"agent-like without event.id", `{"@timestamp":"2026-06-01T00:00:00Z","message":"m","event":{"ingested":"x"}}`, true, "m", ""},
		{"at the depth limit", deep(MaxDepth - 1), true, nil, ""},
		{"too deep", deep(MaxDepth), false, nil, "too_deeply_nested"},
		{"array", `[{"a":1}]`, false, `[{"a":1}]`, ""},
		{"number", `42`, false, `42`, ""},
		{"invalid json", `{"a":`, false, `{"a":`, ""},
		{"leading space", ` {"a":1}`, false, ` {"a":1}`, ""},
		{"invalid utf8", "{\"a\":\"\xff\"}", false, "{\"a\":\"\ufffd\"}", ""},
		{"plain text", "GET / 200", false, "GET / 200", ""},
	}
	b := NewBuilder(mustPattern(t, DefaultIndexPattern, "lc")).WithForeignJSON(ForeignJSONObject)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := b.Build(Message{Topic: "app", Partition: 1, Offset: 7, Value: []byte(tc.value), Timestamp: kafkaTS})
			if d.Agent || d.ID != "app-1-7" || d.Index != "lc-app-2026.01.02" {
				t.Fatalf("agent %v, id %q, index %q", d.Agent, d.ID, d.Index)
			}
			if tc.invalid != "" {
				if d.Invalid == nil || d.Invalid.Type != tc.invalid {
					t.Fatalf("invalid = %+v, want %s", d.Invalid, tc.invalid)
				}
				return
			}
			if d.Invalid != nil {
				t.Fatalf("invalid = %+v", d.Invalid)
			}
			var got map[string]any
			if err := json.Unmarshal(d.Body, &got); err != nil {
				t.Fatalf("body %s: %v", d.Body, err)
			}
			if got["@timestamp"] != "2026-01-02T03:04:05.000Z" || got["kafka"].(map[string]any)["offset"] != float64(7) {
				t.Errorf("body = %s", d.Body)
			}
			if got["message"] != tc.message {
				t.Errorf("message = %#v, want %#v", got["message"], tc.message)
			}
			if _, isObject := got["json"]; isObject != tc.object {
				t.Fatalf("json present %v, want %v: %s", isObject, tc.object, d.Body)
			}
			if tc.object {
				var want any
				json.Unmarshal([]byte(tc.value), &want)
				if g, w := mustJSON(t, got["json"]), mustJSON(t, want); g != w {
					t.Errorf("json = %s, want the object as sent %s", g, w)
				}
			}
		})
	}
}

func TestForeignJSONDefaultIsMessage(t *testing.T) {
	for _, b := range []*Builder{
		NewBuilder(mustPattern(t, DefaultIndexPattern, "lc")),
		NewBuilder(mustPattern(t, DefaultIndexPattern, "lc")).WithForeignJSON(ForeignJSONMessage),
	} {
		d := b.Build(Message{Topic: "app", Value: []byte(`{"a":1}`), Timestamp: time.Unix(1e9, 0)})
		var got map[string]any
		if err := json.Unmarshal(d.Body, &got); err != nil || got["message"] != `{"a":1}` || got["json"] != nil {
			t.Errorf("body %s, %v: want the value as one message string", d.Body, err)
		}
	}
}

func TestDepthOfValidJSON(t *testing.T) {
	for v, want := range map[string]int{
		`1`: 0, `{}`: 1, `{"a":[1,{"b":2}]}`: 3, `{"a":"[[[{{{\"]]]"}`: 1, `[[],[[]]]`: 3,
		`{"a\\":"{"}`: 1,
	} {
		if got := depth([]byte(v)); got != want {
			t.Errorf("depth(%s) = %d, want %d", v, got, want)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
