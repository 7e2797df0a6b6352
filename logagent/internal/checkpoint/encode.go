package checkpoint

import (
	"strconv"
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
	b = appendMap(b, st.Files, appendEntry)
	b = append(b, `,"seen":`...)
	b = appendMap(b, st.Seen, record.AppendString)
	if len(st.Cursors) > 0 {
		b = append(b, `,"cursors":`...)
		b = appendMap(b, st.Cursors, appendCursor)
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
	if e.TailOff != 0 {
		b = append(b, `,"tail_off":`...)
		b = strconv.AppendInt(b, e.TailOff, 10)
	}
	if e.Tail != "" {
		b = append(b, `,"tail":`...)
		b = record.AppendString(b, e.Tail)
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
