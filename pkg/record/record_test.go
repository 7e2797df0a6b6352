package record

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestAppendStringYieldsValidJSON(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "GET / 200", "GET / 200"},
		{"quotes and backslash", `say "hi" \o/`, `say "hi" \o/`},
		{"control chars", "a\tb\r\nc\x00d\x1f", "a\tb\r\nc\x00d\x1f"},
		{"invalid utf8", "ok\xff\xfeend", "ok\ufffd\ufffdend"},
		{"truncated rune", "caf\xc3", "caf\ufffd"},
		{"multibyte", "日本語 ünïcode", "日本語 ünïcode"},
		{"line separators", "a\u2028b\u2029c", "a\u2028b\u2029c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := AppendString(nil, tt.in)
			if !json.Valid(out) {
				t.Fatalf("AppendString(%q) = %s: not valid JSON", tt.in, out)
			}
			var got string
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("round trip of %q = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestAppendJSONRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 21, 10, 0, 0, 123_000_000, time.FixedZone("CET", 3600))
	r := Record{
		Timestamp: ts,
		Message:   "GET / 200 \"x\"\x00",
		HostName:  "web-1", HostIP: "10.0.0.5",
		Path: "/var/log/nginx/access.log", Device: 2049, Inode: 1234, Offset: 8812,
		Flags:      []string{FlagTruncated},
		Fields:     map[string]string{"env": "prod", "dc": "eu"},
		JSON:       []byte(`{"level":"info","n":3}`),
		Stream:     "stdout",
		Kubernetes: &Kubernetes{Namespace: "ns", PodName: "p", PodUID: "u", ContainerName: "c", ContainerID: "id"},
		ExtraKey:   "journald", Extra: map[string]string{"unit": "nginx.service"},
		EventID: EventID("10.0.0.5", "2049-1234-abcd", 8812),
	}
	out := r.AppendJSON(nil)
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("not valid JSON: %v\n%s", err, out)
	}
	checks := map[string]any{
		"@timestamp":          "2026-11-21T09:00:00.123Z",
		"message":             "GET / 200 \"x\"\x00",
		"host.name":           "web-1",
		"host.ip":             "10.0.0.5",
		"log.file.path":       "/var/log/nginx/access.log",
		"log.file.inode":      float64(1234),
		"log.file.device":     float64(2049),
		"log.offset":          float64(8812),
		"fields.env":          "prod",
		"json.level":          "info",
		"stream":              "stdout",
		"kubernetes.pod.name": "p",
		"journald.unit":       "nginx.service",
		"event.id":            r.EventID,
	}
	for path, want := range checks {
		if v := lookup(got, path); v != want {
			t.Errorf("%s = %#v, want %#v", path, v, want)
		}
	}
	if flags := lookup(got, "log.flags"); flags == nil || flags.([]any)[0] != FlagTruncated {
		t.Errorf("log.flags = %#v", flags)
	}

	meta, ok := Peek(out)
	if !ok || meta.EventID != r.EventID || !meta.Timestamp.Equal(ts.Truncate(time.Millisecond)) {
		t.Errorf("Peek = %+v, %v", meta, ok)
	}
}

func lookup(m map[string]any, path string) any {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[p]
	}
	return cur
}

func TestEventIDIsDeterministicAndDistinct(t *testing.T) {
	a := EventID("10.0.0.5", "f1", 100)
	if a != EventID("10.0.0.5", "f1", 100) {
		t.Fatal("same input gave different ids")
	}
	if len(a) != 32 {
		t.Errorf("id %q: want 32 hex chars", a)
	}
	for _, other := range []string{
		EventID("10.0.0.6", "f1", 100),
		EventID("10.0.0.5", "f2", 100),
		EventID("10.0.0.5", "f1", 101),
		EventID("10.0.0.5f", "1", 100), // field boundaries matter
	} {
		if other == a {
			t.Errorf("distinct input collided: %s", a)
		}
	}
}

func TestPeekRejectsForeignValues(t *testing.T) {
	for _, v := range []string{
		"",
		"plain text line",
		`{"message":"no id","@timestamp":"2026-11-21T10:00:00Z"}`,
		`{"event":{"id":"x"},"@timestamp":"yesterday"}`,
		`{"event":{"id":"x"}`,
		`[1,2]`,
	} {
		if meta, ok := Peek([]byte(v)); ok {
			t.Errorf("Peek(%q) = %+v, true; want not a record", v, meta)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	r := Record{
		Timestamp: time.Now(), HostName: "web-1", HostIP: "10.0.0.5",
		Message: `93.184.216.34 - - [21/Nov/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 5124 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0"`,
		Path:    "/var/log/nginx/access.log", Device: 2049, Inode: 1234, Offset: 8812,
	}
	r.EventID = EventID(r.HostIP, "2049-1234-abcd", r.Offset)
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(r.Message)))
	b.ReportAllocs()
	for b.Loop() {
		buf = r.AppendJSON(buf[:0])
	}
}
