package configsource

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/pkg/fleet"
)

var policy = collect.Policy{AllowedPaths: []string{"/var/log/**"}}

func src(name string, rev int64, config string) Source {
	return Source{Name: name, Revision: rev, Config: json.RawMessage(config)}
}

// Precedence: the host key over the groups, then the order of the groups;
// an entry defined twice runs once, from the first source, and the losers
// are named.
func TestMerge(t *testing.T) {
	web, prod := fleet.GroupSource("web"), fleet.GroupSource("prod")
	for _, tc := range []struct {
		name   string
		inputs []Source
		want   string // entry@source topic, shadowed
	}{
		{name: "host only", inputs: []Source{src("host", 3, `[{"path":"/var/log/a.log","topic":"a"}]`)},
			want: "/var/log/a.log@host/3 a"},
		{name: "nothing", inputs: []Source{src("host", 0, ``), src(web, 0, `null`)}, want: ""},
		{name: "union in order", inputs: []Source{src("host", 3, `[{"path":"/var/log/h.log","topic":"h"}]`), src(web, 7, `[{"path":"/var/log/w.log","topic":"w"}]`)},
			want: "/var/log/h.log@host/3 h; /var/log/w.log@group:web/7 w"},
		{name: "host overrides a group's entry", inputs: []Source{
			src("host", 3, `[{"path":"/var/log/nginx/*.log","topic":"mine"}]`),
			src(web, 7, `[{"path":"/var/log/nginx/*.log","topic":"web"},{"path":"/var/log/w.log","topic":"w"}]`)},
			want: "/var/log/nginx/*.log@host/3 mine [group:web@7]; /var/log/w.log@group:web/7 w"},
		{name: "first group wins, every loser named", inputs: []Source{
			src("host", 0, ``),
			src(web, 7, `[{"path":"/var/log/x.log","topic":"web"}]`),
			src(prod, 9, `[{"path":"/var/log/x.log","topic":"prod","fields":{"env":"prod"}},{"path":"/var/log/p.log","topic":"p"}]`),
			{Name: fleet.GroupSource("db"), Rollout: "r1", Hash: "abc", Config: json.RawMessage(`[{"path":"/var/log/x.log","topic":"db"}]`)}},
			want: "/var/log/x.log@group:web/7 web [group:prod@9, group:db@r1]; /var/log/p.log@group:prod/9 p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Merge(policy, tc.inputs, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i, e := range d.Entries {
				s := d.Sources[i]
				if s.Entry != e.Key() {
					t.Errorf("source %d is for %q, entry is %q", i, s.Entry, e.Key())
				}
				g := e.Key() + "@" + s.Source + "/" + itoa(s.Revision) + " " + e.Topic
				if s.Shadowed != "" {
					g += " [" + s.Shadowed + "]"
				}
				got = append(got, g)
			}
			if g := strings.Join(got, "; "); g != tc.want {
				t.Errorf("got  %s\nwant %s", g, tc.want)
			}
			// What runs is exactly what the merged JSON loads to.
			if again, err := policy.Load(d.Config); err != nil || len(again) != len(d.Entries) {
				t.Errorf("merged config %s: %v", d.Config, err)
			}
		})
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// A source the policy refuses cannot reach Merge through the watcher; given
// directly it is an error naming the source, never a partial config.
func TestMergeRefusesABadSource(t *testing.T) {
	_, err := Merge(policy, []Source{src("host", 1, `[{"path":"/etc/shadow","topic":"x"}]`)}, nil)
	if err == nil || !strings.Contains(err.Error(), "host@1") || !strings.Contains(err.Error(), "allowed_paths") {
		t.Fatalf("err = %v", err)
	}
}

// The cache keeps every source with its revision; a plain array (what
// agents before groups cached) is the host's config; groups the agent left
// are dropped.
func TestCache(t *testing.T) {
	d, err := Merge(policy, []Source{src("host", 3, `[{"path":"/var/log/h.log","topic":"h"}]`),
		{Name: fleet.GroupSource("web"), Rollout: "r1", Hash: "abc", Config: json.RawMessage(`[{"path":"/var/log/w.log","topic":"w"}]`)},
		src(fleet.GroupSource("prod"), 9, `[{"path":"/var/log/p.log","topic":"p"}]`)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := EncodeCache(d)
	if err != nil {
		t.Fatal(err)
	}
	back, err := FromCache(policy, data, []string{"prod", "web"})
	if err != nil {
		t.Fatal(err)
	}
	want := []fleet.GroupState{{Group: "prod", Revision: 9}, {Group: "web", Rollout: "r1", Hash: "abc"}}
	if len(back.Groups) != 2 || back.Groups[0] != want[0] || back.Groups[1] != want[1] || len(back.Entries) != 3 || back.Host() != 3 {
		t.Errorf("from cache: groups %+v, %d entries, host %d", back.Groups, len(back.Entries), back.Host())
	}
	left, err := FromCache(policy, data, nil)
	if err != nil || len(left.Entries) != 1 || len(left.Groups) != 0 {
		t.Errorf("after leaving the groups: %+v, %v", left, err)
	}
	old, err := FromCache(policy, []byte(`[{"path":"/var/log/o.log","topic":"o"}]`), []string{"web"})
	if err != nil || len(old.Entries) != 1 || old.Sources[0].Source != "host" || old.Groups[0] != (fleet.GroupState{Group: "web"}) {
		t.Errorf("plain array: %+v, %v", old, err)
	}
	if _, err := FromCache(policy, []byte(`{"format":"other"}`), nil); err == nil {
		t.Error("an unknown document was taken as a cache")
	}
}

// Journal entries are one entry when they read the same stream (journal,
// topic, filters): the first source's runs; another unit is another entry.
func TestMergeJournalEntries(t *testing.T) {
	p := collect.Policy{AllowedPaths: []string{"/var/log/**"}, AllowJournal: true}
	d, err := Merge(p, []Source{
		src("host", 2, `[{"type":"journald","topic":"j","units":["nginx.service"],"fields":{"from":"host"}}]`),
		src(fleet.GroupSource("web"), 5, `[{"type":"journald","topic":"j","units":["nginx.service"]},{"type":"journald","topic":"j","units":["app.service"]}]`),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Entries) != 2 || d.Entries[0].Fields["from"] != "host" || d.Sources[0].Shadowed != "group:web@5" || d.Sources[1].Source != "group:web" {
		t.Errorf("entries %d, sources %+v", len(d.Entries), d.Sources)
	}
}
