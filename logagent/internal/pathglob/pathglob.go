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

// MaxDepth is how many directories a "**" of a collect path spans at most,
// as in Filebeat's recursive glob: each depth is one more glob a scan runs
// and one more level of directories the agent watches.
const MaxDepth = 8

// Recursions counts pattern's "**" segments (a collect path may have one).
func Recursions(pattern string) int {
	if !strings.Contains(pattern, "**") { // most paths: no split, no allocation
		return 0
	}
	n := 0
	for _, seg := range strings.Split(pattern, "/") {
		if seg == "**" {
			n++
		}
	}
	return n
}

// Recursive reports whether pattern has a "**" segment.
func Recursive(pattern string) bool { return Recursions(pattern) > 0 }

// Expand returns the plain globs (filepath.Glob syntax) a collect path
// stands for: itself without a "**" segment; with one, the path with "**"
// replaced by 0 to MaxDepth "*" directories (a trailing "**" stands for
// "**/*": files, not the directory itself). Collect paths have at most one
// "**" (collect.Parse checks it); a second is expanded as "*". The globs
// match disjoint sets of paths: each has its own number of segments.
func Expand(pattern string) []string {
	segs := strings.Split(pattern, "/")
	at := -1
	for i, seg := range segs {
		if seg == "**" {
			if at >= 0 {
				segs[i] = "*"
				continue
			}
			at = i
		}
	}
	if at < 0 {
		return []string{pattern}
	}
	head, tail := segs[:at], segs[at+1:]
	if len(tail) == 0 {
		tail = []string{"*"}
	}
	out := make([]string, 0, MaxDepth+1)
	for depth := 0; depth <= MaxDepth; depth++ {
		parts := make([]string, 0, len(head)+depth+len(tail))
		parts = append(parts, head...)
		for range depth {
			parts = append(parts, "*")
		}
		out = append(out, strings.Join(append(parts, tail...), "/"))
	}
	return out
}

// MatchExpanded reports whether name matches one of Expand(pattern): a
// collect path's rule (a "**" spans at most MaxDepth directories), where
// Match's "**" spans any number.
func MatchExpanded(pattern, name string) bool {
	if !Recursive(pattern) {
		ok, _ := path.Match(pattern, name)
		return ok
	}
	for _, g := range Expand(pattern) {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}
