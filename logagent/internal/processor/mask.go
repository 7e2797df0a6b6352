package processor

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/logcollect/logcollect/pkg/record"
)

// maskConfig replaces what a pattern matches, and what the built-in
// scanners find, in the message and in every parsed string field:
//
//	{"type":"mask","pattern":"session=[0-9a-f]+","replacement":"session=***"}
//	{"type":"mask","builtins":["email","credit_card","secrets"]}
//
// The pattern's replacement may use $1 or ${name}; the built-ins replace
// the whole match (secrets: only the value), by "***" unless replacement
// says otherwise. The pattern runs first, then the built-ins in the order
// written.
type maskConfig struct {
	Type        string   `json:"type"`
	Pattern     string   `json:"pattern"`
	Replacement *string  `json:"replacement"`
	Builtins    []string `json:"builtins"`
}

const defaultMask = "***"

// finder returns the next span to mask at or after from, or start < 0. A
// span is never empty.
type finder func(s string, from int) (start, end int)

var builtinMasks = map[string]finder{
	"email":       nextEmail,
	"credit_card": nextCard,
	"secrets":     nextSecret,
	"ipv4":        nextIPv4,
}

const builtinMaskList = "email, credit_card, secrets, ipv4"

type mask struct {
	re          *regexp.Regexp
	replacement string
	finders     []finder
	secrets     bool // also mask whole parsed fields whose key names a secret
}

func (c *maskConfig) compile(Options) (step, error) {
	m := &mask{replacement: defaultMask}
	if c.Replacement != nil {
		m.replacement = *c.Replacement
	}
	if c.Pattern == "" && len(c.Builtins) == 0 {
		return nil, &ConfigError{Field: "pattern", Problem: "missing, and no builtins either",
			Fix: `write a "pattern", or "builtins" with some of ` + builtinMaskList}
	}
	if c.Pattern != "" {
		re, err := compilePattern("pattern", c.Pattern)
		if err != nil {
			return nil, err
		}
		m.re = re
	}
	seen := map[string]bool{}
	for i, name := range c.Builtins {
		f, ok := builtinMasks[name]
		field := fmt.Sprintf("builtins[%d]", i)
		if !ok {
			return nil, badValue(field, name, "not a built-in mask", "write one of "+builtinMaskList)
		}
		if seen[name] {
			return nil, badValue(field, name, "listed twice", "list each built-in once")
		}
		seen[name] = true
		m.finders = append(m.finders, f)
		m.secrets = m.secrets || name == "secrets"
	}
	return m, nil
}

func (m *mask) apply(l *Line) Verdict {
	l.Message = m.maskString(l.Message)
	for i := range l.Parsed {
		f := &l.Parsed[i]
		if f.Kind != record.KindString {
			continue
		}
		if m.secrets && isSecretKey(f.Key) && f.Str != "" {
			// parse split "password=x" into key and value: the key says
			// the value is a secret.
			f.Str = m.replacement
			continue
		}
		f.Str = m.maskString(f.Str)
	}
	return Keep
}

func (m *mask) maskString(s string) string {
	if m.re != nil && m.re.FindStringIndex(s) != nil { // most lines do not match: no copy for them
		s = m.re.ReplaceAllString(s, m.replacement)
	}
	for _, next := range m.finders {
		s = maskAll(s, next, m.replacement)
	}
	return s
}

// maskAll replaces every span next finds; s itself when there is none.
func maskAll(s string, next finder, replacement string) string {
	start, end := next(s, 0)
	if start < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for start >= 0 {
		b.WriteString(s[last:start])
		b.WriteString(replacement)
		last = end
		start, end = next(s, end)
	}
	b.WriteString(s[last:])
	return b.String()
}
