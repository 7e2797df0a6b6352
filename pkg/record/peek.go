package record

import (
	"encoding/json"
	"time"
)

// Meta is what the transfer needs from a value to index it: its id and the
// time that picks the daily index.
type Meta struct {
	EventID   string
	Timestamp time.Time
}

type peekShape struct {
	Timestamp string `json:"@timestamp"`
	Event     struct {
		ID string `json:"id"`
	} `json:"event"`
}

// Peek reports whether value is an agent record (a JSON object with a
// non-empty event.id and a parsable @timestamp) and returns its Meta.
// Anything else — plain text, foreign JSON — is not a record: ok is false and
// the caller wraps it as a message document.
func Peek(value []byte) (meta Meta, ok bool) {
	if len(value) == 0 || value[0] != '{' {
		return Meta{}, false
	}
	var p peekShape
	if err := json.Unmarshal(value, &p); err != nil || p.Event.ID == "" {
		return Meta{}, false
	}
	ts, err := ParseTimestamp(p.Timestamp)
	if err != nil {
		return Meta{}, false
	}
	return Meta{EventID: p.Event.ID, Timestamp: ts}, true
}
