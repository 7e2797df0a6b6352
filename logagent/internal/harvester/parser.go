package harvester

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/pkg/record"
)

// event is one log event on its way to a record: one line, or several
// joined (container partials, multiline), with the span of bytes it covers.
type event struct {
	msg    []byte
	start  int64 // offset of its first byte: the record's log.offset and event.id position
	end    int64 // offset after its last line: where the checkpoint may move once acked
	ts     time.Time
	stream string
	json   []byte
	flags  []string
	lines  int
}

func (e *event) flag(f string) {
	for _, x := range e.flags {
		if x == f {
			return
		}
	}
	e.flags = append(e.flags, f)
}

// decoder turns physical lines into events according to the entry's format
// and multiline settings. It owns copies of what it holds across calls.
type decoder struct {
	format  string
	max     int
	ml      *collect.Multiline
	partial *event // container partial line being joined
	multi   *event // multiline event being joined
	last    time.Time

	// The raw format without multiline holds nothing across lines: its
	// event, returned in one, is reused line after line and points into
	// the reader's buffer, which saves two allocations and a copy per line.
	// The caller sends it before it reads the next line.
	scratch event
	one     [1]*event
}

func newDecoder(e collect.Entry) *decoder {
	return &decoder{format: e.Format, max: e.MaxLineBytes, ml: e.Multiline}
}

// add feeds one physical line and returns the events completed by it.
func (d *decoder) add(line []byte, start, end int64, truncated bool, now time.Time) []*event {
	d.last = now
	if d.ml == nil && (d.format == "raw" || d.format == "") {
		ev := &d.scratch
		*ev = event{msg: line, start: start, end: end, lines: 1, flags: ev.flags[:0]}
		if truncated {
			ev.flag(record.FlagTruncated)
		}
		d.one[0] = ev
		return d.one[:]
	}
	ev := &event{start: start, end: end, lines: 1}
	if truncated {
		ev.flag(record.FlagTruncated)
	}
	complete := true
	switch d.format {
	case "json":
		ev.msg = append([]byte(nil), line...)
		if json.Valid(line) && utf8.Valid(line) && bytes.HasPrefix(bytes.TrimSpace(line), []byte("{")) {
			ev.json = bytes.TrimSpace(ev.msg)
		} else {
			ev.flag(record.FlagInvalidJSON)
		}
	case "docker":
		complete = d.docker(ev, line)
	case "cri":
		complete = d.cri(ev, line)
	default:
		ev.msg = append([]byte(nil), line...)
	}
	if d.format == "docker" || d.format == "cri" {
		if d.partial != nil {
			p := d.partial
			p.msg = appendBounded(p.msg, ev.msg, d.max, p)
			p.end = end
			p.lines++
			for _, f := range ev.flags {
				p.flag(f)
			}
			ev = p
		}
		if !complete {
			d.partial = ev
			return nil
		}
		d.partial = nil
	}
	return d.multiline(ev)
}

func appendBounded(dst, b []byte, max int, ev *event) []byte {
	if room := max - len(dst); len(b) > room {
		b = b[:room]
		ev.flag(record.FlagTruncated)
	}
	return append(dst, b...)
}

func (d *decoder) multiline(ev *event) []*event {
	if d.ml == nil {
		return []*event{ev}
	}
	cont := d.ml.Regexp.Match(ev.msg) != d.ml.Negate
	var out []*event
	if d.ml.Match == "before" {
		if d.multi == nil {
			d.multi = ev
		} else {
			d.join(ev)
		}
		if !cont || d.multi.lines >= d.ml.MaxLines {
			out = append(out, d.takeMulti())
		}
		return out
	}
	// after: a continuation line joins the event before it.
	if d.multi != nil && cont && d.multi.lines < d.ml.MaxLines {
		d.join(ev)
		return nil
	}
	if d.multi != nil {
		out = append(out, d.takeMulti())
	}
	d.multi = ev
	return out
}

