package collect

import (
	"io/fs"
	"os"
	"path/filepath"
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

// TestMatches: the glob and the exclude globs (against the base name or
// the full path) decide together.
func TestMatches(t *testing.T) {
	es, err := Parse([]byte(`[{"path":"/var/log/app/*.log*","topic":"app","exclude":["*.gz","/var/log/app/debug*"]}]`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		want bool
	}{
		{"/var/log/app/x.log", true},
		{"/var/log/app/x.log.1", true},
		{"/var/log/app/x.log.2.gz", false}, // excluded by base name
		{"/var/log/app/debug.log", false},  // excluded by full path
		{"/var/log/app/sub/x.log", false},  // the glob does not match
		{"/var/log/other/x.log", false},
	} {
		if got := es[0].Matches(tc.file); got != tc.want {
			t.Errorf("Matches(%q) = %v, want %v", tc.file, got, tc.want)
		}
	}
}

// TestRecursiveMatches: "**" spans 0 to pathglob.MaxDepth directories,
// the same for matching one path (Matches) and listing (Glob).
func TestRecursiveMatches(t *testing.T) {
	dir := t.TempDir()
	es, err := Parse([]byte(`[{"path":"` + dir + `/**/*.log","topic":"app","exclude":["skip*","` + dir + `/**/tmp/*"]},{"path":"` + dir + `/a/**","topic":"all"}]`))
	if err != nil {
		t.Fatal(err)
	}
	eight := "/1/2/3/4/5/6/7/8"
	for _, tc := range []struct {
		file      string
		logs, all bool
	}{
		{"/x.log", true, false},
		{"/a/x.log", true, true},
		{"/a/b/c/x.txt", false, true},
		{"/a/b/skip.log", false, true},  // excluded by name from the first entry
		{"/a/b/tmp/x.log", false, true}, // excluded by a full path with "**"
		{"/tmp/x.log", false, false},
		{eight + "/x.log", true, false},
		{eight + "/9/x.log", false, false}, // nine directories
		{"/a" + eight + "/x", false, true},
		{"/a" + eight + "/9/x", false, false},
		{"/a/1/2/3/4/5/6/7/x", false, true},
	} {
		file := dir + tc.file
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		for i, want := range []bool{tc.logs, tc.all} {
			if got := es[i].Matches(file); got != want {
				t.Errorf("%s Matches(%s) = %v, want %v", es[i].Path, tc.file, got, want)
			}
		}
	}
	// Glob lists what PathMatches accepts, no more, no less.
	for _, e := range es {
		listed, err := e.Glob()
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, f := range listed {
			seen[f] = true
		}
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && e.PathMatches(p) != seen[p] {
				t.Errorf("%s: PathMatches(%s) = %v, listed by Glob %v", e.Path, p, e.PathMatches(p), seen[p])
			}
			return nil
		})
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
			`collect config entry 2 (/var/log/x.log): field "topic": "web log" is not a valid Kafka topic name: ' ' is not allowed (only letters, digits, '.', '_', '-'): rename it`},
		{`[{"path":"/a","topic":".."}]`, "not a valid Kafka topic"},
		{`[{"path":"/a","topic":"` + strings.Repeat("x", 250) + `"}]`, "not a valid Kafka topic"},
		{`[{"path":"/a"}]`, `field "topic": missing`},
		{`[{"path":"var/log/a.log","topic":"t"}]`, `field "path": "var/log/a.log" is relative`},
		{`[{"path":"/var/log/../etc/x","topic":"t"}]`, "not clean"},
		{`[{"path":"/var/log/[a.log","topic":"t"}]`, "not a valid glob"},
		{`[{"path":"/var/log/**/app/**/*.log","topic":"t"}]`, `field "path": "/var/log/**/app/**/*.log" has more than one **: one ** spans up to 8 directories`},
		{`[{"path":"/var/log/**/**/*.log","topic":"t"}]`, `field "path": "/var/log/**/**/*.log" has more than one **`}, // adjacent: a substring count saw one
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
		{`[{"type":"syslog","topic":"t"}]`, `entry 1: field "type": "syslog": want "file" (default), "journald" or "kubernetes"`},
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
		{`[{"type":"journald","topic":"t","processors":[{"type":"drop","pattern":"x"}]}]`, `entry 1 (journald): field "processors": are not run on "type":"journald" entries`},
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
	if err := CheckSystemJournal(es[1:], false); err != nil {
		t.Fatalf("a journal outside the system journal is the allowlist's business: %v", err)
	}
	err = CheckSystemJournal(sys, false)
	if err == nil || !strings.Contains(err.Error(), "entry 2 (journald)") || !strings.Contains(err.Error(), "allow_journal") {
		t.Fatalf("err = %v", err)
	}
}

