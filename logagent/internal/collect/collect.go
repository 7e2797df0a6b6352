// Package collect parses and validates the collect config the operator puts
// in etcd: a JSON array of entries, each naming files (a path or glob) and
// the Kafka topic their lines go to. Parse is the single validation an
// operator CLI can reuse, so a config is rejected before it reaches an agent.
package collect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/logcollect/logcollect/logagent/internal/pathglob"
)

// Defaults and bounds of the optional fields.
const (
	DefaultMaxLineBytes = 512 << 10
	MaxMaxLineBytes     = 64 << 20
	DefaultMaxLines     = 500
	DefaultMLTimeout    = 5 * time.Second
)

// Entry is one element of the collect config.
type Entry struct {
	Path         string            `json:"path"`
	Topic        string            `json:"topic"`
	Exclude      []string          `json:"exclude,omitempty"`
	Start        string            `json:"start,omitempty"`  // end (default) or beginning
	Format       string            `json:"format,omitempty"` // raw (default), json, docker, cri
	Multiline    *Multiline        `json:"multiline,omitempty"`
	Fields       map[string]string `json:"fields,omitempty"`
	MaxLineBytes int               `json:"max_line_bytes,omitempty"`
}

// Multiline joins physical lines into one event. A line "matches" when the
// pattern matches it, inverted by Negate. With Match "after" a matching
// line is appended to the line before it (e.g. pattern "^\s", or pattern
// "^\d{4}-" with negate for "every line not starting with a date"); with
// "before" a matching line is continued by the next line (a trailing "\").
type Multiline struct {
	Pattern  string `json:"pattern"`
	Negate   bool   `json:"negate,omitempty"`
	Match    string `json:"match,omitempty"`     // after (default) or before
	MaxLines int    `json:"max_lines,omitempty"` // default 500; further lines start a new event
	Timeout  string `json:"timeout,omitempty"`   // flush a pending event after this idle time; default 5s

	Regexp       *regexp.Regexp `json:"-"`
	FlushTimeout time.Duration  `json:"-"`
}

// Error is a rejected entry, naming the entry, field and fix.
type Error struct {
	Index int    // 1-based, as an operator counts
	Path  string // the entry's path, when known
	Field string
	Msg   string
}

func (e *Error) Error() string {
	where := fmt.Sprintf("collect config entry %d", e.Index)
	if e.Path != "" {
		where += " (" + e.Path + ")"
	}
	if e.Field == "" {
		return where + ": " + e.Msg
	}
	return fmt.Sprintf("%s: field %q: %s", where, e.Field, e.Msg)
}

// ErrSyntax wraps malformed JSON.
var ErrSyntax = errors.New("collect config is not a JSON array of entries")

var topicRE = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// Parse decodes and validates a collect config. An empty array (or "null")
// means no tasks.
func Parse(data []byte) ([]Entry, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || string(data) == "null" {
		return nil, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, fmt.Errorf("%w: %v: write it like [{\"path\":\"/var/log/app.log\",\"topic\":\"app_log\"}]", ErrSyntax, err)
	}
	entries := make([]Entry, 0, len(raws))
	seen := map[string]int{}
	for i, raw := range raws {
		var loose struct {
			Path string `json:"path"`
		}
		_ = json.Unmarshal(raw, &loose) // only to name the entry in errors below
		fail := func(field, format string, args ...any) error {
			return &Error{Index: i + 1, Path: loose.Path, Field: field, Msg: fmt.Sprintf(format, args...)}
		}
		var e Entry
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			var ute *json.UnmarshalTypeError
			switch {
			case errors.As(err, &ute):
				return nil, fail(ute.Field, "%s is a JSON %s, want %s", ute.Field, ute.Value, describe(ute.Type))
			case strings.HasPrefix(err.Error(), "json: unknown field "):
				name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
				return nil, fail(name, "unknown field: remove it, or use one of path, topic, exclude, start, format, multiline, fields, max_line_bytes")
			default:
				return nil, fail("", "%v: each entry must be an object like {\"path\":\"/var/log/app.log\",\"topic\":\"app_log\"}", err)
			}
		}
		if err := validate(&e, fail); err != nil {
			return nil, err
		}
		if j, dup := seen[e.Path]; dup {
			return nil, fail("path", "%q is also entry %d: merge them or remove one", e.Path, j)
		}
		seen[e.Path] = i + 1
		entries = append(entries, e)
	}
	return entries, nil
}

func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "an array of strings"
	case reflect.Map:
		return "an object of string values"
	case reflect.Pointer, reflect.Struct:
		return "an object"
	}
	return t.String()
}

