package record

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// TimeLayout is the @timestamp layout: RFC 3339 in UTC with milliseconds,
// which Elasticsearch's default date format parses.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// AppendJSON appends the record's JSON value to dst. It is hand-written
// rather than reflective because it runs once per log line on the agent's
// hot path; keys come out in a fixed order so equal records encode equally.
func (r *Record) AppendJSON(dst []byte) []byte {
	return r.AppendJSONCached(dst, nil)
}

// SourceJSON caches the encoding of a record's host and log.file fields,
// and of its pod metadata, which every line of a file shares:
// AppendJSONCached encodes them again only when they change. The zero
// value is ready; not safe for concurrent use.
type SourceJSON struct {
	name, ip, path, fileID string
	inode, device          uint64
	json                   []byte // from `,"host":` to `"offset":`; nil until filled

	// The pod metadata is never modified once built (Kubernetes), so the
	// pointer names its encoding; holding it keeps its address from being
	// reused by another.
	k8s     *Kubernetes
	k8sJSON []byte

	// The lines of a read share their read time, and a log's lines
	// mostly their second: @timestamp and event.created reuse the text
	// of the last second each.
	timestamp, created secondText

	// keys are the last record's parsed keys as encoded, `"key":`, by
	// position: a parser sets the same keys line after line. Compared by
	// content (a key may lie in a buffer that is reused); keys that need
	// escaping are not kept.
	keys [][]byte
}

// maxKeys bounds the parsed keys a SourceJSON keeps.
const maxKeys = 32

// appendKey appends `"key":` for the i-th parsed field.
func (c *SourceJSON) appendKey(dst []byte, i int, key string) []byte {
	if i < len(c.keys) {
		if k := c.keys[i]; len(k) == len(key)+3 && string(k[1:len(k)-2]) == key {
			return append(dst, k...)
		}
	}
	from := len(dst)
	dst = append(AppendString(dst, key), ':')
	if i < maxKeys && len(dst)-from == len(key)+3 {
		for len(c.keys) <= i {
			c.keys = append(c.keys, nil)
		}
		c.keys[i] = append(c.keys[i][:0], dst[from:]...)
	}
	return dst
}

// secondText is the encoding of one second in TimeLayout, up to its
// fraction ("2006-01-02T15:04:05.").
type secondText struct {
	unix int64
	text []byte // nil until filled
}