// links makes the symlinks testdata/system_journal.txt names in dir.
func systemJournalLinks(t *testing.T, dir string) {
	t.Helper()
	for link, target := range map[string]string{"jlink": "/var/log/journal", "varlog": "/var/log", "runlink": "/run/log/journal"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
}

// Every spelling of the system journal is recognised; other paths are not.
func TestInSystemJournal(t *testing.T) {
	dir := t.TempDir()
	systemJournalLinks(t, dir)
	os.Symlink("sub/../varlog/journal", filepath.Join(dir, "rel"))
	os.Symlink("loop", filepath.Join(dir, "loop"))
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	const mid = "0123456789abcdef0123456789abcdef"
	tests := []struct {
		path string
		in   bool
	}{
		{"/var/log/journal", true},
		{"/run/log/journal", true},
		{"/var/run/log/journal", true},
		{"/var/log/journal/", true},
		{"/var/log/journal/.", true},
		{"//var//log//journal", true},
		{"/var/log/./journal/" + mid, true},
		{"/var/log/app/../journal", true},
		{"/var/log/journal/" + mid + "/system.journal", true},
		{"/run/log/journal/" + mid + "/system@0005f-00001.journal~", true},
		{"/var/log/journal/*/system.journal", true},
		{"/var/log/jo*", true},
		{"/*/log/journal/x.journal", true},
		{dir + "/jlink", true},
		{dir + "/jlink/", true},
		{dir + "/jlink/" + mid + "/user-1000.journal", true},
		{dir + "/varlog/journal", true},
		{dir + "/rel", true},
		{dir + "/sub/../jlink", true},
		{dir + "/runlink/" + mid, true}, // dangling here: counts by its target
		{"/var/log", false},
		{"/var/log/journald.log", false},
		{"/var/log/journal.old/x.journal", false},
		{"/var/log/app/*.log", false},
		{"/srv/journal/" + mid + "/system.journal", false},
		{dir + "/varlog/app.log", false},
		{dir + "/jlink/..", false}, // the link's parent: /var/log
		{dir + "/loop/x", false},   // a symlink loop resolves to nothing
		{"/", false},
	}
	for _, tt := range tests {
		if real, in := InSystemJournal(tt.path, nil); in != tt.in {
			t.Errorf("InSystemJournal(%q) = %v (resolved %s), want %v", tt.path, in, real, tt.in)
		}
	}
}

// systemJournalConfigs are the configs of testdata/system_journal.txt, with
// DIR replaced by dir.
func systemJournalConfigs(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile("testdata/system_journal.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, strings.ReplaceAll(l, "DIR", dir))
		}
	}
	return out
}

