package document

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultIndexPattern gives daily indices <prefix>-<topic>-YYYY.MM.DD, as
// the design's Kibana data view on <prefix>-* expects.
const DefaultIndexPattern = "{prefix}-{topic}-{YYYY.MM.DD}"

// IndexPattern is a compiled index_pattern: literal text, {prefix}, {topic}
// and a date in braces built from YYYY, MM, DD and HH (the record's
// @timestamp in UTC), e.g. "{prefix}-{topic}-{YYYY.MM}".
type IndexPattern struct {
	parts []part
}

type partKind int

const (
	literal partKind = iota
	topicPart
	datePart
)

type part struct {
	kind   partKind
	text   string // literal text, or the Go time layout of a date
	hourly bool
}

// CompileIndexPattern parses pattern; prefix replaces {prefix} now since it
// does not change while running.
func CompileIndexPattern(pattern, prefix string) (*IndexPattern, error) {
	p := &IndexPattern{}
	hasTopic := false
	rest := pattern
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			p.parts = append(p.parts, part{kind: literal, text: rest})
			break
		}
		if open > 0 {
			p.parts = append(p.parts, part{kind: literal, text: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("a closing } after %q", rest[open:])
		}
		name := rest[open+1 : open+end]
		rest = rest[open+end+1:]
		switch name {
		case "prefix":
			p.parts = append(p.parts, part{kind: literal, text: prefix})
		case "topic":
			hasTopic = true
			p.parts = append(p.parts, part{kind: topicPart})
		default:
			layout, hourly, err := dateLayout(name)
			if err != nil {
				return nil, err
			}
			p.parts = append(p.parts, part{kind: datePart, text: layout, hourly: hourly})
		}
	}
	if len(p.parts) == 0 || p.parts[0].kind != literal || p.parts[0].text == "" {
		// The index template matches "<leading text>*"; without leading
		// text it would have to match every index of the cluster.
		return nil, errors.New("a pattern starting with {prefix} or literal text, like " + DefaultIndexPattern)
	}
	if !hasTopic {
		// Without the topic, records of different topics (different
		// shapes) would share an index and fight over mappings.
		return nil, errors.New("a pattern containing {topic}, like " + DefaultIndexPattern)
	}
	// Literal parts must be index-name safe on their own; sanitising would
	// silently index somewhere the operator did not ask for.
	probe := string(p.appendRaw(nil, "t", time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)))
	if err := CheckIndexName(probe); err != nil {
		return nil, fmt.Errorf("a pattern giving valid index names; %q is not: %w", probe, err)
	}
	return p, nil
}

// dateLayout turns "YYYY.MM.DD" into the Go layout "2006.01.02".
func dateLayout(spec string) (layout string, hourly bool, err error) {
	var b strings.Builder
	for s := spec; s != ""; {
		switch {
		case strings.HasPrefix(s, "YYYY"):
			b.WriteString("2006")
			s = s[4:]
		case strings.HasPrefix(s, "MM"):
			b.WriteString("01")
			s = s[2:]
		case strings.HasPrefix(s, "DD"):
			b.WriteString("02")
			s = s[2:]
		case strings.HasPrefix(s, "HH"):
			b.WriteString("15")
			hourly = true
			s = s[2:]
		case s[0] == '.' || s[0] == '-' || s[0] == '_':
			b.WriteByte(s[0])
			s = s[1:]
		default:
			return "", false, fmt.Errorf("{prefix}, {topic} or a date like {YYYY.MM.DD} (YYYY, MM, DD, HH and . - _) in braces, not {%s}", spec)
		}
	}
	if b.Len() == 0 {
		return "", false, errors.New("a non-empty placeholder")
	}
	return b.String(), hourly, nil
}

// Format returns the index for a record of topic at ts (taken in UTC).
func (p *IndexPattern) Format(topic string, ts time.Time) string {
	return SanitizeIndexName(string(p.appendRaw(nil, topic, ts)))
}

func (p *IndexPattern) appendRaw(b []byte, topic string, ts time.Time) []byte {
	ts = ts.UTC()
	for _, pt := range p.parts {
		switch pt.kind {
		case literal:
			b = append(b, pt.text...)
		case topicPart:
			b = append(b, topic...)
		case datePart:
			b = ts.AppendFormat(b, pt.text)
		}
	}
	return b
}

// TemplatePattern is the index pattern of the template covering every
// index this pattern names: its leading literal text followed by '*'.
func (p *IndexPattern) TemplatePattern() string {
	lead := ""
	for _, pt := range p.parts {
		if pt.kind != literal {
			break
		}
		lead += pt.text
	}
	return SanitizeIndexName(lead) + "*"
}

// Hourly reports whether the pattern changes within a day.
func (p *IndexPattern) Hourly() bool {
	for _, pt := range p.parts {
		if pt.hourly {
			return true
		}
	}
	return false
}

const invalidIndexChars = `\/*?"<>| ,#:`

// SanitizeIndexName makes name a valid Elasticsearch index name: lower
// case, forbidden characters replaced by '_', no leading '-', '_' or '+',
// at most 255 bytes. Kafka topic names may hold upper case, which
// Elasticsearch refuses.
func SanitizeIndexName(name string) string {
	name = strings.ToLower(name)
	name = strings.Map(func(r rune) rune {
		if strings.ContainsRune(invalidIndexChars, r) {
			return '_'
		}
		return r
	}, name)
	name = strings.TrimLeft(name, "-_+")
	if name == "" || name == "." || name == ".." {
		name = "unnamed"
	}
	if len(name) > 255 {
		name = name[:255]
	}
	return name
}

// CheckIndexName reports why name is not a valid index name (for names
// the operator configures, which are not silently rewritten).
func CheckIndexName(name string) error {
	switch {
	case name == "":
		return errors.New("a non-empty index name")
	case name != strings.ToLower(name):
		return errors.New("a lower-case index name")
	case strings.ContainsAny(name, invalidIndexChars):
		return fmt.Errorf("an index name without any of %s", invalidIndexChars)
	case strings.IndexAny(name[:1], "-_+") == 0:
		return errors.New("an index name not starting with -, _ or +")
	case name == "." || name == "..":
		return errors.New("an index name other than . or ..")
	case len(name) > 255:
		return errors.New("an index name of at most 255 bytes")
	}
	return nil
}
