package processor

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/logcollect/logcollect/pkg/record"
)

// fieldRef names what a processor reads: "message", "parsed.<key>" (a
// field a parse processor set) or "json.<key>" (a top-level key of a
// format=json line).
type fieldRef struct {
	where fieldSource
	key   string
}

type fieldSource uint8

const (
	fromMessage fieldSource = iota
	fromParsed
	fromJSON
)

const fieldRefFix = `write "message", "parsed.<name>" or "json.<name>"`

// parseFieldRef reads a reference written in config field name; empty
// means message.
func parseFieldRef(name, s string) (fieldRef, error) {
	switch {
	case s == "" || s == "message":
		return fieldRef{where: fromMessage}, nil
	case strings.HasPrefix(s, "parsed.") && len(s) > len("parsed."):
		return fieldRef{where: fromParsed, key: s[len("parsed."):]}, nil
	case strings.HasPrefix(s, "json.") && len(s) > len("json."):
		return fieldRef{where: fromJSON, key: s[len("json."):]}, nil
	}
	return fieldRef{}, badValue(name, s, "not a field a processor can read", fieldRefFix)
}

// get returns the referenced value as text (a number in its decimal form),
// and whether the line has it.
func (r fieldRef) get(l *Line) (string, bool) {
	switch r.where {
	case fromParsed:
		f := l.Field(r.key)
		if f == nil {
			return "", false
		}
		return fieldText(f), true
	case fromJSON:
		return jsonText(l.JSON, r.key)
	}
	return l.Message, true
}

func fieldText(f *record.Field) string {
	switch f.Kind {
	case record.KindInt:
		return strconv.FormatInt(f.Int, 10)
	case record.KindFloat:
		return strconv.FormatFloat(f.Float, 'g', -1, 64)
	}
	return f.Str
}

// jsonText is the top-level key of obj as text: a string's contents, or a
// number's or boolean's literal. Objects, arrays and null are absent.
func jsonText(obj []byte, key string) (string, bool) {
	if len(obj) == 0 {
		return "", false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(obj, &m) != nil {
		return "", false
	}
	v, ok := m[key]
	if !ok || len(v) == 0 {
		return "", false
	}
	switch v[0] {
	case '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return s, true
	case '{', '[', 'n':
		return "", false
	}
	return string(v), true
}
