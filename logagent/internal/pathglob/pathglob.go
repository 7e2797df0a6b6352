// Package pathglob matches slash-separated paths against globs where "**"
// spans any number of directories. It bounds what a remote collect config may
// read ([agent] allowed_paths): the standard library's path.Match has no "**".
package pathglob

import (
	"fmt"
	"path"
	"strings"
)

// Validate reports whether pattern is an absolute, well-formed glob.
func Validate(pattern string) error {
	if !strings.HasPrefix(pattern, "/") {
		return fmt.Errorf("%q is not absolute: start it with /", pattern)
	}
	for _, seg := range strings.Split(pattern, "/") {
		if seg == "**" {
			continue
		}
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("%q: bad pattern segment %q: %w", pattern, seg, err)
		}
	}
	return nil
}

// Match reports whether name matches pattern; "**" matches zero or more
// whole path segments, other segments follow path.Match.
func Match(pattern, name string) bool {
	return match(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func match(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			rest := pat[1:]
			for i := 0; i <= len(name); i++ {
				if match(rest, name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, err := path.Match(pat[0], name[0]); err != nil || !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// MatchAny reports whether name matches one of patterns.
func MatchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if Match(p, name) {
			return true
		}
	}
	return false
}
