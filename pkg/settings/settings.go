// Package settings reads a service's ini file (gopkg.in/ini.v1) with
// environment overrides, and collects every problem — unknown keys, bad
// values, alias conflicts — so start-up can report them all at once, each
// naming the section, key, value and what is accepted.
//
// A service declares its settings by reading them: every lookup registers the
// key as known, and Err then reports the keys in the file that nothing read.
package settings

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/ini.v1"
)

// Error is one bad setting.
type Error struct {
	Source  string // the ini file path, or the environment variable name
	Section string
	Key     string
	Value   string
	Want    string // what is accepted
	Unknown bool   // the key or section is not one the service reads
}

func (e *Error) Error() string {
	if e.Unknown {
		return fmt.Sprintf("%s: [%s] %s: %s", e.Source, e.Section, e.Key, e.Want)
	}
	return fmt.Sprintf("%s: [%s] %s = %q: want %s", e.Source, e.Section, e.Key, e.Value, e.Want)
}

// File is an ini file plus environment overrides. The zero value is unusable;
// call Load or Parse.
type File struct {
	path      string
	envPrefix string
	ini       *ini.File
	lookupEnv func(string) (string, bool)

	known    map[string]map[string]bool
	errs     []error
	warnings []string
}

// Load reads the ini file at path. Environment variables named
// <envPrefix>_<SECTION>_<KEY> (upper case) override the file.
func Load(path, envPrefix string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read settings %s: %w", path, err)
	}
	return Parse(path, data, envPrefix, os.LookupEnv)
}

// Parse is Load on bytes already read; lookupEnv is os.LookupEnv outside tests.
func Parse(path string, data []byte, envPrefix string, lookupEnv func(string) (string, bool)) (*File, error) {
	f, err := ini.LoadSources(ini.LoadOptions{
		Insensitive:              true,
		SpaceBeforeInlineComment: true,
	}, data)
	if err != nil {
		return nil, fmt.Errorf("parse settings %s: %w", path, err)
	}
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	return &File{path: path, envPrefix: envPrefix, ini: f, lookupEnv: lookupEnv, known: map[string]map[string]bool{}}, nil
}

// EnvName is the environment variable that overrides [section] key.
func (f *File) EnvName(section, key string) string {
	return strings.ToUpper(f.envPrefix + "_" + section + "_" + key)
}

// raw returns the value of [section] key from the environment or the file,
// and where it came from. Aliases are older names of the same key (the
// tutorial's config.ini); when both are set the canonical key wins and a
// warning says so.
func (f *File) raw(section, key string, aliases ...string) (val, source string, ok bool) {
	f.markKnown(section, key)
	for _, a := range aliases {
		f.markKnown(section, a)
	}
	if v, ok := f.lookupEnv(f.EnvName(section, key)); ok {
		return strings.TrimSpace(v), f.EnvName(section, key), true
	}
	sec := f.ini.Section(section)
	if sec.HasKey(key) {
		for _, a := range aliases {
			if sec.HasKey(a) {
				f.warnings = append(f.warnings, fmt.Sprintf("%s: [%s] both %s and its alias %s are set; %s wins", f.path, section, key, a, key))
			}
		}
		return strings.TrimSpace(sec.Key(key).String()), f.path, true
	}
	for _, a := range aliases {
		if sec.HasKey(a) {
			return strings.TrimSpace(sec.Key(a).String()), f.path, true
		}
	}
	return "", "", false
}

func (f *File) markKnown(section, key string) {
	section, key = strings.ToLower(section), strings.ToLower(key)
	if f.known[section] == nil {
		f.known[section] = map[string]bool{}
	}
	f.known[section][key] = true
}

func (f *File) fail(source, section, key, value, want string) {
	f.errs = append(f.errs, &Error{Source: source, Section: section, Key: key, Value: value, Want: want})
}

// String returns the value, or def when unset.
func (f *File) String(section, key, def string, aliases ...string) string {
	if v, _, ok := f.raw(section, key, aliases...); ok {
		return v
	}
	return def
}

// Strings returns a list separated by commas, semicolons or white space (the
// tutorial separated brokers with ';').
func (f *File) Strings(section, key string, def []string, aliases ...string) []string {
	v, _, ok := f.raw(section, key, aliases...)
	if !ok {
		return def
	}
	return SplitList(v)
}

// SplitList splits on commas, semicolons and white space, dropping empties.
func SplitList(v string) []string {
	parts := strings.FieldsFunc(v, func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n'
	})
	if len(parts) == 0 {
		return nil
	}
	return parts
}

// Int returns an integer within [min, max].
func (f *File) Int(section, key string, def, min, max int, aliases ...string) int {
	v, src, ok := f.raw(section, key, aliases...)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		f.fail(src, section, key, v, fmt.Sprintf("an integer from %d to %d", min, max))
		return def
	}
	return n
}