func validate(e *Entry, fail func(field, format string, args ...any) error) error {
	switch {
	case e.Path == "":
		return fail("path", "missing: set the absolute path or glob of the files to collect")
	case !filepath.IsAbs(e.Path):
		return fail("path", "%q is relative: use an absolute path such as /var/log/app/*.log", e.Path)
	case filepath.Clean(e.Path) != e.Path:
		return fail("path", "%q is not clean (.., // or a trailing /): write it as %q", e.Path, filepath.Clean(e.Path))
	}
	if _, err := filepath.Match(e.Path, ""); err != nil {
		return fail("path", "%q is not a valid glob (%v): fix the brackets or escape them with \\", e.Path, err)
	}
	if e.Topic == "" {
		return fail("topic", "missing: set the Kafka topic the lines go to")
	}
	if !topicRE.MatchString(e.Topic) || e.Topic == "." || e.Topic == ".." {
		return fail("topic", "%q is not a valid Kafka topic name (letters, digits, '.', '_', '-'; at most 249): rename it", e.Topic)
	}
	for _, x := range e.Exclude {
		if _, err := filepath.Match(x, ""); err != nil || x == "" {
			return fail("exclude", "%q is not a valid glob: use patterns like \"*.gz\" (matched against the file name) or an absolute glob", x)
		}
	}
	switch e.Start {
	case "":
		e.Start = "end"
	case "end", "beginning":
	default:
		return fail("start", "%q: want \"end\" (default) or \"beginning\"", e.Start)
	}
	switch e.Format {
	case "":
		e.Format = "raw"
	case "raw", "json", "docker", "cri":
	default:
		return fail("format", "%q: want one of raw, json, docker, cri", e.Format)
	}
	switch {
	case e.MaxLineBytes == 0:
		e.MaxLineBytes = DefaultMaxLineBytes
	case e.MaxLineBytes < 16 || e.MaxLineBytes > MaxMaxLineBytes:
		return fail("max_line_bytes", "%d: want 16 to %d bytes", e.MaxLineBytes, MaxMaxLineBytes)
	}
	for k := range e.Fields {
		if k == "" {
			return fail("fields", "empty key: name every field")
		}
	}
	if m := e.Multiline; m != nil {
		if m.Pattern == "" {
			return fail("multiline.pattern", "missing: set a regular expression, e.g. \"^\\\\d{4}-\" with negate true for lines not starting with a date")
		}
		re, err := regexp.Compile(m.Pattern)
		if err != nil {
			return fail("multiline.pattern", "%q is not a valid regular expression (%v): fix it", m.Pattern, err)
		}
		m.Regexp = re
		switch m.Match {
		case "":
			m.Match = "after"
		case "after", "before":
		default:
			return fail("multiline.match", "%q: want \"after\" or \"before\"", m.Match)
		}
		switch {
		case m.MaxLines == 0:
			m.MaxLines = DefaultMaxLines
		case m.MaxLines < 1 || m.MaxLines > 100000:
			return fail("multiline.max_lines", "%d: want 1 to 100000", m.MaxLines)
		}
		m.FlushTimeout = DefaultMLTimeout
		if m.Timeout != "" {
			d, err := time.ParseDuration(m.Timeout)
			if err != nil || d <= 0 || d > time.Hour {
				return fail("multiline.timeout", "%q: want a duration such as \"5s\" (at most 1h)", m.Timeout)
			}
			m.FlushTimeout = d
		}
	}
	return nil
}

// CheckAllowed rejects entries whose path is outside the agent's
// allowed_paths, so a remote config cannot make the agent ship /etc/shadow.
func CheckAllowed(entries []Entry, allowed []string) error {
	for i, e := range entries {
		if !pathglob.MatchAny(allowed, e.Path) {
			return &Error{Index: i + 1, Path: e.Path, Field: "path",
				Msg: fmt.Sprintf("%q is outside the agent's allowed_paths (%s): collect from there, or widen [agent] allowed_paths on the host", e.Path, strings.Join(allowed, ", "))}
		}
	}
	return nil
}

// Excluded reports whether file matches one of the entry's exclude globs,
// tried against the base name and the full path.
func (e *Entry) Excluded(file string) bool {
	base := filepath.Base(file)
	for _, x := range e.Exclude {
		if ok, _ := filepath.Match(x, base); ok {
			return true
		}
		if ok, _ := filepath.Match(x, file); ok {
			return true
		}
	}
	return false
}

// Equal reports whether two validated entries configure the same task.
func Equal(a, b Entry) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}
