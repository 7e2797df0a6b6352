package collect

import (
	"strings"
	"testing"
	"time"
)

func TestSeedFormat(t *testing.T) {
	es, err := Parse([]byte(`[{"path":"/var/log/nginx/access.log","topic":"web_log"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Topic != "web_log" || es[0].Start != "end" || es[0].Format != "raw" || es[0].MaxLineBytes != DefaultMaxLineBytes {
		t.Fatalf("got %+v", es)
	}
}

func TestAllFields(t *testing.T) {
	es, err := Parse([]byte(`[{"path":"/var/log/app/*.log","topic":"app","exclude":["*.gz"],"start":"beginning","format":"json",
		"multiline":{"pattern":"^\\d{4}-","negate":true,"match":"after","max_lines":10,"timeout":"2s"},
		"fields":{"env":"prod"},"max_line_bytes":4096}]`))
	if err != nil {
		t.Fatal(err)
	}
	e := es[0]
	if !e.Excluded("/var/log/app/x.log.gz") || e.Excluded("/var/log/app/x.log") {
		t.Error("exclude")
	}
	if e.Multiline.Regexp == nil || e.Multiline.FlushTimeout != 2*time.Second || e.Fields["env"] != "prod" {
		t.Errorf("got %+v", e)
	}
}

func TestEmpty(t *testing.T) {
	for _, in := range []string{"", "[]", "null", " \n"} {
		es, err := Parse([]byte(in))
		if err != nil || len(es) != 0 {
			t.Errorf("%q: %v %v", in, es, err)
		}
	}
}

func TestRejections(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"path":"/a","topic":"t"}`, "not a JSON array"},
		{`[{"path":"/a","topic":"t"}`, "not a JSON array"},
		{`[{"topic":"t"}]`, `entry 1: field "path": missing`},
		{`[{"path":"/var/log/a.log","topic":"ok"},{"path":"/var/log/x.log","topic":"web log"}]`,
			`collect config entry 2 (/var/log/x.log): field "topic": "web log" is not a valid Kafka topic name (letters, digits, '.', '_', '-'; at most 249): rename it`},
		{`[{"path":"/a","topic":".."}]`, "not a valid Kafka topic"},
		{`[{"path":"/a","topic":"` + strings.Repeat("x", 250) + `"}]`, "not a valid Kafka topic"},
		{`[{"path":"/a"}]`, `field "topic": missing`},
		{`[{"path":"var/log/a.log","topic":"t"}]`, `field "path": "var/log/a.log" is relative`},
		{`[{"path":"/var/log/../etc/x","topic":"t"}]`, "not clean"},
		{`[{"path":"/var/log/[a.log","topic":"t"}]`, "not a valid glob"},
		{`[{"path":"/a","topic":"t","exclude":["[x"]}]`, `field "exclude"`},
		{`[{"path":"/a","topic":"t","start":"middle"}]`, `field "start": "middle"`},
		{`[{"path":"/a","topic":"t","format":"xml"}]`, `field "format": "xml"`},
		{`[{"path":"/a","topic":"t","colour":"red"}]`, `entry 1 (/a): field "colour": unknown field`},
		{`[{"path":"/a","topic":"t","max_line_bytes":"big"}]`, `field "max_line_bytes"`},
		{`[{"path":"/a","topic":"t","max_line_bytes":1}]`, `field "max_line_bytes": 1: want 16`},
		{`[{"path":"/a","topic":"t","multiline":{"pattern":"("}}]`, `field "multiline.pattern"`},
		{`[{"path":"/a","topic":"t","multiline":{"pattern":"x","match":"middle"}}]`, `field "multiline.match"`},
		{`[{"path":"/a","topic":"t","multiline":{"pattern":"x","timeout":"soon"}}]`, `field "multiline.timeout"`},
		{`[{"path":"/a","topic":"t"},{"path":"/a","topic":"u"}]`, "also entry 1"},
		{`["x"]`, "entry 1: "},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s:\n got  %v\n want ...%s...", tt.in, err, tt.want)
		}
	}
}

func TestCheckAllowed(t *testing.T) {
	es, _ := Parse([]byte(`[{"path":"/var/log/a.log","topic":"t"},{"path":"/etc/shadow","topic":"t"}]`))
	err := CheckAllowed(es, []string{"/var/log/**"})
	if err == nil || !strings.Contains(err.Error(), "entry 2 (/etc/shadow)") || !strings.Contains(err.Error(), "allowed_paths") {
		t.Fatalf("err = %v", err)
	}
	if err := CheckAllowed(es[:1], []string{"/var/log/**"}); err != nil {
		t.Fatal(err)
	}
}

