package processor

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/logcollect/logcollect/pkg/record"
)

const nginxLine = `93.184.216.34 - - [21/Nov/2026:10:00:00 +0000] "GET /login?user=bob@example.com&token=abc HTTP/1.1" 200 5124 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0"`

const jsonLine = `{"level":"info","msg":"request done","attrs":{"method":"GET","path":"/api/v1/items"},"status":200,"ts":"2026-11-21T10:00:00.123Z"}`

var jsonObject = []byte(jsonLine)

const plainNginxLine = `93.184.216.34 - - [21/Nov/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 5124 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0"`

// nginxChain is the chain the agent benchmark targets.
const nginxChain = `[{"type":"parse","format":"nginx"},
	{"type":"timestamp","field":"parsed.time","layouts":["nginx"]},
	{"type":"mask","builtins":["email","secrets","credit_card"]}]`

// encode maps a processed line onto a record as the harvester will, and
// encodes it: the document the line becomes.
func encode(l *Line) []byte {
	r := record.Record{Timestamp: l.Time, Created: l.Created, Message: l.Message, Parsed: l.Parsed, Flags: l.Flags,
		HostName: "web-1", HostIP: "10.0.0.5", Path: l.Source, EventID: "id"}
	return r.AppendJSON(nil)
}

func TestChainEndToEnd(t *testing.T) {
	c := mustParse(t, nginxChain)
	l, v := run(c, nginxLine)
	const want = `{"@timestamp":"2026-11-21T10:00:00.000Z",` +
		`"message":"93.184.216.34 - - [21/Nov/2026:10:00:00 +0000] \"GET /login?user=***&token=*** HTTP/1.1\" 200 5124 \"https://example.com/\" \"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0\"",` +
		`"host":{"name":"web-1","ip":"10.0.0.5"},"log":{"file":{"path":"/var/log/a.log","inode":0,"device":0},"offset":0},` +
		`"parsed":{"client_ip":"93.184.216.34","time":"21/Nov/2026:10:00:00 +0000","method":"GET","path":"/login?user=***&token=***","protocol":"HTTP/1.1","status":200,"bytes":5124,"referrer":"https://example.com/","user_agent":"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0"},` +
		`"event":{"id":"id","created":"2026-11-21T10:00:00.000Z"}}`
	if got := encode(l); v != Keep || string(got) != want {
		t.Errorf("document:\n got  %s\n want %s", got, want)
	}
}

