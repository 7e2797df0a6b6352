package decode

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/logcollect/logcollect/pkg/record"
)

// dockerSeeds are json-file lines of the usual shape and of every shape the
// fast path leaves to encoding/json.
var dockerSeeds = []string{
	`{"log":"GET / 200\n","stream":"stdout","time":"2026-12-02T10:00:00.123456789Z"}`,
	`{"time":"2026-12-02T10:00:00Z","stream":"stderr","log":"partial"}`,
	`{"log":"esc \" \\ \/ \b \f \n \r \t \u00e9 \u20AC \ud83d\ude00 end\n"}`,
	`{"log":"lone \ud83d here\n"}`,
	`{"log":"low first \ude00\ud83d\n"}`,
	`{"log":"bad \x escape"}`,
	`{"log":"héllo wörld ✓ 😀\n","stream":"stdout"}`,
	"{\"log\":\"bad utf8 \xff\xfe\\n\"}",
	"{\"log\":\"ctl \x01\"}",
	`{"log":"a","log":"b"}`,
	`{"LOG":"upper"}`,
	`{"log":"x","attrs":{"tag":"y"}}`,
	`{"log":null,"stream":1}`,
	`{ "log" : "spaced" }`,
	`{"log":"trailing"} `,
	`{"log":"trailing"}{}`,
	`{}`,
	`{"log":""}`,
	`{"log":"\n"}`,
	`{"stream":"weird","time":"not a time"}`,
	`{"log":"x","time":"2026-02-30T10:00:00Z"}`,
	`{"log":"x","time":"2026-12-02T10:00:00,5Z"}`,
	`{"log":"x","time":"2026-12-02T10:00:00.5+01:00"}`,
	`{"log":"x","time":"2026-12-02T10:00:00.1234567891Z"}`,
	`{"log":"x",}`,
	`{"log":"unterminated`,
	`[1]`,
	``,
	`nope`,
}

// decodeDocker returns what a fresh decoder makes of line, by the fast path
// (fast) or by encoding/json alone.
func decodeDocker(line []byte, fast bool) (*Event, bool) {
	ev := &Event{}
	if fast {
		return ev, (&Decoder{}).docker(ev, line)
	}
	return ev, dockerJSON(ev, line)
}

func sameEvent(a, b *Event) bool {
	return bytes.Equal(a.Msg, b.Msg) && a.Stream == b.Stream && a.Time == b.Time && slices.Equal(a.Flags, b.Flags)
}

func FuzzDocker(f *testing.F) {
	for _, s := range dockerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		fast, fc := decodeDocker(line, true)
		slow, sc := decodeDocker(line, false)
		if fc != sc || !sameEvent(fast, slow) {
			t.Fatalf("%q: fast %+v complete %v, encoding/json %+v complete %v", line, fast, fc, slow, sc)
		}
	})
}

func TestDockerSeeds(t *testing.T) {
	for _, s := range dockerSeeds {
		fast, fc := decodeDocker([]byte(s), true)
		slow, sc := decodeDocker([]byte(s), false)
		if fc != sc || !sameEvent(fast, slow) {
			t.Errorf("%q: fast %+v complete %v, encoding/json %+v complete %v", s, fast, fc, slow, sc)
		}
	}
}

// TestContainer checks single lines of both formats: message, stream, time,
// completeness and flags.
func TestContainer(t *testing.T) {
	ts := time.Date(2026, 12, 2, 10, 0, 0, 123456789, time.UTC)
	cases := []struct {
		name, format, line string
		msg, stream        string
		time               time.Time
		complete           bool
		flags              []string
	}{
		{"docker stdout", "docker", `{"log":"hello\n","stream":"stdout","time":"2026-12-02T10:00:00.123456789Z"}`, "hello", "stdout", ts, true, nil},
		{"docker stderr partial", "docker", `{"stream":"stderr","log":"hel","time":"2026-12-02T10:00:00.123456789Z"}`, "hel", "stderr", ts, false, nil},
		{"docker escapes", "docker", `{"log":"a\"b\\c\/d\te\u00e9\ud83d\ude00\n"}`, "a\"b\\c/d\te\u00e9\U0001F600", "", time.Time{}, true, nil},
		{"docker unicode", "docker", `{"log":"grüße ✓\n","stream":"stdout"}`, "grüße ✓", "stdout", time.Time{}, true, nil},
		{"docker lone surrogate", "docker", `{"log":"\ud83d\n"}`, "\uFFFD", "", time.Time{}, true, nil},
		{"docker missing fields", "docker", `{}`, "", "", time.Time{}, false, nil},
		{"docker attrs", "docker", `{"log":"x\n","attrs":{"a":"b"},"stream":"stdout"}`, "x", "stdout", time.Time{}, true, nil},
		{"docker bad time", "docker", `{"log":"x\n","time":"yesterday"}`, "x", "", time.Time{}, true, nil},
		{"docker invalid", "docker", `{"log":`, `{"log":`, "", time.Time{}, true, []string{record.FlagInvalidJSON}},
		{"cri full", "cri", "2026-12-02T10:00:00.123456789Z stdout F hello world", "hello world", "stdout", ts, true, nil},
		{"cri partial", "cri", "2026-12-02T10:00:00.123456789Z stderr P hel", "hel", "stderr", ts, false, nil},
		{"cri tag with flags", "cri", "2026-12-02T10:00:00.123456789Z stdout F:x msg", "msg", "stdout", ts, true, nil},
		{"cri empty message", "cri", "2026-12-02T10:00:00.123456789Z stdout F", "", "stdout", ts, true, nil},
		{"cri other stream", "cri", "2026-12-02T10:00:00+01:00 other F m", "m", "other", time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC), true, nil},
		{"cri bad time", "cri", "yesterday stdout F m", "m", "stdout", time.Time{}, true, nil},
		{"cri not cri", "cri", "one two", "one two", "", time.Time{}, true, []string{record.FlagInvalidJSON}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, ev := New(c.format, 100, nil), &Event{}
			var complete bool
			if c.format == "docker" {
				complete = d.docker(ev, []byte(c.line))
			} else {
				complete = d.cri(ev, []byte(c.line))
			}
			if string(ev.Msg) != c.msg || ev.Stream != c.stream || !ev.Time.Equal(c.time) || complete != c.complete || !slices.Equal(ev.Flags, c.flags) {
				t.Errorf("got %q %q %v complete %v flags %v, want %q %q %v %v %v", ev.Msg, ev.Stream, ev.Time, complete, ev.Flags,
					c.msg, c.stream, c.time, c.complete, c.flags)
			}
		})
	}
}
