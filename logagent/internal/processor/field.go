package processor

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/logcollect/logcollect/pkg/rawjson"
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
// number's or boolean's literal. Objects, arrays and null are absent; of
// duplicate keys the last counts (as for encoding/json). obj is the
// object format=json already checked, so this walks its members without
// decoding them (decoding the object per line cost microseconds); what it
// cannot read is absent.
func jsonText(obj []byte, key string) (string, bool) {
	var found []byte
	i := rawjson.SkipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return "", false
	}
	i = rawjson.SkipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return "", false
	}
	for i < len(obj) {
		k := i
		if i = rawjson.SkipValue(obj, i); i < 0 || obj[k] != '"' {
			return "", false
		}
		name := obj[k:i]
		if i = rawjson.SkipSpace(obj, i); i >= len(obj) || obj[i] != ':' {
			return "", false
		}
		v := rawjson.SkipSpace(obj, i+1)
		if i = rawjson.SkipValue(obj, v); i < 0 {
			return "", false
		}
		if jsonKeyIs(name, key) {
			found = obj[v:i]
		}
		if i = rawjson.SkipSpace(obj, i); i < len(obj) && obj[i] == ',' {
			i = rawjson.SkipSpace(obj, i+1)
			continue
		}
		break
	}
	if len(found) == 0 {
		return "", false
	}
	switch found[0] {
	case '"':
		if bytes.IndexByte(found, '\\') < 0 && utf8.Valid(found) {
			return string(found[1 : len(found)-1]), true
		}
		var s string
		if json.Unmarshal(found, &s) != nil {
			return "", false
		}
		return s, true
	case '{', '[', 'n':
		return "", false
	}
	return string(found), true
}

// jsonKeyIs reports whether the quoted JSON string name is key.
func jsonKeyIs(name []byte, key string) bool {
	raw := name[1 : len(name)-1]
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw) == key
	}
	var s string
	return json.Unmarshal(name, &s) == nil && s == key
}