// The same line gives the same document: applied twice, on fresh lines
// and on reused ones, from several goroutines at once.
func TestChainIsDeterministic(t *testing.T) {
	c := mustParse(t, `[{"type":"drop","pattern":"^#"},
		{"type":"parse","format":"nginx"},
		{"type":"parse","format":"logfmt","field":"parsed.path"},
		{"type":"timestamp","field":"parsed.time","layouts":["nginx","rfc3339"],"timezone":"UTC"},
		{"type":"mask","builtins":["email","credit_card","secrets","ipv4"]},
		{"type":"mask","pattern":"Firefox/(\\d+)","replacement":"FF$1"},
		{"type":"keep","field":"parsed.status","pattern":"^[1-5]"}]`)
	rng := rand.New(rand.NewPCG(5, 6))
	lines := []string{nginxLine, "# comment", "plain", "", "\xff\xfe", "card 4111 1111 1111 1111"}
	for range 300 {
		b := []byte(nginxLine)
		for range rng.IntN(4) { // damage it a little
			b[rng.IntN(len(b))] = byte(rng.UintN(256))
		}
		lines = append(lines, string(b))
	}
	docs := func(reuse bool) [][]byte {
		var out [][]byte
		l := &Line{}
		for _, msg := range lines {
			if !reuse {
				l = &Line{}
			}
			*l = Line{Message: msg, Time: readTime, Source: "/var/log/a.log", Parsed: l.Parsed[:0], Flags: l.Flags[:0]}
			if c.Apply(l) == Drop {
				out = append(out, []byte("dropped"))
				continue
			}
			out = append(out, encode(l))
		}
		return out
	}
	want := docs(false)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			got := docs(g%2 == 0)
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Errorf("line %q: run %d gave\n%s\nfirst run gave\n%s", lines[i], g, got[i], want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkProcessors(b *testing.B) {
	const syslogLine = `<34>Nov 21 10:00:00 web-1 sshd[1234]: Accepted publickey for bob from 10.0.0.7 port 52311 ssh2`
	const logfmtLine = `ts=2026-11-21T10:00:00.123Z level=info msg="request done" method=GET path=/api/v1/items status=200 took=0.0123 user=bob`
	benchmarks := []struct{ name, processors, line string }{
		{"drop/regexp", `[{"type":"drop","pattern":"^DEBUG"}]`, nginxLine},
		{"keep/regexp-unanchored", `[{"type":"keep","pattern":"HTTP/1\\.[01]\" 5\\d\\d"}]`, nginxLine},
		{"mask/email", `[{"type":"mask","builtins":["email"]}]`, nginxLine},
		{"mask/credit_card", `[{"type":"mask","builtins":["credit_card"]}]`, nginxLine},
		{"mask/secrets", `[{"type":"mask","builtins":["secrets"]}]`, nginxLine},
		{"mask/ipv4", `[{"type":"mask","builtins":["ipv4"]}]`, nginxLine},
		{"mask/all-builtins-no-match", `[{"type":"mask","builtins":["email","credit_card","secrets"]}]`, syslogLine},
		{"mask/pattern", `[{"type":"mask","pattern":"token=[^& ]+","replacement":"token=***"}]`, nginxLine},
		{"parse/nginx", `[{"type":"parse","format":"nginx"}]`, nginxLine},
		{"parse/syslog", `[{"type":"parse","format":"syslog"}]`, syslogLine},
		{"parse/logfmt", `[{"type":"parse","format":"logfmt"}]`, logfmtLine},
		{"parse/pattern", `[{"type":"parse","pattern":"^(?P<client>\\S+) \\S+ (?P<user>\\S+) \\[(?P<time>[^\\]]+)\\] \"(?P<method>\\S+) (?P<path>\\S+) [^\"]*\" (?P<status>\\d+) (?P<bytes>\\d+)","types":{"status":"int","bytes":"int"}}]`, nginxLine},
		{"timestamp/nginx", `[{"type":"parse","format":"nginx"},{"type":"timestamp","field":"parsed.time","layouts":["nginx"]}]`, nginxLine},
		{"timestamp/rfc3339", `[{"type":"parse","format":"logfmt"},{"type":"timestamp","field":"parsed.ts","layouts":["rfc3339"]}]`, logfmtLine},
		{"timestamp/go-layout", `[{"type":"parse","format":"logfmt"},{"type":"timestamp","field":"parsed.ts","layouts":["2006-01-02T15:04:05.000Z07:00"]}]`, logfmtLine},
		{"timestamp/json-field", `[{"type":"timestamp","field":"json.ts","layouts":["rfc3339"]}]`, jsonLine},
		{"rate_limit", `[{"type":"rate_limit","lines_per_second":1e12}]`, nginxLine},
		{"rate_limit/per_file", `[{"type":"rate_limit","lines_per_second":1e12,"per_file":true}]`, nginxLine},
		{"chain/nginx+timestamp+mask", nginxChain, nginxLine},
		{"chain/nginx+timestamp+mask-nothing-to-mask", nginxChain, plainNginxLine},
		// The yardstick: no processor, then the record encoding every line
		// costs anyway (BENCHMARKS.md: 254 ns on an idle machine).
		{"baseline/record-encoding", "", plainNginxLine},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			c := mustParse(b, bm.processors)
			l := &Line{}
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0, cpuOK := threadCPU()
			for b.Loop() {
				*l = Line{Message: bm.line, Time: readTime, Source: "/var/log/a.log", Parsed: l.Parsed[:0], Flags: l.Flags[:0]}
				if bm.line == jsonLine {
					l.JSON = jsonObject
				}
				c.Apply(l)
				if c.Len() == 0 {
					buf = (&record.Record{Timestamp: l.Time, Message: l.Message, HostName: "web-1", HostIP: "10.0.0.5",
						Path: l.Source, Inode: 1234, Device: 2049, Offset: 8812, EventID: "5c1f0e00000000000000000000000000"}).AppendJSON(buf[:0])
				}
			}
			if cpu1, _ := threadCPU(); cpuOK {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
			}
			if bm.name != "mask/all-builtins-no-match" && bm.name != "rate_limit" && bm.name != "rate_limit/per_file" &&
				len(l.Flags) != 0 {
				b.Fatalf("flags %v", l.Flags)
			}
		})
	}
}

// FuzzChain runs every scanner on arbitrary lines: none may panic (the
// chain would hide it as processor_error) and the document stays valid
// JSON.
func FuzzChain(f *testing.F) {
	c := mustParse(f, `[{"type":"parse","format":"nginx"},{"type":"parse","format":"syslog"},{"type":"parse","format":"logfmt"},
		{"type":"timestamp","field":"parsed.time","layouts":["nginx","syslog","rfc3339","iso8601","unix","unix_ms"]},
		{"type":"timestamp","field":"parsed.timestamp","layouts":["syslog","rfc3339"]},
		{"type":"mask","builtins":["email","credit_card","secrets","ipv4"]}]`)
	for _, seed := range []string{nginxLine, plainNginxLine, `<165>1 2003-10-11T22:14:15.003Z h a - ID47 [x@1 a="\]"] m`,
		`Nov  1 03:04:05 web-1 sshd[1234]: password=x`, `a=1 b="q\"" c`, "4111 1111 1111 1111", "a@b.cd 10.0.0.1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		l := &Line{Message: msg, Time: readTime}
		c.Apply(l)
		if slices.Contains(l.Flags, record.FlagProcessorError) {
			t.Fatalf("a processor panicked on %q", msg)
		}
		if doc := encode(l); !json.Valid(doc) {
			t.Fatalf("invalid document for %q: %s", msg, doc)
		}
	})
}
