// Package record is the contract between logagent and logtransfer: the JSON
// value of a Kafka record, its deterministic event id, and the cheap peek the
// transfer does to route and identify a value without decoding all of it.
//
// The shape follows ECS names so Kibana users find @timestamp, message,
// host.*, log.* and event.id where they expect them (see shared DESIGN.md).
package record

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"strconv"
	"time"
)

// Flags say why a record is not a plain, complete line. They are indexed as
// log.flags so an operator can find every cut or unparsable line.
const (
	FlagTruncated   = "truncated"    // the line was longer than max_line_bytes and was cut
	FlagPartial     = "partial"      // the last line had no newline and was sent after a flush timeout
	FlagInvalidJSON = "invalid_json" // format=json but the line did not parse; message holds it raw
	FlagInvalidUTF8 = "invalid_utf8" // bytes that are not UTF-8 were replaced by U+FFFD
	FlagMultiline   = "multiline"    // several physical lines joined into one event

	// Set by processors (see logagent's internal/processor).
	FlagParseFailed     = "parse_failed"     // a parse processor did not match; message is kept as read
	FlagTimestampFailed = "timestamp_failed" // no parsable time; @timestamp is the read time
	FlagFieldsCapped    = "fields_capped"    // the line had more parsed fields than kept
	FlagProcessorError  = "processor_error"  // a processor failed; the line went on unprocessed
)

// Record is one log event as the agent sends it to Kafka.
type Record struct {
	Timestamp time.Time
	Message   string // any bytes; the encoder makes them valid JSON

	HostName string
	HostIP   string

	Path   string
	Device uint64
	Inode  uint64
	// FileID is the agent's id of the file's generation (its Kafka key,
	// hashed into EventID), encoded as log.file.id when set: the delivery
	// audit finds a generation's documents by it, whatever inode or name
	// the file had when each line was read (a copytruncate copy goes on
	// under its original's id).
	FileID string
	Offset int64 // byte offset of the start of the line in the file
	// End is the offset just past the line (its newline included), where
	// the next one starts; encoded as log.end_offset when above Offset.
	// The delivery audit names the byte ranges that no document covers
	// from the documents' offset and end_offset.
	End int64

	Flags  []string
	Fields map[string]string // static fields from the collect entry

	// JSON is a parsed JSON object (format=json) placed under "json"; it must
	// already be a valid JSON object.
	JSON []byte
	// Parsed holds the fields processors parsed from the line, encoded in
	// this order as one object under "parsed"; keys must be unique.
	Parsed []Field
	// Stream is stdout/stderr for container formats (docker, cri).
	Stream     string
	Kubernetes *Kubernetes
	// Extra holds input-specific fields (journald: unit, priority, ...),
	// encoded as one object under the key ExtraKey.
	ExtraKey string
	Extra    map[string]string

	EventID string
	// Created is when the agent read the line, encoded as event.created
	// when set: a timestamp processor moves @timestamp to the time the log
	// line itself states.
	Created time.Time
}

// Kind is the JSON type of a Field's value.
type Kind uint8

const (
	KindString Kind = iota
	KindInt
	KindFloat
)

// Field is one parsed value. Only the member its Kind names is used, so
// a number stays a number in the document (Elasticsearch maps it as one).
type Field struct {
	Key   string
	Kind  Kind
	Str   string
	Int   int64
	Float float64
}

// StringField, IntField and FloatField build a Field of their kind.
func StringField(key, v string) Field        { return Field{Key: key, Kind: KindString, Str: v} }
func IntField(key string, v int64) Field     { return Field{Key: key, Kind: KindInt, Int: v} }
func FloatField(key string, v float64) Field { return Field{Key: key, Kind: KindFloat, Float: v} }

// AppendValue appends the field's value as JSON. A float that JSON cannot
// hold (NaN, ±Inf) is null. A whole float keeps a fraction (3.0, not 3):
// Elasticsearch maps a field by its first value, and a request_time of
// 0.000 written as 0 would make it a long that truncates every later 0.25.
func (f *Field) AppendValue(dst []byte) []byte {
	switch f.Kind {
	case KindInt:
		return strconv.AppendInt(dst, f.Int, 10)
	case KindFloat:
		if math.IsNaN(f.Float) || math.IsInf(f.Float, 0) {
			return append(dst, "null"...)
		}
		start := len(dst)
		dst = strconv.AppendFloat(dst, f.Float, 'g', -1, 64)
		if !bytes.ContainsAny(dst[start:], ".e") {
			dst = append(dst, ".0"...)
		}
		return dst
	}
	return AppendString(dst, f.Str)
}

// Kubernetes is the pod metadata of a record: what a container log path
// reveals, and with [kubernetes] enabled what the API server says of the pod
// (node, the labels and annotations the include lists chose). Values are
// shared by every record of a file: never modified once built.
type Kubernetes struct {
	Namespace     string
	PodName       string
	PodUID        string
	ContainerName string
	ContainerID   string
	NodeName      string
	// Labels and Annotations are sorted by key; keys are de-dotted
	// (app.kubernetes.io/name → app_kubernetes_io/name) so Elasticsearch
	// does not read them as object paths that conflict (app vs app.x).
	Labels      []KV
	Annotations []KV
}

// KV is one label or annotation.
type KV struct{ Key, Value string }

