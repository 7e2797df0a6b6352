package processor

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/logcollect/logcollect/pkg/record"
)

// parseCase is a line and the fields a parser must give it; nil fields
// mean the line does not parse (it keeps its message, flagged).
type parseCase struct {
	name, in string
	want     []record.Field
}

func checkParse(t *testing.T, processors string, tests []parseCase) {
	t.Helper()
	c := mustParse(t, processors)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, v := run(c, tt.in)
			if v != Keep || l.Message != tt.in {
				t.Fatalf("parse changed the verdict or message: %v %q", v, l.Message)
			}
			failed := slices.Contains(l.Flags, record.FlagParseFailed)
			if tt.want == nil {
				if !failed || len(l.Parsed) != 0 {
					t.Errorf("want no parse, got fields %v flags %v", l.Parsed, l.Flags)
				}
				return
			}
			if failed || !equalFields(l.Parsed, tt.want) {
				t.Errorf("fields:\n got  %v (flags %v)\n want %v", l.Parsed, l.Flags, tt.want)
			}
		})
	}
}

func TestParseAccessLog(t *testing.T) {
	const ua = `Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0`
	checkParse(t, `[{"type":"parse","format":"nginx"}]`, []parseCase{
		{"combined", `93.184.216.34 - frank [21/Nov/2026:10:00:00 +0000] "GET /index.html?q=1 HTTP/1.1" 200 5124 "https://example.com/" "` + ua + `"`,
			fields(str("client_ip", "93.184.216.34"), str("user", "frank"), str("time", "21/Nov/2026:10:00:00 +0000"),
				str("method", "GET"), str("path", "/index.html?q=1"), str("protocol", "HTTP/1.1"), num("status", 200), num("bytes", 5124),
				str("referrer", "https://example.com/"), str("user_agent", ua))},
		{"common, bytes -", `::1 - - [21/Nov/2026:10:00:00 -0700] "HEAD / HTTP/1.0" 304 -`,
			fields(str("client_ip", "::1"), str("time", "21/Nov/2026:10:00:00 -0700"), str("method", "HEAD"), str("path", "/"),
				str("protocol", "HTTP/1.0"), num("status", 304))},
		{"dash referrer and agent", `10.0.0.1 - - [21/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 0 "-" "-"`,
			fields(str("client_ip", "10.0.0.1"), str("time", "21/Nov/2026:10:00:00 +0000"), str("method", "GET"), str("path", "/"),
				str("protocol", "HTTP/1.1"), num("status", 200), num("bytes", 0))},
		{"quotes in the user agent", `10.0.0.1 - - [21/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "a \"quoted\" agent" 0.005`,
			fields(str("client_ip", "10.0.0.1"), str("time", "21/Nov/2026:10:00:00 +0000"), str("method", "GET"), str("path", "/"),
				str("protocol", "HTTP/1.1"), num("status", 200), num("bytes", 1), str("user_agent", `a \"quoted\" agent`), flt("request_time", 0.005))},
		{"bare quote in the user agent, nginx escape", `10.0.0.1 - - [21/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "x"y \x22z"`,
			fields(str("client_ip", "10.0.0.1"), str("time", "21/Nov/2026:10:00:00 +0000"), str("method", "GET"), str("path", "/"),
				str("protocol", "HTTP/1.1"), num("status", 200), num("bytes", 1), str("user_agent", `x"y \x22z`))},
		{"malformed request", `10.0.0.1 - - [21/Nov/2026:10:00:00 +0000] "\x16\x03\x01" 400 157 "-" "-"`,
			fields(str("client_ip", "10.0.0.1"), str("time", "21/Nov/2026:10:00:00 +0000"), str("request", `\x16\x03\x01`), num("status", 400), num("bytes", 157))},
		{"extra fields left in the message", `10.0.0.1 - - [21/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-" "10.1.1.1"`,
			fields(str("client_ip", "10.0.0.1"), str("time", "21/Nov/2026:10:00:00 +0000"), str("method", "GET"), str("path", "/"),
				str("protocol", "HTTP/1.1"), num("status", 200), num("bytes", 1))},
		{"status not a number", `10.0.0.1 - - [21/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 2x0 1`, nil},
		{"status not three digits", `10.0.0.1 - - [21/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 20 1`, nil},
		{"no time", `10.0.0.1 - - "GET / HTTP/1.1" 200 1`, nil},
		{"unterminated request", `10.0.0.1 - - [21/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1 200 1`, nil},
		{"no bytes", `10.0.0.1 - - [21/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200`, nil},
		{"bytes overflow", `10.0.0.1 - - [21/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 99999999999999999999`, nil},
		{"plain text", `hello world`, nil},
		{"empty", ``, nil},
		{"invalid UTF-8 kept as is", "10.0.0.1 - \xff [21/Nov/2026:10:00:00 +0000] \"GET /\xfe HTTP/1.1\" 200 1",
			fields(str("client_ip", "10.0.0.1"), str("user", "\xff"), str("time", "21/Nov/2026:10:00:00 +0000"), str("method", "GET"),
				str("path", "/\xfe"), str("protocol", "HTTP/1.1"), num("status", 200), num("bytes", 1))},
	})
}

