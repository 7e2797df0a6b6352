package checkpoint

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/logcollect/logcollect/pkg/record"
)

// appendJSON appends st as encoding/json would write it (same fields, same
// order, map keys sorted, times in RFC 3339 with nanoseconds), without
// reflection: the store is saved every checkpoint_interval, and with 1,000
// files json.Marshal was a twentieth of the agent's CPU. Strings go through
// the record encoder, which escapes them as JSON requires (it leaves <, >
// and & as they are, where encoding/json writes \u003c and so on: the same
// values). The file is read back with encoding/json (Open).
func (st *state) appendJSON(b []byte) []byte {
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, int64(st.Version), 10)
	b = append(b, `,"files":`...)
	b = appendKeyMap(b, st.Files, appendEntry)
	b = append(b, `,"seen":`...)
	b = appendMap(b, st.Seen, record.AppendString)
	if len(st.Cursors) > 0 {
		b = append(b, `,"cursors":`...)
		b = appendKeyMap(b, st.Cursors, appendCursor)
	}
	if len(st.Topics) > 0 {
		b = append(b, `,"topics":`...)
		b = appendMap(b, st.Topics, record.AppendString)
	}
	return append(b, '}')
}

// appendMap writes m as a JSON object with sorted keys; a nil map is null,
// as encoding/json writes it.
func appendMap[V any](b []byte, m map[string]V, value func([]byte, V) []byte) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	return record.AppendObject(b, m, value)
}

// appendKeyMap is appendMap for a map keyed by Key: the keys are written,
// and sorted, in their form in the file (Key.String). Their text is built
// in one buffer rather than a string per key (a save of 1,000 files took
// twice as long with them).
func appendKeyMap[V any](b []byte, m map[Key]V, value func([]byte, V) []byte) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	type keyed struct {
		k        Key
		from, to int // its text in text
	}
	all := make([]keyed, 0, len(m))
	var buf []byte
	for k := range m {
		from := len(buf)
		buf = k.appendTo(buf)
		all = append(all, keyed{k, from, len(buf)})
	}
	text := string(buf)
	slices.SortFunc(all, func(x, y keyed) int { return strings.Compare(text[x.from:x.to], text[y.from:y.to]) })
	b = append(b, '{')
	for i, e := range all {
		if i > 0 {
			b = append(b, ',')
		}
		b = record.AppendString(b, text[e.from:e.to])
		b = append(b, ':')
		b = value(b, m[e.k])
	}
	return append(b, '}')
}

func appendEntry(b []byte, e Entry) []byte {
	b = append(b, `{"id":`...)
	b = record.AppendString(b, e.ID)
	b = append(b, `,"path":`...)
	b = record.AppendString(b, e.Path)
	b = append(b, `,"device":`...)
	b = strconv.AppendUint(b, e.Device, 10)
	b = append(b, `,"inode":`...)
	b = strconv.AppendUint(b, e.Inode, 10)
	b = append(b, `,"fp_len":`...)
	b = strconv.AppendInt(b, int64(e.FPLen), 10)
	b = append(b, `,"fp":`...)
	b = record.AppendString(b, e.FP)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, e.Offset, 10)
	b = append(b, `,"updated":`...)
	b = appendTime(b, e.Updated)
	if e.Born != 0 {
		b = append(b, `,"born":`...)
		b = strconv.AppendInt(b, e.Born, 10)
	}
	if e.TailOff != 0 {
		b = append(b, `,"tail_off":`...)
		b = strconv.AppendInt(b, e.TailOff, 10)
	}
	if e.Tail != "" {
		b = append(b, `,"tail":`...)
		b = record.AppendString(b, e.Tail)
	}
	if c := e.Counts; c != nil {
		b = append(b, `,"counts":{"since":`...)
		b = strconv.AppendInt(b, c.Since, 10)
		b = append(b, `,"events":`...)
		b = strconv.AppendUint(b, c.Events, 10)
		b = append(b, `,"dropped":`...)
		b = strconv.AppendUint(b, c.Dropped, 10)
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendCursor(b []byte, c Cursor) []byte {
	b = append(b, `{"cursor":`...)
	b = record.AppendString(b, c.Cursor)
	b = append(b, `,"source":`...)
	b = record.AppendString(b, c.Source)
	b = append(b, `,"topic":`...)
	b = record.AppendString(b, c.Topic)
	b = append(b, `,"updated":`...)
	b = appendTime(b, c.Updated)
	return append(b, '}')
}

// appendTime writes t as time.Time's MarshalJSON does.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
