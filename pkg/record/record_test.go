package record

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"
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
		Path: "/var/log/nginx/access.log", Device: 2049, Inode: 1234, FileID: "2049-1234-abcd", Offset: 8812, End: 8850,
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
		"log.end_offset":      float64(8850),
		"log.file.id":         "2049-1234-abcd",
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

func TestLineIDCoversTheLineHead(t *testing.T) {
	ids := NewEventIDs("host-1", "f1")
	id := func(pos int64, msg string) string { return string(ids.AppendLineID(nil, pos, []byte(msg))) }
	long := strings.Repeat("x", LineHeadLen)
	for _, c := range []struct {
		name string
		a, b string
		same bool
	}{
		{"the same line read again", "GET / 200", "GET / 200", true},
		{"another line at the same offset", "GET / 200", "GET / 500", false},
		{"an empty line and a line", "", "x", false},
		{"a multiline event flushed before its last line", "Traceback:\n  line 1", "Traceback:\n  line 1\n  line 2", true},
		{"a partial line that held LineHeadLen bytes", long, long + "rest of the line", true},
		{"a partial line shorter than LineHeadLen", "GET /ind", "GET /index.html 200", false},
		{"lines that differ after LineHeadLen bytes", long + "a", long + "b", true},
	} {
		if got := id(100, c.a) == id(100, c.b); got != c.same {
			t.Errorf("%s: same id = %v, want %v", c.name, got, c.same)
		}
	}
	if id(100, "x") == id(101, "x") {
		t.Error("one line at two offsets: one id")
	}
	if id(100, "x") == ids.ID(100) {
		t.Error("a line's id equals the id of its position alone")
	}
	if len(id(100, "x")) != EventIDLen {
		t.Errorf("line id %q: want %d hex chars", id(100, "x"), EventIDLen)
	}
}

func BenchmarkLineID(b *testing.B) {
	ids := NewEventIDs("host-1", "0123456789abcdef0123456789abcdef")
	line := []byte(`10.0.0.5 - - [21/Nov/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 612 "-" "curl/8.5.0"`)
	dst := make([]byte, 0, EventIDLen)
	b.Run("position", func(b *testing.B) {
		for i := range b.N {
			dst = ids.AppendID(dst[:0], int64(i)*200)
		}
	})
	b.Run("position+head", func(b *testing.B) {
		for i := range b.N {
			dst = ids.AppendLineID(dst[:0], int64(i)*200, line)
		}
	})
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

// BenchmarkAppendJSONParsed: the record of an nginx line after the chain
// of BENCHMARKS.md (parse nginx, timestamp): the line's time, the read
// time as event.created, and the parsed fields, the strings cut from the
// message as the parser cuts them.
func BenchmarkAppendJSONParsed(b *testing.B) {
	const msg = `93.184.216.34 - - [21/Nov/2026:10:00:00 +0100] "GET /index.html HTTP/1.1" 200 5124 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0"`
	piece := func(s string) string {
		i := strings.Index(msg, s)
		return msg[i : i+len(s)]
	}
	r := Record{
		Timestamp: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC), Created: time.Now(), HostName: "web-1", HostIP: "10.0.0.5",
		Message: msg, Path: "/var/log/nginx/access.log", Device: 2049, Inode: 1234, Offset: 8812,
		Parsed: []Field{StringField("client_ip", piece("93.184.216.34")), StringField("time", piece("21/Nov/2026:10:00:00 +0100")),
			StringField("method", piece("GET")), StringField("path", piece("/index.html")), StringField("protocol", piece("HTTP/1.1")),
			IntField("status", 200), IntField("bytes", 5124), StringField("referrer", piece("https://example.com/")),
			StringField("user_agent", piece("Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0"))},
	}
	r.EventID = EventID(r.HostIP, "2049-1234-abcd", r.Offset)
	var c SourceJSON
	buf := make([]byte, 0, 2048)
	b.SetBytes(int64(len(r.Message)))
	b.ReportAllocs()
	for b.Loop() {
		buf = r.AppendJSONCached(buf[:0], &c)
	}
}

