package processor

import (
	"fmt"
	"regexp"
	"strings"
	"unsafe"

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

// builtinMask is a built-in scanner and the shortest text it can match
// (most parsed fields are shorter than a card number: not scanned).
type builtinMask struct {
	next   finder
	minLen int
}

var builtinMasks = map[string]builtinMask{
	"email":       {nextEmail, len("a@b.cd")},
	"credit_card": {nextCard, 13},
	"secrets":     {nextSecret, len("pwd=x")},
	"ipv4":        {nextIPv4, len("1.2.3.4")},
}

const builtinMaskList = "email, credit_card, secrets, ipv4"

type mask struct {
	re          *regexp.Regexp
	replacement string
	builtins    []builtinMask
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
		m.builtins = append(m.builtins, f)
		m.secrets = m.secrets || name == "secrets"
	}
	return m, nil
}

func (m *mask) apply(l *Line) Verdict {
	read := l.Message
	patterned := m.maskPattern(read)
	msg := m.maskBuiltins(patterned)
	cleanRead := patterned == read && unsafe.StringData(msg) == unsafe.StringData(read)
	if !cleanRead {
		l.Message = msg
	}
	for i := range l.Parsed {
		f := &l.Parsed[i]
		if f.Kind != record.KindString {
			continue
		}
		if m.secrets && f.Str != "" && isSecretKey(f.Key) {
			// parse split "password=x" into key and value: the key says
			// the value is a secret.
			f.Str = m.replacement
			continue
		}
		v := f.Str
		if m.re != nil {
			v = m.maskPattern(v)
		}
		// Most parsed fields are pieces of the message cut at a space,
		// a quote or a bracket. The built-ins decide a match from the
		// bytes up to such a cut, so where the message held nothing to
		// mask, such a piece holds nothing either: not scanned again.
		if cleanRead && isolatedIn(read, v) {
			continue // v is f.Str: no pattern (a changed v is not in read), and nothing to mask
		}
		v = m.maskBuiltins(v)
		if unsafe.StringData(v) != unsafe.StringData(f.Str) || len(v) != len(f.Str) {
			f.Str = v // written only when changed: a write costs a GC barrier
		}
	}
	return Keep
}

// maskPattern applies the pattern; most lines do not match it, and those
// are not copied.
func (m *mask) maskPattern(s string) string {
	if m.re != nil && m.re.FindStringIndex(s) != nil {
		s = m.re.ReplaceAllString(s, m.replacement)
	}
	return s
}

func (m *mask) maskBuiltins(s string) string {
	for _, b := range m.builtins {
		if len(s) >= b.minLen {
			s = maskAll(s, b.next, m.replacement)
		}
	}
	return s
}

// isolatedIn reports whether part lies in whole's bytes with no byte that
// a built-in mask reads as part of a word, number, address or key right
// before or after it.
// Small enough to inline: the mask asks it of every parsed field.
func isolatedIn(whole, part string) bool {
	// Where part starts in whole; a part elsewhere wraps to beyond it.
	start := uint(uintptr(unsafe.Pointer(unsafe.StringData(part))) - uintptr(unsafe.Pointer(unsafe.StringData(whole))))
	end := start + uint(len(part))
	return len(part) > 0 && start < uint(len(whole)) && end <= uint(len(whole)) &&
		(start == 0 || !wordBytes[whole[start-1]]) && (end == uint(len(whole)) || !wordBytes[whole[end]])
}

// wordBytes are the bytes a built-in mask reads as part of a word,
// number, address or key: isolatedIn looks at the bytes either side of
// every parsed field, and the comparisons cost more than the table.
var wordBytes = func() (t [256]bool) {
	for c := range t {
		b := byte(c)
		t[c] = isAlnum(b) || b == '.' || b == '_' || b == '%' || b == '+' || b == '-' || b == '@'
	}
	return t
}()

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