// appendTimestamp is AppendTimestamp, reusing the second's text when t
// falls in the same second as the last time.
func (c *secondText) appendTimestamp(dst []byte, t time.Time) []byte {
	unix := t.Unix()
	if c.text == nil || unix != c.unix {
		text := AppendTimestamp(c.text[:0], t)
		if len(text) != len(TimeLayout)-len("Z07:00")+1 { // a year of other than four digits: not cached
			c.text = nil
			return append(dst, text...)
		}
		c.unix, c.text = unix, text[:len(text)-len("000Z")]
	}
	ms := t.Nanosecond() / 1e6
	dst = append(dst, c.text...)
	return append(dst, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

func (c *SourceJSON) matches(r *Record) bool {
	return c.json != nil && c.name == r.HostName && c.ip == r.HostIP && c.path == r.Path && c.fileID == r.FileID && c.inode == r.Inode && c.device == r.Device
}

// AppendJSONCached is AppendJSON taking the host and log.file fields from
// c (nil: encoded afresh), refilled whenever r's differ.
func (r *Record) AppendJSONCached(dst []byte, c *SourceJSON) []byte {
	dst = append(dst, `{"@timestamp":"`...)
	if c == nil {
		dst = AppendTimestamp(dst, r.Timestamp)
	} else {
		dst = c.timestamp.appendTimestamp(dst, r.Timestamp)
	}
	dst = append(dst, `","message":`...)
	var msgEscapes *escapes
	if len(r.Parsed) > 0 {
		msgEscapes = &escapes{msg: r.Message}
	}
	dst = appendString(dst, r.Message, msgEscapes)

	if c == nil {
		dst = r.appendSource(dst)
	} else {
		if !c.matches(r) {
			c.name, c.ip, c.path, c.fileID, c.inode, c.device = r.HostName, r.HostIP, r.Path, r.FileID, r.Inode, r.Device
			c.json = r.appendSource(c.json[:0])
		}
		dst = append(dst, c.json...)
	}
	dst = strconv.AppendInt(dst, r.Offset, 10)
	if r.End > r.Offset {
		dst = append(dst, `,"end_offset":`...)
		dst = strconv.AppendInt(dst, r.End, 10)
	}
	if len(r.Flags) > 0 {
		dst = append(dst, `,"flags":[`...)
		for i, f := range r.Flags {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, f)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, '}')

	if len(r.Fields) > 0 {
		dst = append(dst, `,"fields":`...)
		dst = AppendObject(dst, r.Fields, AppendString)
	}
	if len(r.JSON) > 0 {
		dst = append(dst, `,"json":`...)
		dst = append(dst, r.JSON...)
	}
	if len(r.Parsed) > 0 {
		dst = append(dst, `,"parsed":{`...)
		for i := range r.Parsed {
			if i > 0 {
				dst = append(dst, ',')
			}
			f := &r.Parsed[i]
			if c != nil {
				dst = c.appendKey(dst, i, f.Key)
			} else {
				dst = append(AppendString(dst, f.Key), ':')
			}
			if f.Kind == KindString && msgEscapes.plainPiece(f.Str) {
				dst = append(dst, '"')
				dst = append(dst, f.Str...)
				dst = append(dst, '"')
			} else {
				dst = f.AppendValue(dst)
			}
		}
		dst = append(dst, '}')
	}
	if r.Stream != "" {
		dst = append(dst, `,"stream":`...)
		dst = AppendString(dst, r.Stream)
	}
	if k := r.Kubernetes; k != nil {
		switch {
		case c == nil:
			dst = k.appendJSON(dst)
		case c.k8s == k:
			dst = append(dst, c.k8sJSON...)
		default:
			c.k8s, c.k8sJSON = k, k.appendJSON(c.k8sJSON[:0])
			dst = append(dst, c.k8sJSON...)
		}
	}
	if r.ExtraKey != "" && len(r.Extra) > 0 {
		dst = append(dst, ',')
		dst = AppendString(dst, r.ExtraKey)
		dst = append(dst, ':')
		dst = AppendObject(dst, r.Extra, AppendString)
	}

	dst = append(dst, `,"event":{"id":`...)
	dst = AppendString(dst, r.EventID)
	if !r.Created.IsZero() {
		dst = append(dst, `,"created":"`...)
		if c == nil {
			dst = AppendTimestamp(dst, r.Created)
		} else {
			dst = c.created.appendTimestamp(dst, r.Created)
		}
		dst = append(dst, '"')
	}
	dst = append(dst, `}}`...)
	return dst
}

// appendSource appends the fields of r that a file's lines share, up to
// the log's offset.
func (r *Record) appendSource(dst []byte) []byte {
	dst = append(dst, `,"host":{"name":`...)
	dst = AppendString(dst, r.HostName)
	dst = append(dst, `,"ip":`...)
	dst = AppendString(dst, r.HostIP)
	dst = append(dst, '}')

	dst = append(dst, `,"log":{"file":{"path":`...)
	dst = AppendString(dst, r.Path)
	dst = append(dst, `,"inode":`...)
	dst = strconv.AppendUint(dst, r.Inode, 10)
	dst = append(dst, `,"device":`...)
	dst = strconv.AppendUint(dst, r.Device, 10)
	if r.FileID != "" {
		dst = append(dst, `,"id":`...)
		dst = AppendString(dst, r.FileID)
	}
	return append(dst, `},"offset":`...)
}

// appendKVs appends name and kvs as an object, nothing when kvs is empty.
func appendKVs(dst []byte, name string, kvs []KV) []byte {
	if len(kvs) == 0 {
		return dst
	}
	dst = append(dst, name...)
	for i, kv := range kvs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, kv.Key)
		dst = append(dst, ':')
		dst = AppendString(dst, kv.Value)
	}
	return append(dst, '}')
}

// AppendTimestamp appends t in TimeLayout. It writes the digits itself:
// time.AppendFormat parses the layout on every call, which was a fifth of
// the encoding cost of a line.
func AppendTimestamp(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, TimeLayout)
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	return append(dst,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-', byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// AppendObject appends m as a JSON object with its keys sorted (as
// encoding/json writes maps), each value written by value.
func AppendObject[V any](dst []byte, m map[string]V, value func([]byte, V) []byte) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, k)
		dst = append(dst, ':')
		dst = value(dst, m[k])
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

const ones, highs = 0x0101010101010101, 0x8080808080808080