func TestEventIDsMatchesEventID(t *testing.T) {
	ids := NewEventIDs("10.0.0.5", "2049-1234-abcd")
	for _, pos := range []int64{0, 1, 99, 100, 8812, 1 << 40, -1} {
		if got, want := ids.ID(pos), EventID("10.0.0.5", "2049-1234-abcd", pos); got != want {
			t.Errorf("ID(%d) = %s, EventID = %s", pos, got, want)
		}
		if got, want := string(ids.AppendID([]byte("x"), pos)), "x"+ids.ID(pos); got != want || len(got) != 1+EventIDLen {
			t.Errorf("AppendID(x, %d) = %s, want %s", pos, got, want)
		}
	}
	// The contract's value, computed independently of both: fnv128a of
	// "10.0.0.5\x00f1\x00100".
	if got := EventID("10.0.0.5", "f1", 100); got != fnv128aHex("10.0.0.5\x00f1\x00100") {
		t.Errorf("EventID = %s, want %s", got, fnv128aHex("10.0.0.5\x00f1\x00100"))
	}
	// The package's own FNV-1a against hash/fnv's, on random sources
	// (every byte value) and positions: ids must never change across
	// versions, or an upgraded agent re-sending lines would index them twice.
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		src := make([]byte, rng.IntN(80))
		for i := range src {
			src[i] = byte(rng.UintN(256))
		}
		pos := rng.Int64N(1 << 50)
		if got, want := EventID("192.168.1.20", string(src), pos), fnv128aHex("192.168.1.20\x00"+string(src)+"\x00"+strconv.FormatInt(pos, 10)); got != want {
			t.Fatalf("EventID(%q, %d) = %s, hash/fnv says %s", src, pos, got, want)
		}
	}
}

func TestEventIDsDoNotAllocateBeyondTheID(t *testing.T) {
	ids := NewEventIDs("10.0.0.5", "2049-1234-abcd")
	if n := testing.AllocsPerRun(100, func() { _ = ids.ID(123456) }); n > 1 {
		t.Errorf("ID allocates %v times, want 1 (the string)", n)
	}
}

func fnv128aHex(s string) string {
	h := fnv.New128a()
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

func TestAppendTimestampMatchesLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	zones := []*time.Location{time.UTC, time.FixedZone("CET", 3600), time.FixedZone("NST", -(3*3600 + 1800))}
	times := []time.Time{
		time.Date(2026, 11, 21, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), // outside four digits: the layout's own output
		time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC),
		{},
	}
	for range 2000 {
		times = append(times, time.Unix(rng.Int64N(1<<36)-1<<35, rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))]))
	}
	for _, ts := range times {
		if got, want := string(AppendTimestamp(nil, ts)), ts.UTC().Format(TimeLayout); got != want {
			t.Fatalf("AppendTimestamp(%v) = %s, want %s", ts, got, want)
		}
	}
}

// AppendString's 8-byte fast path must not let a byte that needs escaping
// through at any position.
func TestAppendStringEscapesAtEveryPosition(t *testing.T) {
	specials := []string{`"`, `\`, "\x00", "\x1f", "\n", "\x7f", "\x80", "\xff", "é", "\u2028", " ", "~"}
	for n := 0; n <= 24; n++ {
		for pos := 0; pos < n; pos++ {
			for _, sp := range specials {
				in := strings.Repeat("a", pos) + sp + strings.Repeat("b", n-pos)
				out := AppendString(nil, in)
				if !json.Valid(out) {
					t.Fatalf("AppendString(%q) = %s: not valid JSON", in, out)
				}
				var got string
				if err := json.Unmarshal(out, &got); err != nil {
					t.Fatal(err)
				}
				if want := strings.ToValidUTF8(in, "\ufffd"); utf8.ValidString(in) && got != in || !utf8.ValidString(in) && got != want {
					t.Fatalf("AppendString(%q) decodes to %q", in, got)
				}
			}
		}
	}
}

func TestCheckHostID(t *testing.T) {
	tests := []struct{ id, want string }{
		{"0123456789abcdef0123456789abcdef", ""},
		{"10.0.0.5", ""},
		{"fe80::1", ""},
		{"web-1.example.com", ""},
		{strings.Repeat("x", MaxHostIDLen), ""},
		{"", "empty"},
		{strings.Repeat("x", MaxHostIDLen+1), "129 bytes, more than 128"},
		{"web 1", `byte 3 (0x20) is not printable ASCII without spaces`},
		{"web\n", `byte 3 (0x0a)`},
		{"wéb", `byte 1 (0xc3)`},
	}
	for _, tt := range tests {
		err := CheckHostID(tt.id)
		if (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckHostID(%q) = %v, want %q", tt.id, err, tt.want)
		}
	}
}

func TestAppendJSONParsedAndCreated(t *testing.T) {
	ts := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	base := Record{Timestamp: ts, Message: "m", HostName: "h", HostIP: "10.0.0.5", Path: "/p", EventID: "abc"}
	tests := []struct {
		name   string
		parsed []Field
		create time.Time
		want   string // the encoding after "log":{...}
	}{
		{"none", nil, time.Time{}, `,"event":{"id":"abc"}}`},
		{"typed fields in order", []Field{
			StringField("method", "GET"), IntField("status", 200), FloatField("request_time", 0.25),
			IntField("neg", -7), StringField("q\"uote", "a\x00b"),
		}, time.Time{}, `,"parsed":{"method":"GET","status":200,"request_time":0.25,"neg":-7,"q\"uote":"a\u0000b"},"event":{"id":"abc"}}`},
		{"float edge values", []Field{
			FloatField("big", 1e21), FloatField("nan", math.NaN()), FloatField("inf", math.Inf(-1)), FloatField("whole", 3),
			FloatField("zero", 0), FloatField("neg", -2), FloatField("small", 1e-7),
		}, time.Time{}, `,"parsed":{"big":1e+21,"nan":null,"inf":null,"whole":3.0,"zero":0.0,"neg":-2.0,"small":1e-07},"event":{"id":"abc"}}`},
		{"created", nil, ts.Add(1500 * time.Millisecond), `,"event":{"id":"abc","created":"2026-11-21T10:00:01.500Z"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			r.Parsed, r.Created = tt.parsed, tt.create
			out := string(r.AppendJSON(nil))
			if !json.Valid([]byte(out)) {
				t.Fatalf("not valid JSON: %s", out)
			}
			if !strings.HasSuffix(out, tt.want) {
				t.Errorf("AppendJSON = %s\nwant suffix %s", out, tt.want)
			}
			// The transfer's reader still finds the id and time, and sees
			// "parsed" as one more level.
			meta, ok := Peek([]byte(out))
			if !ok || meta.EventID != "abc" || !meta.Timestamp.Equal(ts) {
				t.Fatalf("Peek = %+v, %v", meta, ok)
			}
			if want := 3; meta.Depth != want { // record → log → file
				t.Errorf("Peek depth = %d, want %d", meta.Depth, want)
			}
		})
	}
}