// A config naming the system journal in any form is rejected with a clear
// error when the host disallows it, and accepted when it allows it.
func TestCheckSystemJournalForms(t *testing.T) {
	dir := t.TempDir()
	systemJournalLinks(t, dir)
	for _, c := range systemJournalConfigs(t, dir) {
		es, err := Parse([]byte(c))
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if err := CheckSystemJournal(es, true); err != nil {
			t.Errorf("allowed: %s: %v", c, err)
		}
		err = CheckSystemJournal(es, false)
		if err == nil || !strings.Contains(err.Error(), "allow_journal = false") || !strings.Contains(err.Error(), "collect config entry ") {
			t.Errorf("disallowed: %s: err = %v, want a rejection naming the entry and allow_journal", c, err)
		}
	}
	// Forms Parse rejects as unclean are still caught when checked alone.
	for _, p := range []string{"/var/log/journal/", "/var/log/app/../journal", "//run/log/journal"} {
		e := []Entry{{Type: TypeJournald, Topic: "t", Directory: p}}
		if err := CheckSystemJournal(e, false); err == nil {
			t.Errorf("directory %q accepted", p)
		}
	}
	// Other journals and files, and globs reaching the journal only through
	// a wildcard (the harvester skips journal files at open), pass.
	ok, err := Parse([]byte(`[{"type":"journald","topic":"t","directory":"/var/log/containers-journal"},{"path":"/var/log/**","topic":"u"},{"path":"/var/log/*/*.log","topic":"v"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckSystemJournal(ok, false); err != nil {
		t.Fatal(err)
	}
	want := `collect config entry 1 (journald /var/log/journal): field "directory": "/var/log/journal" is the system journal (resolves to /var/log/journal) and reading the system journal is disabled on this host ([agent] allow_journal = false): set directory to another journal inside allowed_paths, or allow it on the host`
	es, _ := Parse([]byte(`[{"type":"journald","topic":"t","directory":"/var/log/journal"}]`))
	if err := CheckSystemJournal(es, false); err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

func TestParseProcessors(t *testing.T) {
	entries, err := Parse([]byte(`[{"path":"/var/log/a.log","topic":"t","processors":[{"type":"parse","format":"nginx"},{"type":"drop","field":"parsed.path","pattern":"^/healthz"}]},
		{"path":"/var/log/b.log","topic":"t"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if entries[0].Chain == nil || entries[0].Chain.Len() != 2 {
		t.Fatalf("entry 1 chain: %+v", entries[0].Chain)
	}
	if entries[1].Chain == nil || entries[1].Chain.Len() != 0 {
		t.Fatalf("entry 2 (no processors) chain: %+v", entries[1].Chain)
	}

	// An entry whose processors changed is another task; white space is not a change.
	parse := func(s string) Entry {
		t.Helper()
		es, err := Parse([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return es[0]
	}
	a := parse(`[{"path":"/a","topic":"t","processors":[{"type":"drop","pattern":"x"}]}]`)
	b := parse(`[{"path":"/a","topic":"t","processors":[ {"type": "drop", "pattern": "x"} ]}]`)
	c := parse(`[{"path":"/a","topic":"t","processors":[{"type":"drop","pattern":"y"}]}]`)
	d := parse(`[{"path":"/a","topic":"t"}]`)
	if a.Key() != c.Key() || !Equal(a, b) || Equal(a, c) || Equal(a, d) {
		t.Errorf("equality: a=b %v, a=c %v, a=d %v", Equal(a, b), Equal(a, c), Equal(a, d))
	}

	tests := []struct{ in, want string }{
		{`[{"path":"/var/log/a.log","topic":"t"},{"path":"/var/log/b.log","topic":"t","processors":[{"type":"parse","format":"nginx"},{"type":"mask","builtins":["emial"]}]}]`,
			`collect config entry 2 (/var/log/b.log): processors[1] (mask): builtins[0] "emial": not a built-in mask; write one of email, credit_card, secrets, ipv4`},
		{`[{"path":"/var/log/a.log","topic":"t","processors":[{"type":"drop","patern":"x"}]}]`,
			`collect config entry 1 (/var/log/a.log): processors[0] (drop): patern: unknown field`},
		{`[{"path":"/var/log/a.log","topic":"t","processors":{"type":"drop"}}]`,
			`collect config entry 1 (/var/log/a.log): processors: want a JSON array of processors`},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s:\n got  %v\n want %s...", tt.in, err, tt.want)
		}
		// The one verdict (agent, validate, put) reports it the same way.
		_, err = Policy{AllowedPaths: []string{"/var/log/**"}}.Load([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load %s:\n got  %v\n want ...%s...", tt.in, err, tt.want)
		}
	}
}