func TestParseSyslog(t *testing.T) {
	checkParse(t, `[{"type":"parse","format":"syslog"}]`, []parseCase{
		{"3164 with PRI", `<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8`,
			fields(num("priority", 34), num("facility", 4), num("severity", 2), str("timestamp", "Oct 11 22:14:15"),
				str("hostname", "mymachine"), str("app_name", "su"), str("message", "'su root' failed for lonvick on /dev/pts/8"))},
		{"3164 file line with pid", `Nov  1 03:04:05 web-1 sshd[1234]: Accepted publickey for bob`,
			fields(str("timestamp", "Nov  1 03:04:05"), str("hostname", "web-1"), str("app_name", "sshd"), str("proc_id", "1234"),
				str("message", "Accepted publickey for bob"))},
		{"3164 without tag", `Nov 21 10:00:00 web-1 last message repeated 2 times`,
			fields(str("timestamp", "Nov 21 10:00:00"), str("hostname", "web-1"), str("message", "last message repeated 2 times"))},
		{"3164 kernel", `Nov 21 10:00:00 web-1 kernel: [ 12.345] eth0: link up`,
			fields(str("timestamp", "Nov 21 10:00:00"), str("hostname", "web-1"), str("app_name", "kernel"), str("message", "[ 12.345] eth0: link up"))},
		{"rsyslog high precision", `2026-11-21T10:00:00.123456+01:00 web-1 cron[99]: (root) CMD (run)`,
			fields(str("timestamp", "2026-11-21T10:00:00.123456+01:00"), str("hostname", "web-1"), str("app_name", "cron"), str("proc_id", "99"),
				str("message", "(root) CMD (run)"))},
		{"5424 full", `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="App\"x\]y" eventID="1011"][b@1 c="d"] ` + "\uFEFFAn application event",
			fields(num("priority", 165), num("facility", 20), num("severity", 5), str("timestamp", "2003-10-11T22:14:15.003Z"),
				str("hostname", "mymachine.example.com"), str("app_name", "evntslog"), str("msg_id", "ID47"),
				str("structured_data", `[exampleSDID@32473 iut="3" eventSource="App\"x\]y" eventID="1011"][b@1 c="d"]`),
				str("message", "An application event"))},
		{"5424 nil fields, no message", `<13>1 - - - - - -`,
			fields(num("priority", 13), num("facility", 1), num("severity", 5), str("message", ""))},
		{"5424 unterminated structured data", `<13>1 2003-10-11T22:14:15Z h a p m [x a="1"`, nil},
		{"5424 missing fields", `<13>1 2003-10-11T22:14:15Z host app`, nil},
		{"invalid UTF-8 kept as is", "Nov 21 10:00:00 h\xff app: m\xfe",
			fields(str("timestamp", "Nov 21 10:00:00"), str("hostname", "h\xff"), str("app_name", "app"), str("message", "m\xfe"))},
		{"PRI too large", `<192>Oct 11 22:14:15 h a: m`, nil},
		{"PRI not a number", `<x>Oct 11 22:14:15 h a: m`, nil},
		{"bad month", `Foo 11 22:14:15 h a: m`, nil},
		{"no timestamp", `web-1 sshd[1]: m`, nil},
		{"empty", ``, nil},
	})
}

