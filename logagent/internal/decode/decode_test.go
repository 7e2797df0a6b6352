package decode

import (
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/pkg/record"
)

// TestDecode feeds lines one after another (each 10 bytes apart) and checks
// the events completed, with their spans and flags.
func TestDecode(t *testing.T) {
	type want struct {
		msg        string
		start, end int64
		flags      []string
		stream     string
	}
	after := &collect.Multiline{Regexp: regexp.MustCompile(`^\s`), Match: "after", MaxLines: 3, FlushTimeout: time.Second}
	before := &collect.Multiline{Regexp: regexp.MustCompile(`\\$`), Match: "before", MaxLines: 10, FlushTimeout: time.Second}
	cases := []struct {
		name   string
		format string
		max    int
		ml     *collect.Multiline
		lines  []string
		want   []want
		held   bool
	}{
		{"raw", "", 100, nil, []string{"a", "b"}, []want{{"a", 0, 10, nil, ""}, {"b", 10, 20, nil, ""}}, false},
		{"json valid and not", "json", 100, nil, []string{`{"a":1}`, `[1]`, `nope`},
			[]want{{`{"a":1}`, 0, 10, nil, ""}, {`[1]`, 10, 20, []string{record.FlagInvalidJSON}, ""}, {`nope`, 20, 30, []string{record.FlagInvalidJSON}, ""}}, false},
		{"docker partials joined", "docker", 100, nil,
			[]string{`{"log":"par","stream":"stdout","time":"2026-01-01T00:00:00Z"}`, `{"log":"tial\n","stream":"stdout"}`},
			[]want{{"partial", 0, 20, nil, "stdout"}}, false},
		{"docker partial held", "docker", 100, nil, []string{`{"log":"par","stream":"stdout"}`}, nil, true},
		{"docker join cut at max", "docker", 5, nil, []string{`{"log":"abcd"}`, `{"log":"efgh\n"}`},
			[]want{{"abcde", 0, 20, []string{record.FlagTruncated}, ""}}, false},
		{"cri partial then full", "cri", 100, nil, []string{"2026-01-01T00:00:00Z stderr P one ", "2026-01-01T00:00:00Z stderr F two"},
			[]want{{"one two", 0, 20, nil, "stderr"}}, false},
		{"cri not cri", "cri", 100, nil, []string{"garbage"}, []want{{"garbage", 0, 10, []string{record.FlagInvalidJSON}, ""}}, false},
		// The decoder reuses one event and buffer for complete lines: what
		// it holds (partials, multiline) must not change under later lines.
		{"docker partial among full lines", "docker", 100, nil,
			[]string{`{"log":"one\n","stream":"stdout"}`, `{"log":"tw","stream":"stderr"}`, `{"log":"o\n","stream":"stderr"}`, `{"log":"three\n","stream":"stdout"}`},
			[]want{{"one", 0, 10, nil, "stdout"}, {"two", 10, 30, nil, "stderr"}, {"three", 30, 40, nil, "stdout"}}, false},
		{"docker escapes and invalid", "docker", 100, nil, []string{`{"log":"a\tb\u00e9\n"}`, `{"log":1}`, "{\"log\":\"\xff\\n\"}"},
			[]want{{"a\tbé", 0, 10, nil, ""}, {`{"log":1}`, 10, 20, []string{record.FlagInvalidJSON}, ""}, {"\uFFFD", 20, 30, nil, ""}}, false},
		{"cri partials among full lines", "cri", 100, nil,
			[]string{"2026-01-01T00:00:00Z stdout F one", "2026-01-01T00:00:00Z stdout P tw", "2026-01-01T00:00:00Z stdout P o", "2026-01-01T00:00:00Z stdout F !", "x"},
			[]want{{"one", 0, 10, nil, "stdout"}, {"two!", 10, 40, nil, "stdout"}, {"x", 40, 50, []string{record.FlagInvalidJSON}, ""}}, false},
		{"cri multiline after", "cri", 100, after,
			[]string{"2026-01-01T00:00:00Z stdout F ex", "2026-01-01T00:00:00Z stdout F  at 1", "2026-01-01T00:00:00Z stdout F next", "2026-01-01T00:00:00Z stdout F last"},
			[]want{{"ex\n at 1", 0, 20, []string{record.FlagMultiline}, "stdout"}, {"next", 20, 30, nil, "stdout"}}, true},
		{"docker multiline before", "docker", 100, before,
			[]string{`{"log":"a\\\n"}`, `{"log":"b\n"}`, `{"log":"c\n"}`},
			[]want{{"a\\\nb", 0, 20, []string{record.FlagMultiline}, ""}, {"c", 20, 30, nil, ""}}, false},
		{"multiline after", "raw", 100, after, []string{"ex", " at 1", " at 2", "next"},
			[]want{{"ex\n at 1\n at 2", 0, 30, []string{record.FlagMultiline}, ""}}, true},
		{"multiline after max lines", "raw", 100, after, []string{"ex", " 1", " 2", " 3"},
			[]want{{"ex\n 1\n 2", 0, 30, []string{record.FlagMultiline}, ""}}, true},
		{"multiline before", "raw", 100, before, []string{`a\`, `b\`, "c", "d"},
			[]want{{"a\\\nb\\\nc", 0, 30, []string{record.FlagMultiline}, ""}, {"d", 30, 40, nil, ""}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := New(c.format, c.max, c.ml)
			var got []want
			for i, l := range c.lines {
				for _, ev := range d.Add([]byte(l), int64(10*i), int64(10*i+10), false, time.Now()) {
					got = append(got, want{string(ev.Msg), ev.Start, ev.End, slices.Clone(ev.Flags), ev.Stream})
				}
			}
			if len(got) != len(c.want) {
				t.Fatalf("events %+v, want %+v", got, c.want)
			}
			for i := range got {
				g, w := got[i], c.want[i]
				if g.msg != w.msg || g.start != w.start || g.end != w.end || g.stream != w.stream || !slices.Equal(g.flags, w.flags) {
					t.Errorf("event %d = %+v, want %+v", i, g, w)
				}
			}
			if d.Holding() != c.held {
				t.Errorf("holding = %v, want %v", d.Holding(), c.held)
			}
		})
	}
}

// TestMultilineExpires: a held multiline event is sent after its flush
// timeout; Reset drops what is held.
func TestMultilineExpires(t *testing.T) {
	ml := &collect.Multiline{Regexp: regexp.MustCompile(`^\s`), Match: "after", MaxLines: 5, FlushTimeout: time.Second}
	d := New("raw", 100, ml)
	t0 := time.Now()
	d.Add([]byte("ex"), 0, 3, false, t0)
	d.Add([]byte(" 1"), 3, 6, false, t0)
	if evs := d.Expire(t0.Add(time.Second / 2)); len(evs) != 0 {
		t.Fatalf("expired before the timeout: %v", evs)
	}
	evs := d.Expire(t0.Add(time.Second))
	if len(evs) != 1 || string(evs[0].Msg) != "ex\n 1" || evs[0].End != 6 || d.Holding() {
		t.Fatalf("expire = %+v, holding %v", evs, d.Holding())
	}
	d.Add([]byte("again"), 6, 12, false, t0)
	d.Reset()
	if d.Holding() {
		t.Fatal("holding after Reset")
	}
}

func TestCheckUTF8(t *testing.T) {
	for _, c := range []struct {
		msg  string
		flag bool
	}{{"plain", false}, {"h\xc3\xa9", false}, {"bad \xff", true}} {
		ev := &Event{Msg: []byte(c.msg)}
		ev.CheckUTF8()
		if got := slices.Contains(ev.Flags, record.FlagInvalidUTF8); got != c.flag {
			t.Errorf("%q flagged %v, want %v", c.msg, got, c.flag)
		}
	}
}
