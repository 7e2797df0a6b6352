package document

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/logcollect/logcollect/pkg/record"
)

// ForeignJSON says how a JSON object that is not an agent record (no
// event.id: another producer's) is indexed: [transfer] foreign_json.
type ForeignJSON string

const (
	// ForeignJSONMessage indexes the value as one string in message, as
	// plain text is: its fields cannot clash with anything. The default.
	ForeignJSONMessage ForeignJSON = "message"
	// ForeignJSONObject indexes the object's fields under json (as
	// Logstash's json codec users expect), plus the object's own message,
	// when it is a string, as message. A field whose shape changes between
	// records is a mapping conflict: that record is dead-lettered.
	ForeignJSONObject ForeignJSON = "object"
)

// ForeignJSONModes are the accepted values of [transfer] foreign_json.
var ForeignJSONModes = []string{string(ForeignJSONMessage), string(ForeignJSONObject)}

// WithForeignJSON sets how b indexes foreign JSON objects and returns b.
func (b *Builder) WithForeignJSON(mode ForeignJSON) *Builder {
	b.foreign = mode
	return b
}

// objectDoc builds the document of a foreign JSON object in
// ForeignJSONObject mode; ok is false when value is not a JSON object
// Elasticsearch can take as is (not JSON, not an object, invalid UTF-8),
// which is then wrapped as a message like plain text.
func objectDoc(m Message, ts time.Time) (body []byte, invalid *Rejection, ok bool) {
	v := m.Value
	if len(v) == 0 || v[0] != '{' || !utf8.Valid(v) || !json.Valid(v) {
		return nil, nil, false
	}
	if d := depth(v) + 1; d > MaxDepth { // + 1: json is a level of the document
		return nil, &Rejection{Status: 400, Type: "too_deeply_nested",
			Reason: fmt.Sprintf("the JSON object nests objects and arrays more than %d levels deep; kept in event.original only", MaxDepth-1)}, true
	}
	dst := make([]byte, 0, len(v)+128)
	dst = append(dst, `{"@timestamp":"`...)
	dst = ts.UTC().AppendFormat(dst, record.TimeLayout)
	dst = append(dst, '"')
	if msg, ok := topMessage(v); ok {
		dst = append(dst, `,"message":`...)
		dst = record.AppendString(dst, msg)
	}
	dst = append(dst, `,"json":`...)
	dst = append(dst, v...)
	dst = appendKafka(dst, m)
	return append(dst, '}'), nil, true
}

// topMessage returns the object's own "message" (that exact key, as
// Elasticsearch names fields) when it is a string.
func topMessage(obj []byte) (string, bool) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(obj, &fields) != nil {
		return "", false
	}
	raw, ok := fields["message"]
	if !ok || len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// depth is the deepest nesting of objects and arrays in valid JSON v, in
// one pass that recurses into nothing (v may nest thousands of levels).
func depth(v []byte) int {
	d, deepest, inString := 0, 0, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			d++
			deepest = max(deepest, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return deepest
}