// A record without the new fields encodes exactly as before they existed.
func TestAppendJSONWithoutNewFieldsUnchanged(t *testing.T) {
	r := Record{Timestamp: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), Message: "m", HostName: "h", HostIP: "ip",
		Path: "/p", Inode: 1, Device: 2, Offset: 3, Flags: []string{FlagPartial}, Stream: "stdout", EventID: "x"}
	const want = `{"@timestamp":"2026-11-21T10:00:00.000Z","message":"m","host":{"name":"h","ip":"ip"},` +
		`"log":{"file":{"path":"/p","inode":1,"device":2},"offset":3,"flags":["partial"]},"stream":"stdout","event":{"id":"x"}}`
	if got := string(r.AppendJSON(nil)); got != want {
		t.Errorf("AppendJSON = %s\nwant        %s", got, want)
	}
}

// The fast path resumes after every escape and multi-byte rune: a second
// byte that needs escaping, anywhere after the first, must still be caught.
func TestAppendStringEscapesAfterAnEscape(t *testing.T) {
	specials := []string{`"`, `\`, "\x00", "\n", "\x80", "\xff", "é", "\u2028"}
	for n := 0; n <= 20; n++ {
		for p1 := 0; p1 <= n; p1++ {
			for _, a := range specials {
				for _, b := range specials {
					in := strings.Repeat("a", p1) + a + strings.Repeat("b", n-p1) + b + "cc"
					out := AppendString(nil, in)
					var got string
					if err := json.Unmarshal(out, &got); err != nil {
						t.Fatalf("AppendString(%q) = %s: %v", in, out, err)
					}
					if want := string([]rune(in)); got != want { // each invalid byte: one U+FFFD
						t.Fatalf("AppendString(%q) decodes to %q, want %q", in, got, want)
					}
					if bytes.Contains(out, []byte("\u2028")) {
						t.Fatalf("AppendString(%q) = %s: U+2028 not escaped", in, out)
					}
				}
			}
		}
	}
}

// A cached source encodes exactly as AppendJSON, and follows every change
// of the fields it caches (a renamed file, a new inode, another host).
func TestAppendJSONCachedMatchesAppendJSON(t *testing.T) {
	base := Record{Timestamp: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), Message: `GET "/" 200`, HostName: "web-1", HostIP: "10.0.0.5",
		Path: "/var/log/app.log", Inode: 12, Device: 2049, Offset: 0, EventID: "id"}
	var c SourceJSON
	for i, change := range []func(r *Record){
		func(r *Record) {},
		func(r *Record) { r.Offset = 100 },
		func(r *Record) { r.Path = "/var/log/app.log.1" },
		func(r *Record) { r.Inode = 13 },
		func(r *Record) { r.Device = 2050 },
		func(r *Record) { r.HostName = "web-2" },
		func(r *Record) { r.HostIP = "10.0.0.6" },
		func(r *Record) { r.FileID = "2049-13-abcd" },
		func(r *Record) { r.FileID = "2049-13-ef01"; r.End = 180 },
		func(r *Record) { r.Path = `C:\logs\"quoted".log` },
		func(r *Record) { r.Flags = []string{"truncated"}; r.Message = "next" },
		func(r *Record) { r.Kubernetes = &Kubernetes{Namespace: "ns", PodName: "p", ContainerName: "c"} },
		func(r *Record) { r.Offset = 200 },
		func(r *Record) {
			r.Kubernetes = &Kubernetes{Namespace: "ns", PodName: "p", PodUID: "u", NodeName: "n1", Labels: []KV{{"app", `w"eb`}}}
		},
		func(r *Record) { r.Kubernetes = nil },
	} {
		change(&base)
		want := base.AppendJSON(nil)
		if got := base.AppendJSONCached([]byte("x"), &c); string(got) != "x"+string(want) {
			t.Fatalf("change %d: cached\n%s\nwant\n%s", i, got[1:], want)
		}
	}
}