func TestParseLogfmt(t *testing.T) {
	checkParse(t, `[{"type":"parse","format":"logfmt","types":{"took":"float","n":"int"}}]`, []parseCase{
		{"plain", `level=info msg=started n=3 took=0.25`, fields(str("level", "info"), str("msg", "started"), num("n", 3), flt("took", 0.25))},
		{"quoted with escapes", `msg="say \"hi\"\tthere" path="C:\\x" empty=""`,
			fields(str("msg", "say \"hi\"\tthere"), str("path", `C:\x`), str("empty", ""))},
		{"bare key and empty value", `debug a= b=1`, fields(str("debug", "true"), str("a", ""), str("b", "1"))},
		{"duplicate key, last wins", `a=1 b=2 a=3`, fields(str("a", "3"), str("b", "2"))},
		{"spaces and tabs", "  a=1\t\tb=2  ", fields(str("a", "1"), str("b", "2"))},
		{"unicode", `msg="日本語" user=élodie`, fields(str("msg", "日本語"), str("user", "élodie"))},
		{"invalid UTF-8 kept as is", "k\xff=v\xfe q=\"\xfd\"", fields(str("k\xff", "v\xfe"), str("q", "\xfd"))},
		{"unterminated quote", `a=1 msg="oops`, nil},
		{"quote inside bare value", `a=b"c`, nil},
		{"junk after quote", `a="b"c`, nil},
		{"no key", `=x`, nil},
		{"typed value not a number", `n=three`, nil},
		{"bad escape", `msg="\q"`, nil},
		{"empty", ``, nil},
	})
}

func TestParseLogfmtCapsFields(t *testing.T) {
	var b strings.Builder
	for i := range 10 * MaxParsedFields {
		fmt.Fprintf(&b, "k%d=%d ", i, i)
	}
	l, _ := run(mustParse(t, `[{"type":"parse","format":"logfmt"}]`), b.String())
	if len(l.Parsed) != MaxParsedFields || !slices.Contains(l.Flags, record.FlagFieldsCapped) {
		t.Errorf("%d fields, flags %v", len(l.Parsed), l.Flags)
	}
}

func TestParsePattern(t *testing.T) {
	checkParse(t, `[{"type":"parse","pattern":"^(?P<level>[A-Z]+) (?:\\[(?P<thread>\\w+)\\] )?took (?P<ms>\\d+)ms ratio=(?P<ratio>[0-9.]+)","types":{"ms":"int","ratio":"float"}}]`, []parseCase{
		{"all groups", "WARN [main] took 12ms ratio=0.5 tail", fields(str("level", "WARN"), str("thread", "main"), num("ms", 12), flt("ratio", 0.5))},
		{"optional group absent", "INFO took 7ms ratio=1", fields(str("level", "INFO"), num("ms", 7), flt("ratio", 1))},
		{"type does not hold", "INFO took 99999999999999999999ms ratio=1", nil},
		{"type does not hold, float", "INFO took 1ms ratio=1.2.3", nil},
		{"no match", "info took 7ms", nil},
	})
}

// A parser reading a field another parser set: syslog, then logfmt on its
// message; the inner keys join the outer ones.
func TestParseFromAField(t *testing.T) {
	c := mustParse(t, `[{"type":"parse","format":"syslog"},{"type":"parse","format":"logfmt","field":"parsed.message"}]`)
	l, _ := run(c, `Nov 21 10:00:00 web-1 app[7]: level=warn user=bob`)
	want := fields(str("timestamp", "Nov 21 10:00:00"), str("hostname", "web-1"), str("app_name", "app"), str("proc_id", "7"),
		str("message", "level=warn user=bob"), str("level", "warn"), str("user", "bob"))
	if !equalFields(l.Parsed, want) || len(l.Flags) != 0 {
		t.Errorf("got %v %v", l.Parsed, l.Flags)
	}
	// The field is missing: flagged, like a line that does not match.
	l, _ = run(mustParse(t, `[{"type":"parse","format":"logfmt","field":"parsed.nope"}]`), "a=1")
	if len(l.Parsed) != 0 || !slices.Contains(l.Flags, record.FlagParseFailed) {
		t.Errorf("missing field: %v %v", l.Parsed, l.Flags)
	}
}

func TestParseHugeLine(t *testing.T) {
	huge := strings.Repeat("x", 4<<20)
	for _, format := range []string{"nginx", "syslog", "logfmt"} {
		l, _ := run(mustParse(t, `[{"type":"parse","format":"`+format+`"}]`), `10.0.0.1 - - [21/Nov/2026:10:00:00 +0000] "`+huge)
		if !slices.Contains(l.Flags, record.FlagParseFailed) {
			t.Errorf("%s: %v", format, l.Flags)
		}
	}
}
