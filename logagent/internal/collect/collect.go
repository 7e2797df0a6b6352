// Package collect parses and validates the collect config the operator puts
// in etcd: a JSON array of entries, each naming files (a path or glob) or
// the systemd journal, and the Kafka topic their lines go to. Parse is the single validation an
// operator CLI can reuse, so a config is rejected before it reaches an agent.
package collect

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
	"github.com/logcollect/logcollect/logagent/internal/journald"
	"github.com/logcollect/logcollect/logagent/internal/pathglob"
	"github.com/logcollect/logcollect/logagent/internal/processor"
	"github.com/logcollect/logcollect/pkg/kafkaconf"
	"github.com/logcollect/logcollect/pkg/rawjson"
	"k8s.io/apimachinery/pkg/labels"
)

// Defaults and bounds of the optional fields.
const (
	DefaultMaxLineBytes = 512 << 10
	MaxMaxLineBytes     = 64 << 20
	DefaultMaxLines     = 500
	DefaultMLTimeout    = 5 * time.Second
)

// Entry types.
const (
	TypeFile     = "file"     // the default: files named by path
	TypeJournald = "journald" // the systemd journal, read through journalctl
	// TypeKubernetes follows the pods of the agent's node: the containers'
	// stdout/stderr and the files their logcollect.io/paths annotation
	// names (kubernetes.go); the agent derives file entries from it.
	TypeKubernetes = "kubernetes"
)

// Entry is one element of the collect config. Type selects which fields
// apply: path, exclude, start, format, multiline and max_line_bytes to
// files; units, priority, match, directory, file, seek and cursor to the
// journal; topic and fields to both. processors applies to files only
// (the journal task does not run them; see docs/logagent.md).
type Entry struct {
	Type         string            `json:"type,omitempty"` // file (default) or journald; set by Parse
	Path         string            `json:"path,omitempty"`
	Topic        string            `json:"topic"`
	Exclude      []string          `json:"exclude,omitempty"`
	Start        string            `json:"start,omitempty"`  // end (default) or beginning
	Format       string            `json:"format,omitempty"` // raw (default), json, docker, cri
	Multiline    *Multiline        `json:"multiline,omitempty"`
	Fields       map[string]string `json:"fields,omitempty"`
	MaxLineBytes int               `json:"max_line_bytes,omitempty"`
	// Processors is the entry's "processors" list as written (so a change
	// of it changes the entry, see Equal); Chain is it compiled by Parse.
	// The files of the entry share the chain (and its rate limit).
	Processors json.RawMessage  `json:"processors,omitempty"`
	Chain      *processor.Chain `json:"-"`

	Units     []string `json:"units,omitempty"`     // systemd units, any of them
	Priority  string   `json:"priority,omitempty"`  // this syslog priority and more severe: 0-7 or emerg..debug
	Match     []string `json:"match,omitempty"`     // journalctl FIELD=value matches ("+" between OR groups)
	Directory string   `json:"directory,omitempty"` // a journal directory instead of the system journal
	File      string   `json:"file,omitempty"`      // a single journal file
	Seek      string   `json:"seek,omitempty"`      // without a saved cursor: tail (default), head or cursor
	Cursor    string   `json:"cursor,omitempty"`    // with seek "cursor": start after this entry

	// Type kubernetes (kubernetes.go): which pods of the node, by namespace
	// and label selector (compiled into LabelSelector).
	Namespaces    []string        `json:"namespaces,omitempty"`
	Selector      string          `json:"selector,omitempty"`
	LabelSelector labels.Selector `json:"-"`
}