// Bool returns a boolean (true/false, yes/no, on/off, 1/0).
func (f *File) Bool(section, key string, def bool, aliases ...string) bool {
	v, src, ok := f.raw(section, key, aliases...)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "true", "yes", "on", "1":
		return true
	case "false", "no", "off", "0":
		return false
	}
	f.fail(src, section, key, v, "true or false")
	return def
}

// Duration returns a duration such as "500ms" or "5s"; a bare number is taken
// in bareUnit (the tutorial wrote timeouts as plain seconds). It must lie in
// [min, max].
func (f *File) Duration(section, key string, def, bareUnit, min, max time.Duration, aliases ...string) time.Duration {
	v, src, ok := f.raw(section, key, aliases...)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		if n, nerr := strconv.ParseFloat(v, 64); nerr == nil {
			d, err = time.Duration(n*float64(bareUnit)), nil
		}
	}
	if err != nil || d < min || d > max {
		f.fail(src, section, key, v, fmt.Sprintf("a duration from %s to %s, like \"5s\" or \"250ms\"", min, max))
		return def
	}
	return d
}

// Size returns a byte count such as "1048576", "512KiB", "10MB" or "1GiB",
// within [min, max].
func (f *File) Size(section, key string, def, min, max int64, aliases ...string) int64 {
	v, src, ok := f.raw(section, key, aliases...)
	if !ok {
		return def
	}
	n, err := ParseSize(v)
	if err != nil || n < min || n > max {
		f.fail(src, section, key, v, fmt.Sprintf("a size from %d to %d bytes, like \"1MiB\" or \"512KB\"", min, max))
		return def
	}
	return n
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1},
}

// ParseSize parses a byte count with an optional unit suffix.
func ParseSize(v string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", v)
	}
	return n * mult, nil
}

// Enum returns one of the allowed values (compared case-insensitively,
// returned as spelled in allowed).
func (f *File) Enum(section, key, def string, allowed []string, aliases ...string) string {
	v, src, ok := f.raw(section, key, aliases...)
	if !ok {
		return def
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	f.fail(src, section, key, v, "one of "+strings.Join(allowed, ", "))
	return def
}

// Written returns [section] key as written (environment first, then the
// file), or def when it is unset: what an error about a value the caller
// checks after parsing (a size, a duration) should quote.
func (f *File) Written(section, key, def string) string {
	if v, _, ok := f.raw(section, key); ok {
		return v
	}
	return def
}

// Check lets a caller validate a value it parsed itself (a regex, a URL):
// when err is non-nil it is recorded against [section] key.
func (f *File) Check(section, key, value string, err error) {
	if err != nil {
		src := f.path
		if _, ok := f.lookupEnv(f.EnvName(section, key)); ok {
			src = f.EnvName(section, key)
		}
		f.fail(src, section, key, value, err.Error())
	}
}

// Warnings are notes that do not stop start-up (an alias shadowed by its
// canonical key).
func (f *File) Warnings() []string { return f.warnings }

// Err reports every bad value and every key or section of the file that no
// lookup declared, or nil. Call it after all lookups.
func (f *File) Err() error {
	errs := append([]error(nil), f.errs...)
	for _, sec := range f.ini.Sections() {
		name := strings.ToLower(sec.Name())
		if strings.EqualFold(name, ini.DefaultSection) {
			if len(sec.Keys()) == 0 {
				continue
			}
			name = ""
		}
		known, ok := f.known[name]
		if !ok {
			errs = append(errs, &Error{Source: f.path, Section: sec.Name(), Key: "*", Unknown: true,
				Want: "unknown section; known sections: " + strings.Join(sortedKeys(f.known), ", ")})
			continue
		}
		for _, k := range sec.Keys() {
			if !known[strings.ToLower(k.Name())] {
				errs = append(errs, &Error{Source: f.path, Section: sec.Name(), Key: k.Name(), Unknown: true,
					Want: "unknown key; known keys in [" + sec.Name() + "]: " + strings.Join(sortedKeys(known), ", ")})
			}
		}
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Secret reads a password or token from key, or from the file that
// key_file names (the file wins), so a secret need sit in neither the ini nor
// the environment. A file that cannot be read is reported against key_file.
func (f *File) Secret(section, key string) string {
	value := f.String(section, key, "")
	if file := f.String(section, key+"_file", ""); file != "" {
		secret, err := readSecretFile(file)
		f.Check(section, key+"_file", file, err)
		return secret
	}
	return value
}

// readSecretFile reads a secret, trimming the final newline editors add.
func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// EnvNames lists the environment variables of every key looked up so far,
// sorted: what a deployment (docker-compose, systemd) may set.
func (f *File) EnvNames() []string {
	var out []string
	for section, keys := range f.known {
		for key := range keys {
			if section != "" {
				out = append(out, f.EnvName(section, key))
			}
		}
	}
	sort.Strings(out)
	return out
}
