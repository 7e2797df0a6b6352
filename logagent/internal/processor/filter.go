package processor

import "regexp"

// filterConfig is drop (lines that match are dropped) or keep (only lines
// that match are kept):
//
//	{"type":"drop","pattern":"^DEBUG"}
//	{"type":"keep","field":"parsed.status","pattern":"^5"}
//
// A line without the field does not match: drop keeps it, keep drops it.
type filterConfig struct {
	Type    string `json:"type"`
	Pattern string `json:"pattern"`
	Field   string `json:"field"`

	drop bool
}

type filter struct {
	re   *regexp.Regexp
	from fieldRef
	drop bool
}

func (c *filterConfig) compile(Options) (step, error) {
	re, err := compilePattern("pattern", c.Pattern)
	if err != nil {
		return nil, err
	}
	from, err := parseFieldRef("field", c.Field)
	if err != nil {
		return nil, err
	}
	return &filter{re: re, from: from, drop: c.drop}, nil
}

func (f *filter) apply(l *Line) Verdict {
	v, ok := f.from.get(l)
	if matched := ok && f.re.MatchString(v); matched == f.drop {
		return Drop
	}
	return Keep
}

const patternFix = `write an RE2 regular expression (https://golang.org/s/re2syntax; no backreferences or lookaround), e.g. "^DEBUG"`

// compilePattern compiles the regular expression of config field name.
func compilePattern(name, pattern string) (*regexp.Regexp, error) {
	if pattern == "" {
		return nil, badValue(name, pattern, "missing", patternFix)
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, badValue(name, pattern, err.Error(), patternFix)
	}
	return re, nil
}