// specials has the high bit set of each of x's 8 bytes that ends or
// interrupts a JSON string's plain run: '"', '\\', a control character or
// a byte that is not ASCII. (v - ones*n) &^ v has a high bit set where a
// byte of v is below n; a borrow may also set bits above such a byte, never
// below, so the lowest bit set is exact.
func specials(x uint64) uint64 {
	quote, bslash := x^(ones*'"'), x^(ones*'\\')
	return ((x-ones*0x20)&^x | (quote-ones)&^quote | (bslash-ones)&^bslash | x) & highs
}

// nextSpecial returns the index of the first byte at or after i that
// AppendString cannot copy as it is, or len(s). It tests 8 bytes at a time
// (a byte at a time made escaping the largest part of encoding a record)
// and jumps straight to the byte it finds; the last few bytes, and
// strings shorter than 8 bytes (most keys and parsed values), are one more
// word, not a byte loop.
func nextSpecial(s string, i int) int {
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	for ; i+8 <= len(b); i += 8 {
		if m := specials(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	if i >= len(b) {
		return len(b)
	}
	// Fewer than 8 bytes left: one word of them, topped up with spaces.
	var x uint64
	if len(b) >= 8 {
		// The string's last 8 bytes, shifted so that the word starts at
		// i: a byte before i would borrow into the bytes after it.
		sh := 8 * (8 - (len(b) - i))
		x = binary.LittleEndian.Uint64(b[len(b)-8:])>>sh | ones*' '<<(64-sh)
	} else {
		x = ones * ' '
		for k := len(b) - 1; k >= i; k-- {
			x = x<<8 | uint64(b[k])
		}
	}
	if m := specials(x); m != 0 {
		return i + bits.TrailingZeros64(m)/8
	}
	return len(b)
}

// AppendString appends s as a JSON string. Bytes that are not valid UTF-8
// become U+FFFD and control characters (NUL included) are escaped, so any
// input line yields valid JSON.
func AppendString(dst []byte, s string) []byte { return appendString(dst, s, nil) }

// escapes notes where a message had bytes to escape, so that the parsed
// fields cut from it (most of them, and most of its bytes again) are not
// scanned a second time.
type escapes struct {
	msg string
	n   int     // escapes seen; more than len(at): too many to note, or a byte that is not ASCII
	at  [16]int // where, in msg
}

// plainPiece reports whether s lies in the message's bytes with none
// to escape: encoded, it is s between quotes. A message that is not all
// ASCII has no plain pieces (one could start inside a rune).
func (e *escapes) plainPiece(s string) bool {
	if e == nil || e.n > len(e.at) || len(s) == 0 {
		return false
	}
	p, m := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(e.msg)))
	if p < m || p+uintptr(len(s)) > m+uintptr(len(e.msg)) {
		return false
	}
	from, to := int(p-m), int(p-m)+len(s)
	for _, at := range e.at[:e.n] { // in order
		if at >= from {
			return at >= to
		}
	}
	return true
}

// appendString is AppendString noting in e (if not nil) where s had bytes
// to escape.
func appendString(dst []byte, s string, e *escapes) []byte {
	dst = append(dst, '"')
	start := 0
	for i := nextSpecial(s, 0); i < len(s); i = nextSpecial(s, i) {
		c := s[i]
		if e != nil {
			if e.n < len(e.at) && c < utf8.RuneSelf {
				e.at[e.n] = i
				e.n++
			} else {
				e.n = len(e.at) + 1
			}
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript consumers.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// ValidUTF8 reports whether s needs no replacement; the agent uses it to set
// FlagInvalidUTF8.
func ValidUTF8(s string) bool { return utf8.ValidString(s) }

// appendJSON appends the record's `,"kubernetes":{…}` member.
func (k *Kubernetes) appendJSON(dst []byte) []byte {
	dst = append(dst, `,"kubernetes":{"namespace":`...)
	dst = AppendString(dst, k.Namespace)
	dst = append(dst, `,"pod":{"name":`...)
	dst = AppendString(dst, k.PodName)
	dst = append(dst, `,"uid":`...)
	dst = AppendString(dst, k.PodUID)
	dst = append(dst, `},"container":{"name":`...)
	dst = AppendString(dst, k.ContainerName)
	dst = append(dst, `,"id":`...)
	dst = AppendString(dst, k.ContainerID)
	dst = append(dst, '}')
	if k.NodeName != "" {
		dst = append(dst, `,"node":{"name":`...)
		dst = AppendString(dst, k.NodeName)
		dst = append(dst, '}')
	}
	dst = appendKVs(dst, `,"labels":{`, k.Labels)
	dst = appendKVs(dst, `,"annotations":{`, k.Annotations)
	return append(dst, '}')
}
