package collect

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// SystemJournalDirs returns where journald keeps the host's own journal:
// persistent, volatile, and the old /var/run spelling of the latter.
// [agent] allow_journal = false covers them, their subdirectories (one per
// machine id) and the files in them, however a config names them. A func,
// not a package variable: nothing can change the list the checks use
// (tests pass theirs to InSystemJournal through the tasks' options).
func SystemJournalDirs() []string {
	return []string{"/var/log/journal", "/run/log/journal", "/var/run/log/journal"}
}

// InSystemJournal reports whether p names one of the system journal
// directories dirs (nil: SystemJournalDirs) or anything inside it, and the
// resolved form it compared. p may be a
// journalctl --file glob (a pattern that can match inside counts). ".",
// "..", repeated and trailing slashes and symlinks are resolved first (in
// p and in the journal directories themselves), so a link elsewhere that
// leads into the journal is the journal; a dangling link counts by its
// target, which may appear later. Hard links, bind mounts and copies cannot
// be told from other files; the open-time checks see symlinks made after
// the config was checked.
func InSystemJournal(p string, dirs []string) (resolved string, in bool) {
	resolved = resolvePath(p)
	if dirs == nil {
		dirs = SystemJournalDirs()
	}
	for _, dir := range dirs {
		if globUnder(resolved, dir) || globUnder(resolved, resolvePath(dir)) {
			return resolved, true
		}
	}
	return resolved, false
}

// maxLinks bounds symlink resolution, as the kernel's ELOOP does.
const maxLinks = 40

// resolvePath follows symlinks in the leading components of the absolute
// path p the way the kernel would (".." after a link leaves the link's
// target). It stops at the first component with glob metacharacters, or
// once a component does not exist; the rest is appended as written, cleaned.
// Unlike filepath.EvalSymlinks it never fails: a dangling link resolves to
// its target.
func resolvePath(p string) string {
	if !filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	todo := strings.Split(p, "/")
	cur, links := "/", 0
	for len(todo) > 0 {
		seg := todo[0]
		todo = todo[1:]
		switch {
		case seg == "" || seg == ".":
			continue
		case seg == "..":
			cur = filepath.Dir(cur)
			continue
		case strings.ContainsAny(seg, `*?[\`):
			return filepath.Join(append([]string{cur, seg}, todo...)...)
		}
		next := filepath.Join(cur, seg)
		fi, err := os.Lstat(next)
		if err != nil {
			return filepath.Join(append([]string{next}, todo...)...)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		target, err := os.Readlink(next)
		if links++; err != nil || links > maxLinks {
			return filepath.Join(append([]string{next}, todo...)...)
		}
		if filepath.IsAbs(target) {
			cur = "/"
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return cur
}

// globUnder reports whether the cleaned absolute pattern (a plain path
// being a pattern matching itself) can match dir or a path inside it.
func globUnder(pattern, dir string) bool {
	ps, ds := strings.Split(pattern, "/"), strings.Split(dir, "/")
	if len(ps) < len(ds) {
		return false
	}
	for i, d := range ds {
		if ok, err := path.Match(ps[i], d); err != nil || !ok {
			return false
		}
	}
	return true
}

// staticPrefix is the part of a file entry's glob before its first
// component with metacharacters: where every file it matches lies.
func staticPrefix(glob string) string {
	segs := strings.Split(glob, "/")
	for i, s := range segs {
		if strings.ContainsAny(s, `*?[\`) {
			return strings.Join(segs[:i], "/")
		}
	}
	return glob
}

// CheckSystemJournal rejects, unless the host allows reading its own
// journal ([agent] allow_journal), every entry that would read it:
// journald entries without directory or file, journald entries whose
// directory or file lies in a system journal directory (InSystemJournal),
// and file entries whose path lies there. A file entry's glob that only
// reaches into the journal through a wildcard (/var/log/**) is allowed
// here; the harvester skips the journal's files when it opens them.
func CheckSystemJournal(entries []Entry, allowed bool) error {
	if allowed {
		return nil
	}
	const disabled = "reading the system journal is disabled on this host ([agent] allow_journal = false)"
	for i, e := range entries {
		if e.Type == TypeKubernetes {
			continue // derived file entries are checked as the agent derives them
		}
		if e.Type != TypeJournald {
			if real, in := InSystemJournal(staticPrefix(e.Path), nil); in {
				return &Error{Index: i + 1, Path: e.Path, Field: "path",
					Msg: fmt.Sprintf("%q is in the system journal (resolves to %s) and %s: collect other files, or allow it on the host", e.Path, real, disabled)}
			}
			continue
		}
		if e.Directory == "" && e.File == "" {
			return &Error{Index: i + 1, Path: "journald", Field: "type",
				Msg: disabled + ": set directory or file to a journal inside allowed_paths, or allow it on the host"}
		}
		for _, f := range []struct{ field, path string }{{"directory", e.Directory}, {"file", e.File}} {
			if f.path == "" {
				continue
			}
			if real, in := InSystemJournal(f.path, nil); in {
				return &Error{Index: i + 1, Path: "journald " + f.path, Field: f.field,
					Msg: fmt.Sprintf("%q is the system journal (resolves to %s) and %s: set %s to another journal inside allowed_paths, or allow it on the host", f.path, real, disabled, f.field)}
			}
		}
	}
	return nil
}

// Policy is what a host lets a remote collect config read.
type Policy struct {
	AllowedPaths []string // [agent] allowed_paths; nil checks no paths (logagent validate without -config)
	AllowJournal bool     // [agent] allow_journal
}

// Check applies the host's policy to parsed entries: CheckAllowed, then
// CheckSystemJournal. The agent and `logagent validate` both call it, so
// they accept and reject the same configs.
func (p Policy) Check(entries []Entry) error {
	if p.AllowedPaths != nil {
		if err := CheckAllowed(entries, p.AllowedPaths); err != nil {
			return err
		}
	}
	return CheckSystemJournal(entries, p.AllowJournal)
}