func (d *decoder) join(ev *event) {
	m := d.multi
	m.msg = appendBounded(m.msg, []byte{'\n'}, d.max, m)
	m.msg = appendBounded(m.msg, ev.msg, d.max, m)
	m.end = ev.end
	m.lines += ev.lines
	for _, f := range ev.flags {
		m.flag(f)
	}
}

func (d *decoder) takeMulti() *event {
	m := d.multi
	d.multi = nil
	if m.lines > 1 {
		m.flag(record.FlagMultiline)
	}
	return m
}

// expire returns events held longer than their flush timeout (multiline),
// and reports whether anything is still held.
func (d *decoder) expire(now time.Time) []*event {
	if d.multi != nil && d.partial == nil && now.Sub(d.last) >= d.ml.FlushTimeout {
		return []*event{d.takeMulti()}
	}
	return nil
}

// holding reports whether an incomplete event is buffered.
func (d *decoder) holding() bool { return d.multi != nil || d.partial != nil }

// reset drops held events (the file was truncated under them).
func (d *decoder) reset() { d.multi, d.partial = nil, nil }

type dockerLine struct {
	Log    string `json:"log"`
	Stream string `json:"stream"`
	Time   string `json:"time"`
}

// docker decodes the json-file driver's line; it reports whether the log
// text ended its line (the driver splits long lines into 16 KiB pieces
// without a trailing "\n").
func (d *decoder) docker(ev *event, line []byte) bool {
	var dl dockerLine
	if err := json.Unmarshal(line, &dl); err != nil {
		ev.msg = append([]byte(nil), line...)
		ev.flag(record.FlagInvalidJSON)
		return true
	}
	ev.stream = dl.Stream
	if ts, err := time.Parse(time.RFC3339Nano, dl.Time); err == nil {
		ev.ts = ts
	}
	complete := strings.HasSuffix(dl.Log, "\n")
	ev.msg = []byte(strings.TrimSuffix(dl.Log, "\n"))
	return complete
}

// cri decodes "<time> <stream> <P|F>[:...] <message>".
func (d *decoder) cri(ev *event, line []byte) bool {
	parts := bytes.SplitN(line, []byte{' '}, 4)
	if len(parts) < 3 {
		ev.msg = append([]byte(nil), line...)
		ev.flag(record.FlagInvalidJSON) // not CRI: kept raw and flagged
		return true
	}
	if ts, err := time.Parse(time.RFC3339Nano, string(parts[0])); err == nil {
		ev.ts = ts
	}
	ev.stream = string(parts[1])
	if len(parts) == 4 {
		ev.msg = append([]byte(nil), parts[3]...)
	} else {
		ev.msg = []byte{}
	}
	return !bytes.HasPrefix(parts[2], []byte("P"))
}

// kubernetesFromPath reads pod metadata from the kubelet's log paths:
// .../pods/<ns>_<pod>_<uid>/<container>/N.log and
// .../containers/<pod>_<ns>_<container>-<id>.log.
func kubernetesFromPath(p string) *record.Kubernetes {
	segs := strings.Split(filepath.ToSlash(p), "/")
	for i := len(segs) - 1; i >= 0; i-- {
		switch segs[i] {
		case "pods":
			if i+3 == len(segs)-1 {
				f := strings.SplitN(segs[i+1], "_", 3)
				if len(f) == 3 {
					return &record.Kubernetes{Namespace: f[0], PodName: f[1], PodUID: f[2], ContainerName: segs[i+2]}
				}
			}
		case "containers":
			if i+1 == len(segs)-1 {
				name := strings.TrimSuffix(segs[i+1], ".log")
				f := strings.SplitN(name, "_", 3)
				if len(f) == 3 {
					k := &record.Kubernetes{PodName: f[0], Namespace: f[1], ContainerName: f[2]}
					if j := strings.LastIndexByte(f[2], '-'); j > 0 {
						k.ContainerName, k.ContainerID = f[2][:j], f[2][j+1:]
					}
					return k
				}
			}
		}
	}
	return nil
}

// checkUTF8 flags messages the encoder will repair.
func checkUTF8(ev *event) {
	if !utf8.Valid(ev.msg) {
		ev.flag(record.FlagInvalidUTF8)
	}
}
