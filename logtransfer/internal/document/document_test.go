package document

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/pkg/record"
)

func mustPattern(t *testing.T, p, prefix string) *IndexPattern {
	t.Helper()
	ip, err := CompileIndexPattern(p, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return ip
}

func TestAgentRecordIsIndexedAsIs(t *testing.T) {
	r := record.Record{
		Timestamp: time.Date(2026, 11, 21, 23, 30, 0, 0, time.FixedZone("X", -2*3600)), // 01:30 UTC next day
		Message:   "GET / 200", HostName: "web-1", HostIP: "10.0.0.5", Path: "/var/log/a.log",
		EventID: "abc123",
	}
	value := r.AppendJSON(nil)
	b := NewBuilder(mustPattern(t, DefaultIndexPattern, "logcollect"))
	d := b.Build(Message{Topic: "Web_Log", Partition: 2, Offset: 7, Value: value})
	if !d.Agent || d.ID != "abc123" {
		t.Errorf("doc = %+v, want agent record with id abc123", d)
	}
	if d.Index != "logcollect-web_log-2026.11.22" {
		t.Errorf("index = %q, want logcollect-web_log-2026.11.22 (UTC day, lower-cased topic)", d.Index)
	}
	if string(d.Body) != string(value) {
		t.Errorf("body changed:\n got %s\nwant %s", d.Body, value)
	}
}

func TestForeignValuesBecomeMessageDocs(t *testing.T) {
	kafkaTS := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	tests := []struct {
		name, value string
	}{
		{"plain text", "127.0.0.1 - GET /index.html 200"},
		{"foreign json", `{"level":"info","msg":"hi"}`},
		{"json with event.id but no timestamp", `{"event":{"id":"x"}}`},
		{"invalid utf8 and quotes", "bad \xff \"q\"\n"},
		{"empty", ""},
	}
	b := NewBuilder(mustPattern(t, DefaultIndexPattern, "lc"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := b.Build(Message{Topic: "nginx", Partition: 3, Offset: 42, Value: []byte(tt.value), Timestamp: kafkaTS})
			if d.Agent {
				t.Fatal("treated as an agent record")
			}
			if d.ID != "nginx-3-42" || d.Index != "lc-nginx-2026.01.02" {
				t.Errorf("id, index = %q, %q", d.ID, d.Index)
			}
			var got struct {
				Timestamp string `json:"@timestamp"`
				Message   string `json:"message"`
				Kafka     struct {
					Topic     string `json:"topic"`
					Partition int32  `json:"partition"`
					Offset    int64  `json:"offset"`
				} `json:"kafka"`
			}
			if err := json.Unmarshal(d.Body, &got); err != nil {
				t.Fatalf("body %s: %v", d.Body, err)
			}
			if got.Timestamp != "2026-01-02T03:04:05.006Z" || got.Kafka.Topic != "nginx" || got.Kafka.Partition != 3 || got.Kafka.Offset != 42 {
				t.Errorf("body = %s", d.Body)
			}
			if want := strings.ToValidUTF8(tt.value, "\ufffd"); got.Message != want {
				t.Errorf("message = %q, want %q", got.Message, want)
			}
		})
	}
}

func TestMissingKafkaTimestampUsesNow(t *testing.T) {
	b := NewBuilder(mustPattern(t, DefaultIndexPattern, "lc"))
	b.now = func() time.Time { return time.Date(2030, 5, 6, 0, 0, 0, 0, time.UTC) }
	d := b.Build(Message{Topic: "t", Value: []byte("x")})
	if d.Index != "lc-t-2030.05.06" {
		t.Errorf("index = %q", d.Index)
	}
}