// TestKubernetesEncoding: the node, labels and annotations from the API
// server are written only when known, as objects, with their values
// escaped; a record with path metadata alone keeps its old shape.
func TestKubernetesEncoding(t *testing.T) {
	for _, tc := range []struct {
		name string
		k    Kubernetes
		want string
	}{
		{"path only", Kubernetes{Namespace: "ns", PodName: "p", ContainerName: "c"},
			`"kubernetes":{"namespace":"ns","pod":{"name":"p","uid":""},"container":{"name":"c","id":""}}`},
		{"from the API server", Kubernetes{Namespace: "ns", PodName: "p", PodUID: "u", ContainerName: "c", NodeName: "n1",
			Labels: []KV{{"app", "web"}, {"app_kubernetes_io/name", "we\"b"}}, Annotations: []KV{{"team", "x"}}},
			`"kubernetes":{"namespace":"ns","pod":{"name":"p","uid":"u"},"container":{"name":"c","id":""},"node":{"name":"n1"},` +
				`"labels":{"app":"web","app_kubernetes_io/name":"we\"b"},"annotations":{"team":"x"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Record{Timestamp: time.Unix(0, 0), Message: "m", Kubernetes: &tc.k, EventID: "e"}
			out := r.AppendJSON(nil)
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("encoded %s\nwant it to contain %s", out, tc.want)
			}
			if !json.Valid(out) {
				t.Errorf("not valid JSON: %s", out)
			}
		})
	}
}

// FuzzAppendString: the word-wise encoder writes exactly what a plain
// rune-by-rune one does (so documents stay byte-for-byte what earlier
// agents wrote), and valid JSON.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", `"`, "abcdefg\"", "abcdefgh\"", "ab\"#cdefgh", "abcdefgh\"#", "x\xff", "\u2028",
		`93.184.216.34 - - [21/Nov/2026:10:00:00 +0000] "GET /i HTTP/1.1" 200 5 "-" "Mozilla/5.0 (X11)"`, "日本語 ünïcode\x00\x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendString([]byte("x"), s)
		if want := "x" + referenceJSONString(s); string(got) != want {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got[1:], want[1:])
		}
		if !json.Valid(got[1:]) {
			t.Fatalf("AppendString(%q) = %s: not valid JSON", s, got[1:])
		}
	})
}