func TestJournaldEntries(t *testing.T) {
	es, err := Parse([]byte(`[{"path":"/var/log/a.log","topic":"app"},
		{"type":"journald","topic":"sys_log","units":["nginx.service"],"priority":"info","match":["_TRANSPORT=kernel"]},
		{"type":"journald","topic":"sys_log","directory":"/var/log/journal","seek":"cursor","cursor":"s=1;i=2","fields":{"env":"prod"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	if es[0].Type != TypeFile || es[1].Type != TypeJournald || es[1].Seek != "tail" || es[2].Seek != "cursor" {
		t.Fatalf("types/defaults: %+v", es)
	}
	if k := es[1].Key(); !strings.HasPrefix(k, "journald:system|sys_log|") || !strings.HasPrefix(es[2].Key(), "journald:/var/log/journal|sys_log|") || k == es[2].Key() {
		t.Errorf("keys %q %q", k, es[2].Key())
	}
	// The key follows journal, topic and filters, not fields or seek.
	a, _ := Parse([]byte(`[{"type":"journald","topic":"t","units":["a","b"],"seek":"head"}]`))
	b, _ := Parse([]byte(`[{"type":"journald","topic":"t","units":["b","a"],"fields":{"x":"y"}}]`))
	c, _ := Parse([]byte(`[{"type":"journald","topic":"t","units":["a"]}]`))
	if a[0].Key() != b[0].Key() || a[0].Key() == c[0].Key() || Equal(a[0], b[0]) {
		t.Errorf("keys: %q %q %q", a[0].Key(), b[0].Key(), c[0].Key())
	}

	tests := []struct{ in, want string }{
		{`[{"type":"syslog","topic":"t"}]`, `entry 1: field "type": "syslog": want "file" (default) or "journald"`},
		{`[{"type":"journald"}]`, `entry 1 (journald): field "topic": missing`},
		{`[{"type":"journald","topic":"t","path":"/var/log/a.log"}]`, `entry 1 (journald): field "path": only applies to file entries`},
		{`[{"type":"journald","topic":"t","format":"json"}]`, `field "format": only applies to file entries`},
		{`[{"type":"journald","topic":"t","Multiline":{"pattern":"x"}}]`, `field "multiline": only applies to file entries`},
		{`[{"path":"/var/log/a.log","topic":"t","units":["x.service"]}]`, `entry 1 (/var/log/a.log): field "units": only applies to "type":"journald" entries`},
		{`[{"topic":"t","directory":"/var/log/journal"}]`, `field "directory": only applies to "type":"journald"`},
		{`[{"type":"journald","topic":"t","priority":"loud"}]`, `field "priority": "loud" is not a syslog priority: use 0-7 or one of emerg`},
		{`[{"type":"journald","topic":"t","match":["transport=kernel"]}]`, `field "match": "transport=kernel" is not FIELD=value`},
		{`[{"type":"journald","topic":"t","seek":"middle"}]`, `field "seek": "middle": use tail, head or cursor`},
		{`[{"type":"journald","topic":"t","seek":"cursor"}]`, `field "seek": "cursor" needs a "cursor"`},
		{`[{"type":"journald","topic":"t","cursor":"s=1"}]`, `field "cursor": is only used with "seek":"cursor"`},
		{`[{"type":"journald","topic":"t","units":[""]}]`, `field "units": "" is not a unit name`},
		{`[{"type":"journald","topic":"t","directory":"/a","file":"/b"}]`, `field "file": "directory" and "file" exclude each other`},
		{`[{"type":"journald","topic":"t","directory":"journal"}]`, `entry 1 (journald journal): field "directory": "journal" is relative`},
		{`[{"type":"journald","topic":"t","file":"/var/log/../x.journal"}]`, `field "file": "/var/log/../x.journal" is not clean`},
		{`[{"type":"journald","topic":"t","units":"nginx"}]`, `field "units": units is a JSON string, want an array of strings`},
		{`[{"type":"journald","topic":"t","colour":"red"}]`, `field "colour": unknown field: remove it, or use one of type, topic, fields; for files path, exclude`},
		{`[{"type":"journald","topic":"t","units":["a"]},{"type":"journald","topic":"t","units":["a"],"seek":"head"}]`, `entry 2 (journald): field "topic": entry 1 already reads this journal`},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s:\n got  %v\n want ...%s...", tt.in, err, tt.want)
		}
	}
}

func TestCheckAllowedJournald(t *testing.T) {
	es, err := Parse([]byte(`[{"type":"journald","topic":"t","directory":"/var/log/journal"},{"type":"journald","topic":"t","file":"/etc/x.journal"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckAllowed(es[:1], []string{"/var/log/**"}); err != nil {
		t.Fatal(err)
	}
	err = CheckAllowed(es, []string{"/var/log/**"})
	if err == nil || !strings.Contains(err.Error(), `entry 2 (journald /etc/x.journal): field "file": "/etc/x.journal" is outside the agent's allowed_paths`) {
		t.Fatalf("err = %v", err)
	}
	sys, _ := Parse([]byte(`[{"path":"/var/log/a.log","topic":"t"},{"type":"journald","topic":"t"}]`))
	if err := CheckSystemJournal(sys, true); err != nil {
		t.Fatal(err)
	}
	if err := CheckSystemJournal(es, false); err != nil {
		t.Fatalf("a journal directory is the allowlist's business: %v", err)
	}
	err = CheckSystemJournal(sys, false)
	if err == nil || !strings.Contains(err.Error(), "entry 2 (journald)") || !strings.Contains(err.Error(), "allow_journal") {
		t.Fatalf("err = %v", err)
	}
}