// EventID derives the deterministic id of an event from where it was read:
// the same line of the same file on the same host always gets the same id,
// so a record sent twice (at-least-once delivery) is indexed once.
// hostID is the agent's host identity, stable across restarts and IP
// changes (see the agent's host_id; not the IP, which DHCP or a moved VM
// changes between a send and its re-send). source identifies the stream (a
// file id, a journal cursor); position is the line's start offset, or 0
// where source alone is unique. A file's lines add their head to the hash
// (EventIDs.AppendLineID): an offset names a line only while the file's
// bytes there stay the same.
//
// The id is the hex FNV-1a 128 hash of hostID, NUL, source, NUL and the
// decimal position (the values of hash/fnv's New128a; fnv128 computes them
// without allocating). Agents before host ids hashed the IP in hostID's
// place; an upgraded agent adopts that IP as its host id, so ids continue.
func EventID(hostID, source string, position int64) string {
	return NewEventIDs(hostID, source).ID(position)
}

// EventIDs derives the EventID of many positions of one source: the hash
// of (hostID, source) is computed once, not per line.
type EventIDs struct {
	prefix fnv128 // the hash state after hostID and source
}

// NewEventIDs prepares EventID(hostID, source, ·).
func NewEventIDs(hostID, source string) *EventIDs {
	h := newFNV128()
	h.writeString(hostID)
	h.writeByte(0)
	h.writeString(source)
	h.writeByte(0)
	return &EventIDs{prefix: h}
}

// ID is EventID(hostID, source, position). Safe for concurrent use.
func (e *EventIDs) ID(position int64) string {
	return string(e.AppendID(nil, position))
}

// EventIDLen is the length of an event id.
const EventIDLen = 32

// AppendID appends ID(position) to dst: a caller that needs many ids can
// keep them in one allocation.
func (e *EventIDs) AppendID(dst []byte, position int64) []byte {
	h := e.at(position)
	return hex.AppendEncode(dst, h.sum())
}

// at is the hash state after the prefix and the decimal position.
func (e *EventIDs) at(position int64) fnv128 {
	h := e.prefix
	var digits [20]byte
	for _, c := range strconv.AppendInt(digits[:0], position, 10) {
		h.writeByte(c)
	}
	return h
}

// LineHeadLen is how many bytes of a line's start its id covers (see
// AppendLineID).
const LineHeadLen = 64

// AppendLineID appends the id of a line (or multiline event) of a file
// read at position whose text is msg: ID(position) extended by a NUL and
// the CRC-32C of msg's head, its first line up to LineHeadLen bytes.
//
// Why the content: position alone names a line only while the bytes at
// that offset stay the same. A file truncated and written again behind an
// unchanged header while the agent is down (lines sent, their checkpoint
// not yet saved) is resumed under the same generation, and its new lines
// start at offsets that lines sent before the crash had: under one id the
// later would replace the earlier in Elasticsearch. With the head in the
// id they are two documents; the same bytes read again (a re-send after a
// crash, a copytruncate copy continued under its original's id) still
// give the same id. The head and not all of msg: a partial line flushed by
// its timeout, or a multiline event flushed before its last line, that a
// restart reads whole keeps its id when the piece held its first line or
// LineHeadLen bytes of it.
func (e *EventIDs) AppendLineID(dst []byte, position int64, msg []byte) []byte {
	head := msg[:min(len(msg), LineHeadLen)]
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	h := e.at(position)
	h.writeByte(0)
	sum := crc32.Checksum(head, castagnoli)
	for i := 24; i >= 0; i -= 8 {
		h.writeByte(byte(sum >> i))
	}
	return hex.AppendEncode(dst, h.sum())
}

// castagnoli is CRC-32C's table: the instruction SSE 4.2 and ARMv8 have,
// a few nanoseconds for a line's head.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MaxHostIDLen bounds a host id: long enough for a UUID, a machine id or
// an IPv6 address, short enough to hash per source without thought.
const MaxHostIDLen = 128

// CheckHostID reports what is wrong with a host id: it must be 1 to
// MaxHostIDLen printable ASCII characters without spaces, so it survives
// ini files, JSON and logs unchanged (a changed byte is a new host).
func CheckHostID(id string) error {
	if id == "" {
		return errors.New("empty")
	}
	if len(id) > MaxHostIDLen {
		return fmt.Errorf("%d bytes, more than %d", len(id), MaxHostIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("byte %d (%#02x) is not printable ASCII without spaces", i, c)
		}
	}
	return nil
}

// fnv128 is the FNV-1a 128-bit hash state, as hash/fnv computes it.
type fnv128 struct{ hi, lo uint64 }

const (
	fnv128OffsetHi = 0x6c62272e07bb0142
	fnv128OffsetLo = 0x62b821756295c58d
	fnv128PrimeLo  = 0x13b // the prime is 2^88 + 0x13b
	fnv128PrimeHi  = 1 << (88 - 64)
)

func newFNV128() fnv128 { return fnv128{fnv128OffsetHi, fnv128OffsetLo} }

func (h *fnv128) writeByte(c byte) {
	h.lo ^= uint64(c)
	// (hi, lo) * prime mod 2^128
	carry, lo := bits.Mul64(h.lo, fnv128PrimeLo)
	hi := h.hi*fnv128PrimeLo + carry + h.lo*fnv128PrimeHi
	h.hi, h.lo = hi, lo
}

func (h *fnv128) writeString(s string) {
	for i := 0; i < len(s); i++ {
		h.writeByte(s[i])
	}
}

func (h *fnv128) sum() []byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], h.hi)
	binary.BigEndian.PutUint64(b[8:], h.lo)
	return b[:]
}