func TestIndexPatterns(t *testing.T) {
	ts := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	ok := map[string]string{
		DefaultIndexPattern:               "p-topic-2026.03.04",
		"{prefix}-{topic}-{YYYY.MM}":      "p-topic-2026.03",
		"logs-{topic}-{YYYY.MM.DD-HH}":    "logs-topic-2026.03.04-05",
		"{prefix}_{topic}_{YYYY_MM_DD}_x": "p_topic_2026_03_04_x",
	}
	for p, want := range ok {
		ip, err := CompileIndexPattern(p, "p")
		if err != nil {
			t.Errorf("%q: %v", p, err)
			continue
		}
		if got := ip.Format("Topic", ts); got != want {
			t.Errorf("%q → %q, want %q", p, got, want)
		}
		if tp := ip.TemplatePattern(); !strings.HasPrefix(want, strings.TrimSuffix(tp, "*")) || len(tp) < 2 {
			t.Errorf("%q: template pattern %q does not cover %q", p, tp, want)
		}
	}
	for _, bad := range []string{"{prefix}-{YYYY}", "{prefix}-{topic}-{yyyy}", "{prefix}-{topic", "Logs-{topic}", "-{topic}", "a b-{topic}", "{topic}-{}", "{topic}-x"} {
		if _, err := CompileIndexPattern(bad, "p"); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestSanitizeIndexName(t *testing.T) {
	for in, want := range map[string]string{
		"Web_Log":                "web_log",
		"_x":                     "x",
		"a:b*c?d":                "a_b_c_d",
		"..":                     "unnamed",
		strings.Repeat("a", 300): strings.Repeat("a", 255),
	} {
		if got := SanitizeIndexName(in); got != want {
			t.Errorf("SanitizeIndexName(%q) = %q, want %q", in, got, want)
		}
		if err := CheckIndexName(SanitizeIndexName(in)); err != nil {
			t.Errorf("sanitized %q still invalid: %v", in, err)
		}
	}
}

func TestDeadLetterKeepsOriginalAndError(t *testing.T) {
	m := Message{Topic: "t", Partition: 1, Offset: 9, Value: []byte("{\"log\":{\"offset\":\"x\"}}\xff")}
	d := Doc{Index: "lc-t-2026.01.01", ID: "id9"}
	body := DeadLetter(m, d, Rejection{Status: 400, Type: "mapper_parsing_exception", Reason: "failed to parse [log.offset]"}, time.Unix(0, 0))
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	ev := got["event"].(map[string]any)
	if ev["original"] != strings.ToValidUTF8(string(m.Value), "\ufffd") {
		t.Errorf("event.original = %q", ev["original"])
	}
	e := got["error"].(map[string]any)
	if e["type"] != "mapper_parsing_exception" || e["status"] != float64(400) {
		t.Errorf("error = %v", e)
	}
	if k := got["kafka"].(map[string]any); k["offset"] != float64(9) || k["topic"] != "t" {
		t.Errorf("kafka = %v", k)
	}
	if o := got["original"].(map[string]any); o["index"] != d.Index || o["id"] != "id9" {
		t.Errorf("original = %v", o)
	}
}

func TestEventIDsElasticsearchRefuses(t *testing.T) {
	b := NewBuilder(mustPattern(t, DefaultIndexPattern, "lc"))
	tests := []struct {
		name, id  string
		invalid   bool
		reasonHas string
		sent      string // the id as Elasticsearch would get it, when not id
	}{
		{"short", "abc", false, "", ""},
		{"512 bytes", strings.Repeat("a", 512), false, "", ""},
		{"513 bytes", strings.Repeat("a", 513), true, "513 bytes long", ""},
		{"300 characters, 600 bytes", strings.Repeat("é", 300), true, "600 bytes long", ""},
		{"invalid UTF-8, counted as sent (U+FFFD)", strings.Repeat("\xff", 200), true, "600 bytes long", strings.Repeat("\uFFFD", 200)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			value := []byte(`{"@timestamp":"2026-01-02T03:04:05Z","event":{"id":"` + tc.id + `"}}`)
			d := b.Build(Message{Topic: "t", Offset: 9, Value: value})
			if !d.Agent || (d.Invalid != nil) != tc.invalid {
				t.Fatalf("doc = %+v, want agent record, invalid %v", d, tc.invalid)
			}
			if !tc.invalid {
				if d.ID != tc.id {
					t.Errorf("id = %q, want the event.id", d.ID)
				}
				return
			}
			sent := tc.id
			if tc.sent != "" {
				sent = tc.sent
			}
			if d.ID != DerivedID(sent) || len(d.ID) > MaxIDBytes || d.ID == DerivedID(sent+"x") {
				t.Errorf("id = %q, want the derived id", d.ID)
			}
			if again := b.Build(Message{Topic: "t", Offset: 99, Value: value}); again.ID != d.ID {
				t.Errorf("a redelivery got id %q, first %q: not deterministic", again.ID, d.ID)
			}
			if !strings.Contains(d.Invalid.Reason, tc.reasonHas) || !strings.Contains(d.Invalid.Reason, d.ID) {
				t.Errorf("reason %q does not say %q and the derived id", d.Invalid.Reason, tc.reasonHas)
			}
		})
	}
}

func TestDeeplyNestedRecordsAreNotSentAsIs(t *testing.T) {
	b := NewBuilder(mustPattern(t, DefaultIndexPattern, "lc"))
	nest := func(n int) []byte {
		return []byte(`{"@timestamp":"2026-01-02T03:04:05Z","event":{"id":"e"},"a":` + strings.Repeat("[", n-1) + `"]]]\\\"[["` + strings.Repeat("]", n-1) + `}`)
	}
	tests := []struct {
		name    string
		value   []byte
		invalid bool
	}{
		{"agent record", nest(1), false},
		{"at the limit", nest(MaxDepth), false}, // the record's own object is a level
		{"one more", nest(MaxDepth + 1), true},
		{"thousands", nest(5000), true},
	}
	for _, tc := range tests {
		d := b.Build(Message{Topic: "t", Value: tc.value})
		if !d.Agent || (d.Invalid != nil) != tc.invalid || d.ID != "e" {
			t.Errorf("%s: doc id %q agent %v invalid %+v, want invalid %v", tc.name, d.ID, d.Agent, d.Invalid, tc.invalid)
		}
	}
}