// fileOnly and journalOnly are the fields of one type that the other
// rejects.
var (
	fileOnly    = []string{"path", "exclude", "start", "format", "multiline", "max_line_bytes", "processors"}
	journalOnly = []string{"units", "priority", "match", "directory", "file", "seek", "cursor"}
	kubeOnly    = []string{"namespaces", "selector"}
)

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
			Type      string `json:"type"`
			Path      string `json:"path"`
			Directory string `json:"directory"`
			File      string `json:"file"`
		}
		_ = json.Unmarshal(raw, &loose) // only to name the entry in errors below
		name := loose.Path
		switch loose.Type {
		case TypeJournald:
			name = strings.TrimSpace("journald " + loose.Directory + loose.File)
		case TypeKubernetes:
			name = TypeKubernetes
		}
		fail := func(field, format string, args ...any) error {
			return &Error{Index: i + 1, Path: name, Field: field, Msg: fmt.Sprintf(format, args...)}
		}
		var e Entry
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			var ute *json.UnmarshalTypeError
			switch {
			case errors.As(err, &ute):
				return nil, fail(ute.Field, "%s is a JSON %s, want %s", ute.Field, ute.Value, rawjson.Describe(ute.Type))
			case strings.HasPrefix(err.Error(), "json: unknown field "):
				name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
				return nil, fail(name, "unknown field: remove it, or use one of type, topic, fields; for files path, %s; for the journal %s; for kubernetes %s",
					strings.Join(fileOnly[1:], ", "), strings.Join(journalOnly, ", "), strings.Join(kubeOnly, ", "))
			default:
				return nil, fail("", "%v: each entry must be an object like {\"path\":\"/var/log/app.log\",\"topic\":\"app_log\"}", err)
			}
		}
		var present map[string]json.RawMessage
		_ = json.Unmarshal(raw, &present) // decoded above, so an object
		var err error
		switch e.Type {
		case "", TypeFile:
			e.Type = TypeFile
			if err = foreign(present, journalOnly, "journald", fail); err == nil {
				if err = foreign(present, kubeOnly, TypeKubernetes, fail); err == nil {
					err = validate(&e, fail)
				}
			}
		case TypeJournald:
			if err = foreign(present, fileOnly, "file", fail); err == nil {
				if err = foreign(present, kubeOnly, TypeKubernetes, fail); err == nil {
					err = validateJournald(&e, fail)
				}
			}
		case TypeKubernetes:
			switch {
			case present["path"] != nil:
				err = fail("path", "a \"type\":\"kubernetes\" entry finds its files itself (container logs, and the files of the logcollect.io/paths annotation): remove path, or drop the type to read a path")
			default:
				if err = foreign(present, journalOnly, "journald", fail); err == nil {
					err = validateKubernetes(&e, fail)
				}
			}
		default:
			err = fail("type", "%q: want \"file\" (default), \"journald\" or \"kubernetes\"", e.Type)
		}
		if err != nil {
			return nil, err
		}
		if j, dup := seen[e.Key()]; dup {
			if e.Type == TypeKubernetes {
				return nil, fail("selector", "entry %d already follows these pods into %q: merge them or remove one", j, e.Topic)
			}
			if e.Type == TypeJournald {
				return nil, fail("topic", "entry %d already reads this journal with the same filters into %q: merge them or remove one", j, e.Topic)
			}
			return nil, fail("path", "%q is also entry %d: merge them or remove one", e.Path, j)
		}
		seen[e.Key()] = i + 1
		entries = append(entries, e)
	}
	return entries, nil
}

// foreign rejects the first field of another entry type.
func foreign(present map[string]json.RawMessage, fields []string, other string, fail func(field, format string, args ...any) error) error {
	lower := make(map[string]bool, len(present))
	for k := range present {
		lower[strings.ToLower(k)] = true // encoding/json matches names case-insensitively
	}
	for _, f := range fields {
		if lower[f] {
			if other == TypeKubernetes {
				return fail(f, "only applies to \"type\":\"kubernetes\" entries: remove it, or add \"type\":\"kubernetes\" (and drop path) to follow the node's pods")
			}
			if other == "journald" {
				return fail(f, "only applies to \"type\":\"journald\" entries: remove it, or add \"type\":\"journald\" (and drop path) to read the journal")
			}
			if f == "processors" {
				return fail(f, "are not run on \"type\":\"journald\" entries (only file entries run processors): remove them, and filter the journal with units, priority, match")
			}
			return fail(f, "only applies to file entries, not \"type\":\"journald\": remove it (the journal is chosen by directory or file, filtered by units, priority, match)")
		}
	}
	return nil
}

// validateJournald checks a journald entry with journald.Options.Validate
// plus what the allowlist needs (absolute, clean paths).
func validateJournald(e *Entry, fail func(field, format string, args ...any) error) error {
	if err := validateTopic(e, fail); err != nil {
		return err
	}
	for _, f := range []struct{ field, path string }{{"directory", e.Directory}, {"file", e.File}} {
		switch {
		case f.path == "":
		case !filepath.IsAbs(f.path):
			return fail(f.field, "%q is relative: use an absolute path such as /var/log/journal", f.path)
		case filepath.Clean(f.path) != f.path:
			return fail(f.field, "%q is not clean (.., // or a trailing /): write it as %q", f.path, filepath.Clean(f.path))
		}
	}
	if err := e.JournalOptions().Validate(); err != nil {
		var oe *journald.OptionError
		if errors.As(err, &oe) {
			return fail(oe.Field, "%s", oe.Msg)
		}
		return fail("", "%v", err)
	}
	if e.Seek == "" {
		e.Seek = journald.SeekTail
	}
	if e.Cursor != "" && e.Seek != journald.SeekCursor {
		return fail("cursor", "is only used with \"seek\":\"cursor\": set that, or remove the cursor")
	}
	return validateFields(e, fail)
}

// JournalOptions are the journalctl options of a journald entry (without
// Follow and the journalctl binary, which the agent sets).
func (e *Entry) JournalOptions() journald.Options {
	return journald.Options{Directory: e.Directory, File: e.File, Units: e.Units, Priority: e.Priority,
		Match: e.Match, Seek: e.Seek, Cursor: e.Cursor}
}