// referenceJSONString is AppendString's contract, a rune at a time.
func referenceJSONString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteString(`\ufffd`)
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20, r == '\u2028', r == '\u2029':
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// The word-wise scan at string ends and around escapes: a special byte
// next to an escape is found, and a plain byte after one (a '#' follows
// '"' by one in the code the quote test borrows through) is not escaped.
func TestAppendStringAroundEscapes(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", `""`},
		{"abc", `"abc"`},
		{`"#`, `"\"#"`},
		{`abcdefg"#`, `"abcdefg\"#"`},
		{`abcdefgh"#`, `"abcdefgh\"#"`},
		{`abcdefghijklmn"#`, `"abcdefghijklmn\"#"`},
		{"abcdefghi\x00!", `"abcdefghi\u0000!"`},
		{"abcdefghi\\]", `"abcdefghi\\]"`},
		{`a "quoted" word`, `"a \"quoted\" word"`},
		{"caf\u00e9\"x", `"café\"x"`},
		{"caf\xc3\"", `"caf\ufffd\""`},
		{"x\u2028\u2029y", `"x\u2028\u2029y"`},
		{"abcdefgh\xff", `"abcdefgh\ufffd"`},
		{"\xffabcdefgh", `"\ufffdabcdefgh"`},
		{"日本語日本語", `"日本語日本語"`},
	} {
		if got := string(AppendString(nil, tt.in)); got != tt.want {
			t.Errorf("AppendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// The cached second of @timestamp and event.created follows every change:
// another millisecond of the same second, the next second, a zone, and
// years of other than four digits (not cached).
func TestAppendJSONCachedTimestamps(t *testing.T) {
	base := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	r := Record{Message: "m", HostName: "h", Path: "/p", EventID: "id"}
	var c SourceJSON
	for i, ts := range []time.Time{
		base, base.Add(123 * time.Millisecond), base.Add(999 * time.Millisecond), base.Add(time.Second),
		base.Add(time.Second + 5*time.Millisecond).In(time.FixedZone("CET", 3600)), base.Add(-time.Hour),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), base, time.Date(-5, 1, 1, 0, 0, 0, 7e6, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999e6, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 1e6, time.UTC), {}, base,
	} {
		for _, created := range []time.Time{{}, base.Add(time.Minute), ts, base.Add(time.Minute + time.Millisecond)} {
			r.Timestamp, r.Created = ts, created
			want := r.AppendJSON(nil)
			if got := r.AppendJSONCached(nil, &c); string(got) != string(want) {
				t.Fatalf("case %d: cached\n%s\nwant\n%s", i, got, want)
			}
		}
	}
}

// A parsed string cut from the message is copied as it is when the
// message had nothing to escape in its bytes: every piece of messages
// with escapes, runes, too many quotes to note, must encode as
// AppendString encodes it alone.
func TestAppendJSONParsedPiecesOfTheMessage(t *testing.T) {
	for _, msg := range []string{
		`1.2.3.4 - - [21/Nov/2026:10:00:00 +0100] "GET /a?q=\"x\" HTTP/1.1" 200 5 "-" "Mozilla \"x\""`,
		"tab\there\nand \\ there\x00",
		"café \"menu\" \u2028 x\xff",
		strings.Repeat(`"a" `, 20),
		"no escapes at all, just words",
	} {
		for a := 0; a <= len(msg); a++ {
			for b := a; b <= len(msg); b++ {
				piece := msg[a:b]
				r := Record{Message: msg, EventID: "e", Parsed: []Field{StringField("k", piece), StringField("copy", string([]byte(piece)))}}
				want := `,"parsed":{"k":` + string(AppendString(nil, piece)) + `,"copy":` + string(AppendString(nil, piece)) + `}`
				if got := string(r.AppendJSON(nil)); !strings.Contains(got, want) {
					t.Fatalf("message %q, piece %q: %s\nwant it to contain %s", msg, piece, got, want)
				}
			}
		}
	}
}

// The cached parsed keys follow every change: other keys at a position, a
// key rewritten in place in a reused buffer, keys that need escaping,
// more fields than are kept, fewer.
func TestAppendJSONCachedParsedKeys(t *testing.T) {
	buf := []byte("alpha beta")
	inPlace := unsafe.String(&buf[0], 5)
	many := make([]Field, maxKeys+3)
	for i := range many {
		many[i] = IntField(fmt.Sprintf("k%d", i), int64(i))
	}
	r := Record{Message: "m", HostName: "h", Path: "/p", EventID: "id"}
	var c SourceJSON
	for i, change := range []func(){
		func() { r.Parsed = []Field{StringField("client_ip", "1.2.3.4"), IntField("status", 200)} },
		func() {},
		func() { r.Parsed = []Field{IntField("status", 200), StringField("client_ip", "1.2.3.4")} },
		func() { r.Parsed = []Field{StringField(inPlace, "x")} },
		func() { copy(buf, "gamma") },
		func() { copy(buf, "q\"ote") },
		func() {
			r.Parsed = []Field{StringField("a\u2028", "x"), StringField("", "y"), StringField("caf\xc3", "z")}
		},
		func() { r.Parsed = many },
		func() { many[maxKeys+1].Key = "changed" },
		func() { r.Parsed = many[:1] },
		func() { r.Parsed = nil },
	} {
		change()
		want := r.AppendJSON(nil)
		if got := r.AppendJSONCached(nil, &c); string(got) != string(want) {
			t.Fatalf("change %d: cached\n%s\nwant\n%s", i, got, want)
		}
	}
}
