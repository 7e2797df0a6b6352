package esemu

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// tokenKind names JSON tokens with Jackson's names, because ES quotes them in
// its bulk error messages ("expected START_OBJECT but found [VALUE_STRING]").
type tokenKind string

const (
	tokStartObject tokenKind = "START_OBJECT"
	tokEndObject   tokenKind = "END_OBJECT"
	tokStartArray  tokenKind = "START_ARRAY"
	tokEndArray    tokenKind = "END_ARRAY"
	tokFieldName   tokenKind = "FIELD_NAME"
	tokString      tokenKind = "VALUE_STRING"
	tokNumber      tokenKind = "VALUE_NUMBER_INT"
	tokFloat       tokenKind = "VALUE_NUMBER_FLOAT"
	tokTrue        tokenKind = "VALUE_TRUE"
	tokFalse       tokenKind = "VALUE_FALSE"
	tokNull        tokenKind = "VALUE_NULL"
	tokEOF         tokenKind = "null"
)

// lexer is a small pull tokenizer for bulk action lines. A hand-written lexer
// keeps the hot path of bulk parsing nearly allocation-free and lets the
// emulator report the same token-level errors as ES's parser.
type lexer struct {
	b     []byte
	i     int
	line  int
	stack []byte // open containers: '{' or '['
	// inObjectKey is true when the next string in the current object is a field name.
	expectKey bool
	text      []byte // the raw text of the last string or number token (unescaped for strings)
	escBuf    []byte
}

// syntaxError is a malformed-JSON error. ES 7.17 lets Jackson's exceptions
// through, so clients see json_parse_exception, or json_e_o_f_exception when
// the line ends too early (ES 8 wraps them as x_content_*).
type syntaxError struct {
	line, col int
	msg       string
	eof       bool
}

func (e *syntaxError) Error() string { return fmt.Sprintf("[%d:%d] %s", e.line, e.col, e.msg) }

func (l *lexer) reset(b []byte, line int) {
	l.b, l.i, l.line, l.stack, l.expectKey = b, 0, line, l.stack[:0], false
}

func (l *lexer) fail(format string, args ...any) error {
	return &syntaxError{line: l.line, col: l.i + 1, msg: fmt.Sprintf(format, args...)}
}

func (l *lexer) skipSpace() {
	for l.i < len(l.b) {
		switch l.b[l.i] {
		case ' ', '\t', '\r', '\n':
			l.i++
		default:
			return
		}
	}
}

// next returns the next token, consuming ':' and ',' separators.
func (l *lexer) next() (tokenKind, error) {
	l.skipSpace()
	if l.i < len(l.b) && len(l.stack) > 0 && (l.b[l.i] == ',' || l.b[l.i] == ':') {
		l.i++
		l.skipSpace()
	}
	if l.i >= len(l.b) {
		if len(l.stack) > 0 {
			err := l.fail("Unexpected end-of-input: expected close marker for %s", containerName(l.stack[len(l.stack)-1]))
			err.(*syntaxError).eof = true
			return "", err
		}
		return tokEOF, nil
	}
	c := l.b[l.i]
	inObject := len(l.stack) > 0 && l.stack[len(l.stack)-1] == '{'
	switch {
	case c == '{':
		l.i++
		l.stack = append(l.stack, '{')
		l.expectKey = true
		return tokStartObject, nil
	case c == '}' || c == ']':
		if len(l.stack) == 0 || (c == '}') != (l.stack[len(l.stack)-1] == '{') {
			return "", l.fail("Unexpected close marker '%c'", c)
		}
		l.i++
		l.stack = l.stack[:len(l.stack)-1]
		l.expectKey = len(l.stack) > 0 && l.stack[len(l.stack)-1] == '{'
		if c == '}' {
			return tokEndObject, nil
		}
		return tokEndArray, nil
	case c == '[':
		l.i++
		l.stack = append(l.stack, '[')
		return tokStartArray, nil
	case c == '"':
		if err := l.str(); err != nil {
			return "", err
		}
		if inObject && l.expectKey {
			l.skipSpace()
			if l.i >= len(l.b) || l.b[l.i] != ':' {
				return "", l.fail("Unexpected character: was expecting a colon to separate field name and value")
			}
			l.expectKey = false
			return tokFieldName, nil
		}
		l.expectKey = inObject
		return tokString, nil
	case inObject && l.expectKey:
		return "", l.fail("Unexpected character ('%c' (code %d)): was expecting double-quote to start field name", c, c)
	case c == '-' || (c >= '0' && c <= '9'):
		l.expectKey = inObject
		return l.number()
	}
	l.expectKey = inObject
	for _, lit := range []struct {
		word string
		kind tokenKind
	}{{"true", tokTrue}, {"false", tokFalse}, {"null", tokNull}} {
		if len(l.b)-l.i >= len(lit.word) && string(l.b[l.i:l.i+len(lit.word)]) == lit.word {
			l.i += len(lit.word)
			return lit.kind, nil
		}
	}
	r, _ := utf8.DecodeRune(l.b[l.i:])
	return "", l.fail("Unrecognized token '%c': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')", r)
}

func containerName(c byte) string {
	if c == '{' {
		return "Object"
	}
	return "Array"
}

func (l *lexer) str() error {
	l.i++ // opening quote
	start := l.i
	for {
		l.i = plainEnd(l.b, l.i)
		if l.i >= len(l.b) {
			return l.fail("Unexpected end-of-input: was expecting closing quote for a string value")
		}
		switch l.b[l.i] {
		case '"':
			l.text = l.b[start:l.i]
			l.i++
			return nil
		case '\\':
			return l.escapedStr(start)
		}
		l.i++ // a control character, which this lexer lets through
	}
}

// escapedStr handles the rare string with escapes by deferring to strconv.
func (l *lexer) escapedStr(start int) error {
	for l.i < len(l.b) {
		switch l.b[l.i] {
		case '\\':
			l.i += 2
			continue
		case '"':
			raw := l.b[start-1 : l.i+1]
			l.i++
			s, err := strconv.Unquote(string(raw))
			if err != nil {
				return l.fail("Unrecognized character escape in string")
			}
			l.escBuf = append(l.escBuf[:0], s...)
			l.text = l.escBuf
			return nil
		}
		l.i++
	}
	return l.fail("Unexpected end-of-input: was expecting closing quote for a string value")
}

func (l *lexer) number() (tokenKind, error) {
	start := l.i
	kind := tokNumber
	if l.b[l.i] == '-' {
		l.i++
	}
	for l.i < len(l.b) {
		c := l.b[l.i]
		switch {
		case c >= '0' && c <= '9':
		case c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-':
			kind = tokFloat
		default:
			l.text = l.b[start:l.i]
			return kind, nil
		}
		l.i++
	}
	l.text = l.b[start:l.i]
	return kind, nil
}

// skipValue skips the value whose first token was just read.
func (l *lexer) skipValue(first tokenKind) error {
	if first != tokStartObject && first != tokStartArray {
		return nil
	}
	depth := len(l.stack) - 1
	for len(l.stack) > depth {
		if _, err := l.next(); err != nil {
			return err
		}
	}
	return nil
}
