// Package record is the contract between logagent and logtransfer: the JSON
// value of a Kafka record, its deterministic event id, and the cheap peek the
// transfer does to route and identify a value without decoding all of it.
//
// The shape follows ECS names so Kibana users find @timestamp, message,
// host.*, log.* and event.id where they expect them (see shared DESIGN.md).
package record

import (
	"encoding"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/fnv"
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
	Offset int64 // byte offset of the start of the line in the file

	Flags  []string
	Fields map[string]string // static fields from the collect entry

	// JSON is a parsed JSON object (format=json) placed under "json"; it must
	// already be a valid JSON object.
	JSON []byte
	// Stream is stdout/stderr for container formats (docker, cri).
	Stream     string
	Kubernetes *Kubernetes
	// Extra holds input-specific fields (journald: unit, priority, ...),
	// encoded as one object under the key ExtraKey.
	ExtraKey string
	Extra    map[string]string

	EventID string
}

// Kubernetes is the metadata a container log path reveals.
type Kubernetes struct {
	Namespace     string
	PodName       string
	PodUID        string
	ContainerName string
	ContainerID   string
}

// EventID derives the deterministic id of an event from where it was read:
// the same line of the same file on the same host always gets the same id,
// so a record sent twice (at-least-once delivery) is indexed once.
// source identifies the stream (a file id, a journal cursor); position is
// the line's start offset, or 0 where source alone is unique.
func EventID(hostIP, source string, position int64) string {
	h := fnv.New128a()
	writeSource(h, hostIP, source)
	return positionID(h, position)
}

func writeSource(h hash.Hash, hostIP, source string) {
	h.Write([]byte(hostIP))
	h.Write([]byte{0})
	h.Write([]byte(source))
	h.Write([]byte{0})
}

// positionID adds position to h (holding the source) and returns the id.
func positionID(h hash.Hash, position int64) string {
	var buf [20]byte
	h.Write(strconv.AppendInt(buf[:0], position, 10))
	var sum [16]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// EventIDs derives the EventID of many positions of one source: the hash
// of (hostIP, source) is computed once, not per line.
type EventIDs struct {
	h      hash.Hash
	prefix []byte // the hash state after hostIP and source
}

// NewEventIDs prepares EventID(hostIP, source, ·).
func NewEventIDs(hostIP, source string) *EventIDs {
	h := fnv.New128a()
	writeSource(h, hostIP, source)
	prefix, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic(fmt.Sprintf("fnv state: %v", err)) // the standard library's fnv always marshals
	}
	return &EventIDs{h: h, prefix: prefix}
}

// ID is EventID(hostIP, source, position). Not safe for concurrent use.
func (e *EventIDs) ID(position int64) string {
	if err := e.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(e.prefix); err != nil {
		panic(fmt.Sprintf("fnv state: %v", err))
	}
	return positionID(e.h, position)
}
