package record

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// peekReflect is the reflective decoder Peek replaced: the oracle its
// answers must match.
func peekReflect(value []byte) (Meta, bool) {
	if len(value) == 0 || value[0] != '{' {
		return Meta{}, false
	}
	var p struct {
		Timestamp string `json:"@timestamp"`
		Event     struct {
			ID string `json:"id"`
		} `json:"event"`
	}
	if err := json.Unmarshal(value, &p); err != nil || p.Event.ID == "" {
		return Meta{}, false
	}
	ts, err := ParseTimestamp(p.Timestamp)
	if err != nil {
		return Meta{}, false
	}
	return Meta{EventID: p.Event.ID, Timestamp: ts}, true
}

var peekCases = []string{
	`{"@timestamp":"2026-11-21T10:00:00.123Z","message":"GET / 200","event":{"id":"abc"}}`,
	`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z"}`,
	` {"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z"}`,
	`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z"} `,
	`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z"}x`,
	`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z"}{}`,
	`{"event" : { "id" : "a\"b\\c\u00e9" } , "@timestamp" : "2026-11-21T10:00:00+02:00" }`,
	`{"EVENT":{"ID":"abc"},"@TimeStamp":"2026-11-21T10:00:00Z"}`,
	`{"event":{"id":"abc"},"@time\u0073tamp":"2026-11-21T10:00:00Z"}`,
	`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z","@timestamp":null}`,
	`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z","@timestamp":5}`,
	`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z","@timestamp":"bad"}`,
	`{"event":{"id":"abc"},"event":{},"@timestamp":"2026-11-21T10:00:00Z"}`,
	`{"event":{"id":"abc"},"event":null,"@timestamp":"2026-11-21T10:00:00Z"}`,
	`{"event":{"id":"abc"},"event":{"id":""},"@timestamp":"2026-11-21T10:00:00Z"}`,
	`{"event":"abc","@timestamp":"2026-11-21T10:00:00Z"}`,
	`{"event":{"id":7},"@timestamp":"2026-11-21T10:00:00Z"}`,
	`{"event":{"id":["a"]},"@timestamp":"2026-11-21T10:00:00Z"}`,
	`{"event":{"id":"abc","x":{"y":[1,-2.5e+3,true,false,null,"z",{}]}},"@timestamp":"2026-11-21T10:00:00Z","n":-0.0E1}`,
	`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z","n":01}`,
	`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z","n":1.}`,
	`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z","n":-}`,
	`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z","n":1e}`,
	`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z","s":"tab	inside"}`,
	`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z","s":"\x"}`,
	`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z","s":"\u12"}`,
	`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z","a":[1,]}`,
	`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z",}`,
	`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z","t":tru}`,
	`{"event":{"id":"abc"}"@timestamp":"2026-11-21T10:00:00Z"}`,
	`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z","bad":"` + "\xff\xfe" + `"}`,
	`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z"`,
	`{"event":{"id":"abc"},"@timestamp"`,
	`{}`,
	`{`,
	`{"a":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`,
	`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z","deep":` + strings.Repeat("[", 500) + strings.Repeat("]", 500) + `}`,
}

func TestPeekMatchesReflectiveDecoder(t *testing.T) {
	for _, v := range peekCases {
		check(t, []byte(v))
	}
}

func check(t *testing.T, v []byte) {
	t.Helper()
	got, gotOK := Peek(v)
	want, wantOK := peekReflect(v)
	if gotOK != wantOK || got.EventID != want.EventID || !got.Timestamp.Equal(want.Timestamp) {
		t.Errorf("Peek(%.120q) = %+v, %v; the reflective decoder says %+v, %v", v, got, gotOK, want, wantOK)
	}
}

// The string scan skips 8 bytes at a time: a quote, backslash, control
// character or multi-byte rune at any position of a long string, and a
// string ending at any position, must read as the reflective decoder reads
// them.
func TestPeekStringsAtEveryPosition(t *testing.T) {
	for _, special := range []string{`\"`, `\\`, `\u00e9`, "\x01", `"`, "é", "\xff"} {
		for n := 0; n < 20; n++ {
			msg := strings.Repeat("a", n) + special + strings.Repeat("b", 19-n)
			for _, v := range []string{
				`{"event":{"id":"abc"},"@timestamp":"2026-11-21T10:00:00Z","message":"` + msg + `"}`,
				`{"message":"` + msg + `","@timestamp":"2026-11-21T10:00:00Z","event":{"id":"` + msg + `"}}`,
				`{"@timestamp":"2026-11-21T10:00:00Z","event":{"id":"x` + strings.Repeat("y", n) + `"}}`,
			} {
				check(t, []byte(v))
			}
		}
	}
}

func FuzzPeek(f *testing.F) {
	for _, v := range peekCases {
		f.Add([]byte(v))
	}
	f.Fuzz(func(t *testing.T, v []byte) { check(t, v) })
}

func BenchmarkPeek(b *testing.B) {
	r := Record{Timestamp: time.Now(), HostName: "web-1", HostIP: "10.0.0.5",
		Message: `93.184.216.34 - - [21/Nov/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 5124 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0"`,
		Path:    "/var/log/nginx/access.log", Device: 2049, Inode: 1234, Offset: 8812, EventID: EventID("10.0.0.5", "f", 8812)}
	v := r.AppendJSON(nil)
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	b.Run("scanner", func(b *testing.B) {
		for b.Loop() {
			if _, ok := Peek(v); !ok {
				b.Fatal("not a record")
			}
		}
	})
	b.Run("reflect", func(b *testing.B) {
		for b.Loop() {
			if _, ok := peekReflect(v); !ok {
				b.Fatal("not a record")
			}
		}
	})
}

func TestPeekDepth(t *testing.T) {
	const head = `{"@timestamp":"2026-11-21T10:00:00Z","event":{"id":"x"}`
	for _, c := range []struct {
		value string
		want  int
	}{
		{`{"@timestamp":"2026-11-21T10:00:00Z","event":{"id":"x"}}`, 2},
		{head + `,"a":[]}`, 2},
		{head + `,"a":[[{"b":[1]}]]}`, 5},
		{head + `,"s":"[[[[{{{{"}`, 2}, // brackets in a string do not nest
		{head + `,"a":` + strings.Repeat("[", 150) + strings.Repeat("]", 150) + `}`, 151},
	} {
		meta, ok := Peek([]byte(c.value))
		if !ok {
			t.Fatalf("Peek(%.60s…) not a record", c.value)
		}
		if meta.Depth != c.want {
			t.Errorf("Peek(%.60s…).Depth = %d, want %d", c.value, meta.Depth, c.want)
		}
	}
}
