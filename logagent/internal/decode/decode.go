// Package decode turns the physical lines of a log file into log events,
// according to a collect entry's format (raw, json, docker json-file, CRI)
// and multiline settings: container partial lines and multiline events are
// joined, max_line_bytes cuts what is joined, and every cut, invalid JSON
// or invalid UTF-8 is flagged on the event. It does not read files (see
// linereader), build records, or know about offsets beyond carrying the
// span of bytes each event covers.
package decode

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/pkg/record"
)

// Event is one log event on its way to a record: one line, or several
// joined (container partials, multiline), with the span of bytes it covers.
type Event struct {
	Msg    []byte
	Start  int64     // offset of its first byte: the record's log.offset and event.id position
	End    int64     // offset after its last line: where the checkpoint may move once acked
	Time   time.Time // the time the line carries (docker, cri); zero: none
	Stream string    // stdout or stderr (docker, cri)
	JSON   []byte    // the line itself when it is a valid JSON object (json)
	Flags  []string
	Lines  int // physical lines joined into it
}

func (e *Event) Flag(f string) {
	for _, x := range e.Flags {
		if x == f {
			return
		}
	}
	e.Flags = append(e.Flags, f)
}

// Decoder turns physical lines into events according to the entry's format
// and multiline settings. It owns copies of what it holds across calls.
type Decoder struct {
	format  string
	max     int
	ml      *collect.Multiline
	partial *Event // container partial line being joined
	multi   *Event // multiline event being joined
	last    time.Time

	// The raw format without multiline holds nothing across Lines: its
	// event, returned in one, is reused line after line and points into
	// the reader's buffer, which saves two allocations and a copy per line.
	// The caller sends it before it reads the next line. Docker and CRI
	// lines without multiline use it too when complete (see container),
	// docker's decoded message in buf.
	scratch Event
	one     [1]*Event
	buf     []byte
}

// New returns a decoder of format (raw when empty), cutting joined events
// at maxBytes; ml, when set, joins lines into multiline events.
func New(format string, maxBytes int, ml *collect.Multiline) *Decoder {
	return &Decoder{format: format, max: maxBytes, ml: ml}
}

// Add feeds one physical line and returns the events completed by it.
func (d *Decoder) Add(line []byte, start, end int64, truncated bool, now time.Time) []*Event {
	d.last = now
	if d.ml == nil && (d.format == "raw" || d.format == "") {
		ev := &d.scratch
		*ev = Event{Msg: line, Start: start, End: end, Lines: 1, Flags: ev.Flags[:0]}
		if truncated {
			ev.Flag(record.FlagTruncated)
		}
		d.one[0] = ev
		return d.one[:]
	}
	if d.format == "docker" || d.format == "cri" {
		return d.container(line, start, end, truncated)
	}
	ev := &Event{Start: start, End: end, Lines: 1}
	if truncated {
		ev.Flag(record.FlagTruncated)
	}
	switch d.format {
	case "json":
		ev.Msg = append([]byte(nil), line...)
		if json.Valid(line) && utf8.Valid(line) && bytes.HasPrefix(bytes.TrimSpace(line), []byte("{")) {
			ev.JSON = bytes.TrimSpace(ev.Msg)
		} else {
			ev.Flag(record.FlagInvalidJSON)
		}
	default:
		ev.Msg = append([]byte(nil), line...)
	}
	return d.multiline(ev)
}

// container decodes a docker or CRI line and joins partial lines. The line
// is decoded into the scratch event, its message in line or d.buf, as the
// raw format does: it is returned as is when complete, alone and without
// multiline; an event that is held (a partial line, any event with
// multiline) is a copy that owns its message and flags.
func (d *Decoder) container(line []byte, start, end int64, truncated bool) []*Event {
	ev := &d.scratch
	*ev = Event{Start: start, End: end, Lines: 1, Flags: ev.Flags[:0]}
	if truncated {
		ev.Flag(record.FlagTruncated)
	}
	var complete bool
	if d.format == "docker" {
		complete = d.docker(ev, line)
	} else {
		complete = d.cri(ev, line)
	}
	if p := d.partial; p != nil {
		p.Msg = appendBounded(p.Msg, ev.Msg, d.max, p)
		p.End = end
		p.Lines++
		for _, f := range ev.Flags {
			p.Flag(f)
		}
		ev = p
	} else if !complete || d.ml != nil {
		own := *ev
		own.Msg = append([]byte{}, ev.Msg...)
		own.Flags = slices.Clone(ev.Flags)
		ev = &own
	}
	if !complete {
		d.partial = ev
		return nil
	}
	d.partial = nil
	return d.multiline(ev)
}

