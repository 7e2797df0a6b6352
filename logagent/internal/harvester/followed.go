package harvester

import (
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
	"github.com/logcollect/logcollect/logagent/internal/pathglob"
)

// A rescan checks every followed path still names the file its harvester
// reads: a stat per file per scan_interval, a seventh of the agent's CPU
// with 1,000 files and scan_interval 1s. A path can only come to name
// another file through a change of its directory (create, rename, unlink,
// link), which both moves the directory's mtime and ctime and raises an
// inotify event. So a path checked at one scan is taken as unchanged at the
// next without a stat when, since that check, its directory's stat is the
// same and was settled (settleMargin), its directory is watched, no
// directory event reached the task, and the check found a plain file (a
// symlink's target lives elsewhere; it is stat'ed every scan as before).
// Any doubt is a full check, as before.

// dirStamp is what a stat of a directory says about its entries.
type dirStamp struct {
	dev, ino     uint64
	mtime, ctime int64
}

// settleMargin is how old a directory's timestamps must be, when stat'ed,
// for a later change to be sure to move them: file systems stamp with a
// coarse clock (a kernel tick; 2 s on FAT), so a change right after the
// stat could otherwise leave the same stamp.
const settleMargin = 2 * time.Second

// followedPath is a path found, at a scan, to name the file h follows.
type followedPath struct {
	h      *harvester
	dir    dirStamp
	events uint64 // the task's directory events when the scan began
}

// scanView is what one scan learned of the directories of its matches.
type scanView struct {
	t      *Task
	events uint64 // directory events seen before the scan began
	now    time.Time
	dirs   map[string]dirView

	lastDir string // the directory asked for last, and what dir said: the matches of one glob share it
	last    dirView
}

type dirView struct {
	stamp   dirStamp
	trusted bool // settled, and watched by inotify
}

func (t *Task) newScanView() *scanView {
	// events first: one arriving during the scan then makes the next
	// scan check in full.
	return &scanView{t: t, events: t.disc.changes.Load(), now: time.Now(), dirs: map[string]dirView{}}
}

// dir stats dir once per scan.
func (v *scanView) dir(dir string) dirView {
	if dir == v.lastDir && v.dirs != nil {
		return v.last
	}
	if d, ok := v.dirs[dir]; ok {
		v.lastDir, v.last = dir, d
		return d
	}
	var d dirView
	var st syscall.Stat_t
	if err := ignoringEINTR(func() error { return syscall.Stat(dir, &st) }); err == nil {
		d.stamp = dirStamp{dev: uint64(st.Dev), ino: st.Ino, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}
		limit := v.now.Add(-settleMargin).UnixNano()
		d.trusted = d.stamp.mtime < limit && d.stamp.ctime < limit && v.t.disc.watches(dir)
	}
	v.dirs[dir] = d
	v.lastDir, v.last = dir, d
	return d
}

// following reports whether path names the file a harvester of the task
// already follows under that name (such a file was checked when it was
// opened), without a stat when nothing can have changed it since the last
// scan (see above).
func (t *Task) following(path string, v *scanView) bool {
	d := v.dir(parentDir(path))
	if f, ok := t.followed[path]; ok && d.trusted && f.dir == d.stamp && f.events == v.events && t.runs(f.h, path) {
		t.nextFollowed[path] = f
		return true
	}
	h, plain := t.followedBy(path)
	if h == nil {
		return false
	}
	if plain && d.trusted {
		t.nextFollowed[path] = followedPath{h: h, dir: d.stamp, events: v.events}
	}
	return true
}

// endScan keeps the paths this scan found followed, for the next.
func (t *Task) endScan() {
	clear(t.followed)
	t.followed, t.nextFollowed = t.nextFollowed, t.followed
}

// followedBy returns the harvester that follows path under that name, if
// any, and whether path is a plain file (not a symlink).
func (t *Task) followedBy(path string) (h *harvester, plain bool) {
	t.pathStats++
	var st syscall.Stat_t
	if err := ignoringEINTR(func() error { return syscall.Lstat(path, &st) }); err != nil {
		return nil, false
	}
	dev, ino := uint64(st.Dev), st.Ino
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		plain = true
	case syscall.S_IFLNK:
		fi, err := statFile(path)
		if err != nil {
			return nil, false
		}
		dev, ino = fi.dev, fi.ino
	default:
		return nil, false
	}
	t.mu.Lock()
	h = t.running[checkpoint.FileKey(dev, ino, t.o.Entry.Topic)]
	t.mu.Unlock()
	if h == nil || *h.path.Load() != path {
		return nil, false
	}
	return h, plain
}

// runs reports whether h still follows path: it is in t.running until it
// finished (gone).
func (t *Task) runs(h *harvester, path string) bool {
	return !h.gone.Load() && *h.path.Load() == path
}

// parentDir is filepath.Dir for the clean paths filepath.Glob returns,
// without its allocation (a scan asks for each of 1,000 paths).
func parentDir(path string) string {
	i := strings.LastIndexByte(path, '/')
	switch {
	case i < 0:
		return "."
	case i == 0:
		return "/"
	}
	return path[:i]
}

// glob is the entry's Glob or, when the pattern's
// directory part has no wildcard and that directory is unchanged since the
// last glob (its stat the same and settled, watched, no directory event:
// the conditions of a stat-free path check), the last glob's result:
// reading and matching 1,000 names a scan_interval was as costly as
// stat'ing them.
func (t *Task) glob(v *scanView) ([]string, error) {
	pattern := t.o.Entry.Path
	dirPart, _ := filepath.Split(pattern)
	if hasMeta(dirPart) || pathglob.Recursive(pattern) {
		return t.o.Entry.Glob()
	}
	d := v.dir(filepath.Clean(dirPart)) // before the glob reads it: a change after the stat moves the stamp
	if g := &t.lastGlob; g.trusted && d.trusted && g.dir == d.stamp && g.events == v.events {
		return g.matches, nil
	}
	matches, err := filepath.Glob(pattern)
	t.lastGlob = globResult{trusted: err == nil && d.trusted, dir: d.stamp, events: v.events, matches: matches}
	return matches, err
}

// globResult is the last glob of a task's pattern, with what its
// directory said then.
type globResult struct {
	trusted bool
	dir     dirStamp
	events  uint64
	matches []string
}

// watches reports whether the task's directory watch covers dir and still
// delivers events.
func (d *discovery) watches(dir string) bool {
	if !d.on || d.blind.Load() {
		return false
	}
	d.mu.Lock()
	_, ok := d.dirs[dir]
	d.mu.Unlock()
	return ok && d.hub().watching(dir, d)
}
