package processor

import (
	"strconv"
	"strings"

	"github.com/logcollect/logcollect/pkg/record"
)

// logfmt parses key=value pairs separated by spaces:
//
//	level=info msg="user logged in" user=bob took=12ms quoted="say \"hi\"" verbose
//
// A value may be quoted (with \" and the other Go escapes inside); a bare
// key is "true"; a later duplicate key wins. Values are strings unless
// "types" says int or float. A line that is not logfmt (an unterminated
// quote, a pair without a key, a value that is not its type) sets no
// field.
type logfmt struct {
	types map[string]fieldType
}

// logfmtPairs calls pair for each key and raw value (a quoted value with
// its quotes; bare for a key without "=") and reports whether s is all
// pairs.
func logfmtPairs(s string, pair func(key, raw string, bare bool) bool) bool {
	i, pairs := 0, 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i == len(s) {
			return pairs > 0
		}
		start := i
		for i < len(s) && s[i] > ' ' && s[i] != '=' && s[i] != '"' {
			i++
		}
		key := s[start:i]
		if key == "" {
			return false
		}
		raw, bare := "", true
		if i < len(s) && s[i] == '=' {
			bare = false
			i++
			v := i
			if i < len(s) && s[i] == '"' {
				i++
				for i < len(s) && s[i] != '"' {
					if s[i] == '\\' {
						i++
					}
					i++
				}
				if i >= len(s) {
					return false // unterminated quote
				}
				i++
				if i < len(s) && s[i] != ' ' && s[i] != '\t' {
					return false
				}
			} else {
				for i < len(s) && s[i] > ' ' && s[i] != '"' {
					i++
				}
				if i < len(s) && s[i] == '"' {
					return false
				}
			}
			raw = s[v:i]
		} else if i < len(s) && s[i] == '"' {
			return false
		}
		if !pair(key, raw, bare) {
			return false
		}
		pairs++
	}
}

// value is the field of key and raw: unquoted and typed as types says.
func (p *logfmt) value(key, raw string, bare bool) (record.Field, bool) {
	v := raw
	if bare {
		v = "true"
	} else if strings.HasPrefix(raw, `"`) {
		v = raw[1 : len(raw)-1]
		if strings.IndexByte(v, '\\') >= 0 {
			u, err := strconv.Unquote(raw)
			if err != nil {
				return record.Field{}, false
			}
			v = u
		}
	}
	return typed(key, v, p.types[key])
}

func (p *logfmt) scan(s string, l *Line) bool {
	// Check the whole line before setting anything: a failed parse adds
	// no field.
	ok := logfmtPairs(s, func(key, raw string, bare bool) bool {
		_, ok := p.value(key, raw, bare)
		return ok
	})
	if !ok {
		return false
	}
	logfmtPairs(s, func(key, raw string, bare bool) bool {
		f, _ := p.value(key, raw, bare)
		l.set(f)
		return true
	})
	return true
}