func appendBounded(dst, b []byte, max int, ev *Event) []byte {
	if room := max - len(dst); len(b) > room {
		b = b[:room]
		ev.Flag(record.FlagTruncated)
	}
	return append(dst, b...)
}

func (d *Decoder) multiline(ev *Event) []*Event {
	if d.ml == nil {
		d.one[0] = ev // the caller is done with it before the next Add
		return d.one[:]
	}
	cont := d.ml.Regexp.Match(ev.Msg) != d.ml.Negate
	var out []*Event
	if d.ml.Match == "before" {
		if d.multi == nil {
			d.multi = ev
		} else {
			d.join(ev)
		}
		if !cont || d.multi.Lines >= d.ml.MaxLines {
			out = append(out, d.takeMulti())
		}
		return out
	}
	// after: a continuation line joins the event before it.
	if d.multi != nil && cont && d.multi.Lines < d.ml.MaxLines {
		d.join(ev)
		return nil
	}
	if d.multi != nil {
		out = append(out, d.takeMulti())
	}
	d.multi = ev
	return out
}

func (d *Decoder) join(ev *Event) {
	m := d.multi
	m.Msg = appendBounded(m.Msg, []byte{'\n'}, d.max, m)
	m.Msg = appendBounded(m.Msg, ev.Msg, d.max, m)
	m.End = ev.End
	m.Lines += ev.Lines
	for _, f := range ev.Flags {
		m.Flag(f)
	}
}

func (d *Decoder) takeMulti() *Event {
	m := d.multi
	d.multi = nil
	if m.Lines > 1 {
		m.Flag(record.FlagMultiline)
	}
	return m
}

// Expire returns a multiline event held longer than its flush timeout.
func (d *Decoder) Expire(now time.Time) []*Event {
	if d.multi != nil && d.partial == nil && now.Sub(d.last) >= d.ml.FlushTimeout {
		return []*Event{d.takeMulti()}
	}
	return nil
}

// Holding reports whether an incomplete event is buffered.
func (d *Decoder) Holding() bool { return d.multi != nil || d.partial != nil }

// Reset drops held events (the file was truncated under them).
func (d *Decoder) Reset() { d.multi, d.partial = nil, nil }

type dockerLine struct {
	Log    string `json:"log"`
	Stream string `json:"stream"`
	Time   string `json:"time"`
}

// docker decodes the json-file driver's line; it reports whether the log
// text ended its line (the driver splits long lines into 16 KiB pieces
// without a trailing "\n"). Lines of the usual shape take dockerFast;
// encoding/json decodes the rest, and defines what both produce.
func (d *Decoder) docker(ev *Event, line []byte) bool {
	if complete, ok := dockerFast(ev, line, d.buf[:0]); ok {
		d.buf = ev.Msg[:0] // keeps what it grew to
		return complete
	}
	ev.Msg, ev.Stream, ev.Time = nil, "", time.Time{}
	return dockerJSON(ev, line)
}

func dockerJSON(ev *Event, line []byte) bool {
	var dl dockerLine
	if err := json.Unmarshal(line, &dl); err != nil {
		ev.Msg = line
		ev.Flag(record.FlagInvalidJSON)
		return true
	}
	ev.Stream = dl.Stream
	if ts, err := time.Parse(time.RFC3339Nano, dl.Time); err == nil {
		ev.Time = ts
	}
	complete := strings.HasSuffix(dl.Log, "\n")
	ev.Msg = []byte(strings.TrimSuffix(dl.Log, "\n"))
	return complete
}

// cri decodes "<time> <stream> <P|F>[:...] <message>" by index; the
// message stays in line.
func (d *Decoder) cri(ev *Event, line []byte) bool {
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := -1
	if sp1 >= 0 {
		sp2 = bytes.IndexByte(line[sp1+1:], ' ')
	}
	if sp2 < 0 {
		ev.Msg = line
		ev.Flag(record.FlagInvalidJSON) // not CRI: kept raw and flagged
		return true
	}
	sp2 += sp1 + 1
	if ts, err := record.ParseTimestamp(line[:sp1]); err == nil {
		ev.Time = ts
	}
	ev.Stream = streamName(line[sp1+1 : sp2])
	tag, msg := line[sp2+1:], []byte(nil)
	if sp3 := bytes.IndexByte(tag, ' '); sp3 >= 0 {
		tag, msg = tag[:sp3], tag[sp3+1:]
	}
	ev.Msg = msg
	return !bytes.HasPrefix(tag, []byte("P"))
}

// CheckUTF8 flags a message the record encoder will repair.
func (e *Event) CheckUTF8() {
	if !utf8.Valid(e.Msg) {
		e.Flag(record.FlagInvalidUTF8)
	}
}
