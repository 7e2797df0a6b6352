package record

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"time"
	"unicode/utf8"
)

// Meta is what the transfer needs from a value to index it: its id and the
// time that picks the daily index.
type Meta struct {
	EventID   string
	Timestamp time.Time
	// Depth is the deepest nesting of objects and arrays in the value (the
	// record itself is 1), found by the same pass.
	Depth int
}

// Peek reports whether value is an agent record (a JSON object with a
// non-empty event.id and a parsable @timestamp) and returns its Meta.
// Anything else — plain text, foreign JSON, invalid JSON — is not a record:
// ok is false and the caller wraps it as a message document.
//
// It runs once per record on the transfer's hot path, so it is a
// hand-written single pass that validates the whole value (as
// json.Unmarshal would) but decodes only the two strings it needs; its
// answers match json.Unmarshal into {"@timestamp", "event":{"id"}}
// (keys matched case-insensitively, later duplicates win, null leaves a
// field as it was), which the tests check against the reflective decoder.
func Peek(value []byte) (meta Meta, ok bool) {
	if len(value) == 0 || value[0] != '{' {
		return Meta{}, false
	}
	s := peekScanner{b: value}
	var ts, id []byte
	var tsEsc, idEsc bool
	valid := s.object(func(key []byte) bool {
		switch {
		case bytes.EqualFold(key, []byte("@timestamp")):
			return s.stringField(&ts, &tsEsc)
		case bytes.EqualFold(key, []byte("event")):
			s.ws()
			if s.i < len(s.b) && s.b[s.i] == '{' {
				return s.object(func(key []byte) bool {
					if bytes.EqualFold(key, []byte("id")) {
						return s.stringField(&id, &idEsc)
					}
					return s.value()
				})
			}
			return s.null()
		}
		return s.value()
	})
	if !valid {
		return Meta{}, false
	}
	s.ws()
	if s.i != len(s.b) {
		return Meta{}, false
	}
	eventID, tsText := unquote(id, idEsc), unquote(ts, tsEsc)
	if eventID == "" {
		return Meta{}, false
	}
	t, err := ParseTimestamp(tsText)
	if err != nil {
		return Meta{}, false
	}
	return Meta{EventID: eventID, Timestamp: t, Depth: s.deepest}, true
}

// unquote decodes a string's raw contents; escapes are rare, so they take
// the standard decoder.
func unquote(raw []byte, escaped bool) string {
	if !escaped {
		return string(raw)
	}
	var s string
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	if json.Unmarshal(q, &s) != nil {
		return ""
	}
	return s
}

// peekScanner validates JSON (RFC 8259 grammar, as encoding/json does) in
// one pass.
type peekScanner struct {
	b       []byte
	i       int
	depth   int
	deepest int
}

// maxDepth bounds nesting like encoding/json, so a hostile value cannot
// exhaust the stack.
const maxDepth = 10000

func (s *peekScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// stringField reads a value that must be a string (stored in dst) or null
// (dst left as it was).
func (s *peekScanner) stringField(dst *[]byte, escaped *bool) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '"' {
		raw, esc, ok := s.str()
		if ok {
			// Invalid UTF-8 becomes U+FFFD in the standard decoder.
			*dst, *escaped = raw, esc || !utf8.Valid(raw)
		}
		return ok
	}
	return s.null()
}

func (s *peekScanner) null() bool {
	if bytes.HasPrefix(s.b[s.i:], []byte("null")) {
		s.i += 4
		return true
	}
	return false
}

// object reads an object at s.i (after optional space), calling member for
// each key with s.i just after the colon; member must consume the value.
func (s *peekScanner) object(member func(key []byte) bool) bool {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return false
	}
	s.depth++
	if s.depth > maxDepth {
		return false
	}
	s.deepest = max(s.deepest, s.depth)
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		s.depth--
		return true
	}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return false
		}
		key, esc, ok := s.str()
		if !ok {
			return false
		}
		if esc || !utf8.Valid(key) {
			key = []byte(unquote(key, true))
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		if !member(key) {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			s.depth--
			return true
		default:
			return false
		}
	}
}

// str reads a string at s.i (on its opening quote) and returns its raw
// contents and whether they hold escapes.
func (s *peekScanner) str() (raw []byte, escaped, ok bool) {
	s.i++
	start := s.i
	fast := true
	for s.i < len(s.b) {
		if fast {
			// Skip 8 bytes at a time up to the next quote, backslash or
			// control character, at the start and after each escape (a
			// record's message is most of its bytes, and a byte at a
			// time made this scan a fifth of the transfer's CPU). The
			// few bytes before such a byte go one at a time.
			for s.i+8 <= len(s.b) && specials(binary.LittleEndian.Uint64(s.b[s.i:])) == 0 {
				s.i += 8
			}
			fast = false
			if s.i >= len(s.b) {
				break
			}
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, escaped, true
		case c == '\\':
			escaped, fast = true, true
			s.i++
			if s.i >= len(s.b) {
				return nil, false, false
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if s.i+4 >= len(s.b) {
					return nil, false, false
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !isHex(h) {
						return nil, false, false
					}
				}
				s.i += 5
			default:
				return nil, false, false
			}
		case c < 0x20:
			return nil, false, false
		default:
			s.i++
		}
	}
	return nil, false, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// value validates and skips any value.
func (s *peekScanner) value() bool {
	s.ws()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(func([]byte) bool { return s.value() })
	case c == '[':
		return s.array()
	case c == '"':
		_, _, ok := s.str()
		return ok
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || isDigit(c):
		return s.number()
	}
	return false
}

func (s *peekScanner) literal(word string) bool {
	if bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		s.i += len(word)
		return true
	}
	return false
}

func (s *peekScanner) array() bool {
	s.depth++
	if s.depth > maxDepth {
		return false
	}
	s.deepest = max(s.deepest, s.depth)
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		s.depth--
		return true
	}
	for {
		if !s.value() {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			s.depth--
			return true
		default:
			return false
		}
	}
}

// number follows the JSON grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
func (s *peekScanner) number() bool {
	b := s.b
	if b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(b) && b[s.i] == '0':
		s.i++
	case s.i < len(b) && isDigit(b[s.i]):
		for s.i < len(b) && isDigit(b[s.i]) {
			s.i++
		}
	default:
		return false
	}
	if s.i < len(b) && b[s.i] == '.' {
		s.i++
		if s.i >= len(b) || !isDigit(b[s.i]) {
			return false
		}
		for s.i < len(b) && isDigit(b[s.i]) {
			s.i++
		}
	}
	if s.i < len(b) && (b[s.i] == 'e' || b[s.i] == 'E') {
		s.i++
		if s.i < len(b) && (b[s.i] == '+' || b[s.i] == '-') {
			s.i++
		}
		if s.i >= len(b) || !isDigit(b[s.i]) {
			return false
		}
		for s.i < len(b) && isDigit(b[s.i]) {
			s.i++
		}
	}
	return true
}
