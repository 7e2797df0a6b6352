package processor

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"github.com/logcollect/logcollect/pkg/record"
)

// parseConfig turns a line (or a field) into parsed.* fields:
//
//	{"type":"parse","format":"nginx"}
//	{"type":"parse","format":"syslog"}
//	{"type":"parse","format":"logfmt","types":{"duration":"float"}}
//	{"type":"parse","pattern":"^(?P<level>[A-Z]+) (?P<took_ms>\\d+)ms","types":{"took_ms":"int"}}
//
// A line that does not match keeps its message, gains no field and is
// flagged parse_failed.
type parseConfig struct {
	Type    string            `json:"type"`
	Format  string            `json:"format"`
	Pattern string            `json:"pattern"`
	Field   string            `json:"field"`
	Types   map[string]string `json:"types"`
}

// A scanner parses text into fields (it sets them only once the whole text
// matched, so a failed parse adds nothing) and reports whether it
// matched.
type scanner interface {
	scan(text string, l *Line) bool
}

// formats are the built-in parsers; "pattern" (a regexp with named
// groups) is the format when a pattern is given.
var formats = map[string]func() scanner{
	"nginx":  func() scanner { return accessLog{} },
	"apache": func() scanner { return accessLog{} },
	"syslog": func() scanner { return syslog{} },
	"logfmt": func() scanner { return &logfmt{} },
}

const formatList = `nginx, apache, syslog, logfmt, or "pattern" for a regular expression with named groups`

type parser struct {
	from fieldRef
	scan scanner
	// distinct: the scanner never sets a key twice (not logfmt, whose
	// lines may repeat a key, nor a pattern, whose groups may share a name).
	distinct bool
}

func (c *parseConfig) compile(Options) (step, error) {
	from, err := parseFieldRef("field", c.Field)
	if err != nil {
		return nil, err
	}
	p := &parser{from: from}
	switch {
	case c.Pattern != "" && c.Format != "" && c.Format != "pattern":
		return nil, badValue("format", c.Format, "given together with a pattern", `leave out "format", or "pattern"`)
	case c.Pattern != "" || c.Format == "pattern":
		re, err := compilePattern("pattern", c.Pattern)
		if err != nil {
			return nil, err
		}
		p.scan, err = newGroups(re, c.Types)
		if err != nil {
			return nil, err
		}
	case c.Format == "":
		return nil, &ConfigError{Field: "format", Problem: "missing", Fix: "write one of " + formatList}
	default:
		newScanner, ok := formats[c.Format]
		if !ok {
			return nil, badValue("format", c.Format, "unknown format", "write one of "+formatList)
		}
		p.scan = newScanner()
		l, isLogfmt := p.scan.(*logfmt)
		p.distinct = !isLogfmt
		if isLogfmt {
			l.types, err = checkTypes(c.Types, nil)
			if err != nil {
				return nil, err
			}
		} else if len(c.Types) > 0 {
			return nil, &ConfigError{Field: "types", Problem: "format " + c.Format + " sets its own types",
				Fix: `leave out "types" (they apply to logfmt and pattern)`}
		}
	}
	return p, nil
}

func (p *parser) apply(l *Line) Verdict {
	text, ok := p.from.get(l)
	l.appendOnly = p.distinct && len(l.Parsed) == 0
	ok = ok && p.scan.scan(text, l)
	l.appendOnly = false
	if !ok {
		l.Flag(record.FlagParseFailed)
	}
	return Keep
}

// fieldType is how a parsed value is typed.
type fieldType uint8

const (
	typeString fieldType = iota
	typeInt
	typeFloat
)

var typeNames = map[string]fieldType{"string": typeString, "int": typeInt, "float": typeFloat}

// checkTypes reads "types": field name → string, int or float; names, if
// not nil, are the fields the format can produce.
func checkTypes(types map[string]string, names []string) (map[string]fieldType, error) {
	out := make(map[string]fieldType, len(types))
	keys := make([]string, 0, len(types))
	for k := range types {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the first bad one, always the same
	for _, k := range keys {
		if names != nil && !slices.Contains(names, k) {
			return nil, badValue("types", k, "not a named group of the pattern",
				fmt.Sprintf("name one of %v, or add (?P<%s>…) to the pattern", names, k))
		}
		t, ok := typeNames[types[k]]
		if !ok {
			return nil, badValue("types."+k, types[k], "unknown type", `write "string", "int" or "float"`)
		}
		out[k] = t
	}
	return out, nil
}

// typed is the field key=v as typ says; ok is false when v is not such a
// number.
func typed(key, v string, typ fieldType) (record.Field, bool) {
	switch typ {
	case typeInt:
		n, err := strconv.ParseInt(v, 10, 64)
		return record.IntField(key, n), err == nil
	case typeFloat:
		f, err := strconv.ParseFloat(v, 64)
		return record.FloatField(key, f), err == nil
	}
	return record.StringField(key, v), true
}

// groups is the pattern format: each named group that took part in the
// match is a field.
type groups struct {
	re    *regexp.Regexp
	names []string // by group index; "" for unnamed groups
	types map[string]fieldType
}

func newGroups(re *regexp.Regexp, types map[string]string) (*groups, error) {
	var named []string
	for _, n := range re.SubexpNames() {
		if n != "" {
			named = append(named, n)
		}
	}
	if len(named) == 0 {
		return nil, badValue("pattern", re.String(), "has no named group, so it would parse nothing",
			`name what to keep, e.g. "(?P<level>[A-Z]+) (?P<msg>.*)"`)
	}
	t, err := checkTypes(types, named)
	if err != nil {
		return nil, err
	}
	return &groups{re: re, names: re.SubexpNames(), types: t}, nil
}

func (g *groups) scan(text string, l *Line) bool {
	m := g.re.FindStringSubmatchIndex(text)
	if m == nil {
		return false
	}
	// Type every value first: a group that is not the number its type says
	// fails the whole parse, like a line that does not match.
	for i, name := range g.names {
		if name == "" || m[2*i] < 0 {
			continue
		}
		if _, ok := typed(name, text[m[2*i]:m[2*i+1]], g.types[name]); !ok {
			return false
		}
	}
	for i, name := range g.names {
		if name == "" || m[2*i] < 0 {
			continue
		}
		f, _ := typed(name, text[m[2*i]:m[2*i+1]], g.types[name])
		l.set(f)
	}
	return true
}