// Key identifies the entry's task across config changes. A file entry is
// its path. A journald entry is its cursor checkpoint's key (JournalKey).
func (e *Entry) Key() string {
	switch e.Type {
	case TypeJournald:
		return e.JournalKey().String()
	case TypeKubernetes:
		return e.kubernetesKey()
	}
	return e.Path
}

// JournalKey is the checkpoint key of a journald entry's cursor: its
// journal, topic and filters (units, priority, match), so editing fields or
// seek keeps the position while changing a filter starts a new stream.
func (e *Entry) JournalKey() checkpoint.Key {
	units := slices.Clone(e.Units)
	slices.Sort(units)
	filters, _ := json.Marshal(struct {
		Units    []string `json:"u"`
		Priority string   `json:"p"`
		Match    []string `json:"m"`
	}{units, e.Priority, e.Match})
	sum := sha256.Sum256(filters)
	journal := e.Directory + e.File // at most one is set
	if journal == "" {
		journal = "system"
	}
	return checkpoint.JournalKey(journal, e.Topic, hex.EncodeToString(sum[:8]))
}

func validateTopic(e *Entry, fail func(field, format string, args ...any) error) error {
	if err := kafkaconf.CheckTopic(e.Topic); err != nil {
		return fail("topic", "%v", err)
	}
	return nil
}

func validateFields(e *Entry, fail func(field, format string, args ...any) error) error {
	for k := range e.Fields {
		if k == "" {
			return fail("fields", "empty key: name every field")
		}
	}
	return nil
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
	if pathglob.Recursions(e.Path) > 1 {
		return fail("path", "%q has more than one **: one ** spans up to %d directories; write one, or one entry per branch", e.Path, pathglob.MaxDepth)
	}
	return validateFileOptions(e, fail)
}

// validateFileOptions checks what file and kubernetes entries share: how
// their files are read.
func validateFileOptions(e *Entry, fail func(field, format string, args ...any) error) error {
	if err := validateTopic(e, fail); err != nil {
		return err
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
	if err := validateFields(e, fail); err != nil {
		return err
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
	chain, err := processor.Parse(e.Processors, processor.Options{})
	if err != nil {
		return fail("", "%v", err) // names processors[i], its type and field
	}
	e.Chain = chain
	return nil
}

// CheckAllowed rejects entries whose path is outside the agent's
// allowed_paths, so a remote config cannot make the agent ship /etc/shadow.
// A journald entry's directory or file is checked the same way; the system
// journal (neither set, or a directory or file inside it) is
// CheckSystemJournal's business.
func CheckAllowed(entries []Entry, allowed []string) error {
	for i, e := range entries {
		if e.Type == TypeKubernetes {
			continue // its files are checked as the agent derives them (and by the harvesters)
		}
		if e.Type == TypeJournald {
			for _, f := range []struct{ field, path string }{{"directory", e.Directory}, {"file", e.File}} {
				if f.path != "" && !pathglob.MatchAny(allowed, f.path) {
					return &Error{Index: i + 1, Path: "journald " + f.path, Field: f.field,
						Msg: fmt.Sprintf("%q is outside the agent's allowed_paths (%s): read a journal there, or widen [agent] allowed_paths on the host", f.path, strings.Join(allowed, ", "))}
				}
			}
			continue
		}
		if !pathglob.MatchAny(allowed, e.Path) {
			return &Error{Index: i + 1, Path: e.Path, Field: "path",
				Msg: fmt.Sprintf("%q is outside the agent's allowed_paths (%s): collect from there, or widen [agent] allowed_paths on the host", e.Path, strings.Join(allowed, ", "))}
		}
	}
	return nil
}

// Matches reports whether the entry collects file: its glob matches and no
// exclude glob does. The one rule for every caller (the tasks, their
// ownership of shared files, the agent's status).
func (e *Entry) Matches(file string) bool {
	return e.PathMatches(file) && !e.Excluded(file)
}

// PathMatches reports whether the entry's path matches file, exclude globs
// aside. A "**" spans 0 to pathglob.MaxDepth directories, as Glob finds.
func (e *Entry) PathMatches(file string) bool { return pathglob.MatchExpanded(e.Path, file) }

// Globs are the plain globs of the entry's path (pathglob.Expand): one,
// or one per depth a "**" spans.
func (e *Entry) Globs() []string { return pathglob.Expand(e.Path) }

// Glob lists the paths the entry's path matches now (exclude globs aside),
// as filepath.Glob does for a path without "**".
func (e *Entry) Glob() ([]string, error) {
	var all []string
	for _, g := range e.Globs() {
		m, err := filepath.Glob(g)
		if err != nil {
			return nil, err
		}
		all = append(all, m...)
	}
	return all, nil
}

// Excluded reports whether file matches one of the entry's exclude globs,
// tried against the base name and the full path (where a "**" spans
// directories as in the entry's path).
func (e *Entry) Excluded(file string) bool {
	base := filepath.Base(file)
	for _, x := range e.Exclude {
		if ok, _ := filepath.Match(x, base); ok {
			return true
		}
		if pathglob.MatchExpanded(x, file) {
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
