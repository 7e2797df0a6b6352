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
