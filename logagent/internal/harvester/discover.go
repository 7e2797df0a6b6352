package harvester

// Discovery: how a task learns of new files between two scans.
//
// A file that appears and is rotated out of the glob (or deleted) between
// two scans was never read: with busy services a quarter of the lines. So
// the task watches, with inotify (internal/dirwatch; one instance for all
// tasks, shared through dirhub.go),
// the directories its glob can match, and opens a file whose name matches at its create event: the open
// descriptor holds the file, however soon it is renamed or deleted, and the
// next scan (a few milliseconds later, coalescing the burst) identifies it
// and starts its harvester. A file created and renamed out of the glob
// before its create event was handled is opened under its new name, found
// by the rename's cookie that pairs the old name with the new one (in a
// watched directory; a file moved elsewhere that fast is missed). A followed file's harvester that sees its path
// hold another file triggers a scan too (the watch may be missing). The
// periodic scan stays as the safety net: inotify limits, an overflowing
// event queue (which triggers a scan), or a directory that cannot be
// watched.

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
	"github.com/logcollect/logcollect/logagent/internal/dirwatch"
)

// settleDelay is how long a scan triggered by a directory event waits for
// more events, so a burst (logrotate renaming and creating, many files
// created at once) costs one scan. Files are opened at their event, so the
// delay loses nothing.
const settleDelay = 5 * time.Millisecond

// minEventScanGap bounds how often directory events trigger a scan: a
// directory with heavy churn costs at most one scan per gap (plus the
// opens of the files that appeared, which do not wait for it).
const minEventScanGap = 20 * time.Millisecond

// discovery is a task's directory watch and the files it opened since the
// last scan.
type discovery struct {
	t     *Task
	on    bool              // watching (the hub joined); false: inotify unavailable, periodic scans only
	limit bool              // a watch could not be added (logged once)
	moved map[uint32]string // rename cookie → the matching name renamed away; the hub's goroutine only

	mu     sync.Mutex
	dirs   map[string]bool // watched directory → a deeper level of the glob may match in it (its new directories matter)
	pinned []pinnedFile

	// Files whose checkpoint covered them when last checked (see readToEnd),
	// by key; scan goroutine only.
	complete map[checkpoint.Key]completeFile
	gen      int // scans so far

	changes atomic.Uint64 // directory events (and overflows) so far: a scan's stat-free checks trust none since (followed.go)
	blind   atomic.Bool   // the watch stopped delivering events
}

// pinnedFile is a file opened by discovery, identified at the next scan.
type pinnedFile struct {
	f  *os.File
	fi fileInfo
}

type completeFile struct {
	ctime int64 // the inode's change time when it was checked
	gen   int   // the scan that last saw it
}

// rescanSoon asks the task for a scan, without blocking.
func (t *Task) rescanSoon() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// settle waits settleDelay (and at least minEventScanGap since the last
// scan) and swallows the kicks that came meanwhile; false if the task
// stopped.
func (t *Task) settle(last time.Time) bool {
	wait := max(settleDelay, time.Until(last.Add(minEventScanGap)))
	tm := time.NewTimer(wait)
	defer tm.Stop()
	select {
	case <-t.ctx.Done():
		return false
	case <-tm.C:
	}
	select {
	case <-t.kick:
	default:
	}
	return true
}

// watchDirs starts the directory watch of the task's glob. Without inotify
// (an instance limit reached) the task scans every scan_interval only.
func (t *Task) watchDirs() {
	d := &t.disc
	d.t = t
	d.dirs = map[string]bool{}
	if err := d.hub().join(); err != nil {
		t.o.Log.Warn("cannot watch directories (inotify instances exhausted? raise fs.inotify.max_user_instances); new files are found at every scan_interval only, and files rotated away sooner are missed", "path", t.o.Entry.Path, "err", err)
		return
	}
	d.on, d.moved = true, map[uint32]string{}
	d.sync()
}

// hub is the directory watch the task shares with the other tasks of its
// scheduler.
func (d *discovery) hub() *dirHub { return &d.t.o.Scheduler.dirs }

// close stops the watch and releases the files not yet taken by a scan.
func (d *discovery) close() {
	if d.on {
		d.hub().leave(d)
	}
	for _, p := range d.take() {
		p.f.Close()
	}
}

// sync watches the directories the glob can match now: its fixed leading
// directory, and every directory matched by each further level of the
// pattern's directory part (so /var/log/*/app.log sees /var/log/new/ appear,
// and then app.log in it). A "**" is one plain glob per depth it spans
// (pathglob.Expand), each watched so.
func (d *discovery) sync() {
	if !d.on {
		return
	}
	want := map[string]bool{} // directory → a deeper level of a glob may match in it
	for _, g := range d.t.o.Entry.Globs() {
		globDirs(g, want)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for dir, deeper := range want {
		if _, ok := d.dirs[dir]; ok && d.hub().watching(dir, d) {
			d.dirs[dir] = deeper
			continue
		}
		if err := d.hub().add(dir, d); err != nil {
			if !errors.Is(err, fs.ErrNotExist) && !d.limit {
				d.limit = true
				d.t.o.Log.Warn("cannot watch a directory (inotify watch limit? raise fs.inotify.max_user_watches); its new files are found at every scan_interval only", "dir", dir, "err", err)
			}
			continue
		}
		d.dirs[dir] = deeper
	}
	for dir := range d.dirs {
		if _, ok := want[dir]; !ok {
			d.hub().remove(dir, d)
			delete(d.dirs, dir)
		}
	}
}

// globDirs adds to want the directories plain glob g can match files in
// or under, each marked when a deeper level of g may match in it.
func globDirs(g string, want map[string]bool) {
	prefix, rest := fixedDir(filepath.Dir(g))
	want[prefix] = want[prefix] || len(rest) > 0
	level := []string{prefix}
	for i, seg := range rest {
		var next []string
		for _, p := range level {
			m, _ := filepath.Glob(filepath.Join(p, seg))
			for _, c := range m {
				if st, err := os.Stat(c); err == nil && st.IsDir() {
					next = append(next, c)
					want[c] = want[c] || i < len(rest)-1
				}
			}
		}
		level = next
	}
}

// fixedDir splits an absolute directory pattern into its fixed leading
// directory (up to the first segment with a wildcard) and the segments
// after it.
func fixedDir(dir string) (prefix string, rest []string) {
	parts := strings.Split(dir, string(filepath.Separator))
	prefix = "/"
	i := 1
	for ; i < len(parts) && !hasMeta(parts[i]); i++ {
		prefix = filepath.Join(prefix, parts[i])
	}
	return prefix, parts[i:]
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// event handles one directory event, on the hub's goroutine. Writes raise
// none (see dirwatch): a followed file's growth reaches its harvester by
// itself.
func (d *discovery) event(ev dirwatch.Event) {
	d.changes.Add(1)
	switch {
	case ev.Arrived():
		if d.t.o.Entry.PathMatches(ev.Name) && !ev.IsDir() {
			if d.pin(ev.Name, ev.Name) {
				d.t.rescanSoon()
			}
			return
		}
		if old, ok := d.moved[ev.Cookie]; ok && ev.MovedIn() {
			// A matching file renamed out of the glob: open it under its
			// new name in case it was never seen under the old one.
			delete(d.moved, ev.Cookie)
			if d.pin(ev.Name, old) {
				d.t.rescanSoon()
			}
			return
		}
		if ev.IsDir() {
			d.mu.Lock()
			deeper := d.dirs[filepath.Dir(ev.Name)]
			d.mu.Unlock()
			if deeper {
				d.t.rescanSoon() // a directory a deeper level of the glob may match
			}
		}
	case ev.MovedAway():
		if d.t.matches(ev.Name) {
			if len(d.moved) >= 256 { // halves never seen: moved out of the watched directories
				clear(d.moved)
			}
			d.moved[ev.Cookie] = ev.Name
		}
	}
}

// pin opens path for the next scan unless a harvester of the task already
// follows it; name is the path it matched the glob under (its records'
// path). Reports whether it opened it.
func (d *discovery) pin(path, name string) bool {
	t := d.t
	if t.o.Entry.Excluded(name) {
		return false
	}
	f, fi, _, err := openFile(path, t.policy())
	if err != nil {
		return false // gone already, or refused by the checked open: the scan logs why if it is still there
	}
	fi.path = name
	if t.Live(checkpoint.FileKey(fi.dev, fi.ino, t.o.Entry.Topic)) {
		f.Close()
		return false
	}
	d.repin(f, fi)
	return true
}

// fstatFile is statFile for an open file.
func fstatFile(f *os.File) (fileInfo, error) {
	var st syscall.Stat_t
	if err := ignoringEINTR(func() error { return syscall.Fstat(int(f.Fd()), &st) }); err != nil {
		return fileInfo{}, &fs.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return fileInfo{}, &fs.PathError{Op: "open", Path: f.Name(), Err: errors.New("not a regular file")}
	}
	return fileInfoOf(f.Name(), &st), nil
}

// repin keeps an open file for the next scan (a file identify left for
// later).
func (d *discovery) repin(f *os.File, fi fileInfo) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pinnedLocked(fi) {
		f.Close() // one descriptor per file: a scan meets a waiting file both pinned and by the glob
		return
	}
	d.pinned = append(d.pinned, pinnedFile{f, fi})
}

// isPinned reports whether the file (device and inode of fi) is pinned,
// waiting for the next scan.
func (d *discovery) isPinned(fi fileInfo) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pinnedLocked(fi)
}

func (d *discovery) pinnedLocked(fi fileInfo) bool {
	for _, p := range d.pinned {
		if p.fi.dev == fi.dev && p.fi.ino == fi.ino {
			return true
		}
	}
	return false
}

// take hands the pinned files to a scan.
func (d *discovery) take() []pinnedFile {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.pinned
	d.pinned = nil
	return p
}

// scanPinned is the part of a scan for the files discovery opened (and, at
// the task's first scan, the rotated files recovered from the checkpoints,
// see recover.go): each is identified like a file the glob matched and
// joins starts, or is closed.
func (t *Task) scanPinned(starts *[]pendingStart, firstScan bool) {
	d := &t.disc
	d.gen++
	if d.gen%64 == 0 {
		for k, c := range d.complete {
			if c.gen < d.gen-1 {
				delete(d.complete, k) // no longer matched by the glob
			}
		}
	}
	pins := d.take()
	if !t.recovered {
		t.recovered = true
		pins = append(pins, t.recoverRotated()...)
	}
	for _, p := range pins {
		if t.ctx.Err() != nil {
			p.f.Close()
			continue
		}
		fi, err := fstatFile(p.f)
		if err != nil {
			p.f.Close()
			continue
		}
		fi.path = p.fi.path
		key := checkpoint.FileKey(fi.dev, fi.ino, t.o.Entry.Topic)
		if pendingKey(*starts, key) || t.Live(key) {
			p.f.Close()
			continue
		}
		if cp, ok := t.o.Store.Get(key); ok && cp.Offset == fi.size && cp.FPLen == int(min(fi.size, FingerprintSize)) && t.readToEnd(key, fi, cp, p.f) {
			p.f.Close()
			continue
		}
		if !t.claim(key, fi.path) {
			p.f.Close()
			continue
		}
		id, offset, fp, err := t.identify(p.f, fi, key, firstScan)
		if t.setAside(p.f, fi, key, err) {
			continue
		}
		if err != nil {
			p.f.Close()
			t.release(key)
			continue
		}
		*starts = append(*starts, pendingStart{f: p.f, fi: fi, key: key, id: id, offset: offset, fp: fp})
	}
}

// readToEnd reports whether the file at fi is the one whose checkpoint cp
// covers it to its end, so a scan need not open it again. Size alone is not
// enough: an inode freed and reused by a new file of the same size would
// never be read (every other generation of a file deleted and recreated
// with the same size, or one that begins with the same header). So the file
// is checked as identify checks it (isCheckpointed) once, and again only
// when the inode's change time moved. f is the open file, or nil.
func (t *Task) readToEnd(key checkpoint.Key, fi fileInfo, cp checkpoint.Entry, f *os.File) bool {
	d := &t.disc
	if c, ok := d.complete[key]; ok && c.ctime == fi.ctime {
		d.complete[key] = completeFile{fi.ctime, d.gen}
		return true
	}
	if f == nil {
		var err error
		var now fileInfo
		if f, now, _, err = openFile(fi.path, t.policy()); err != nil {
			return false // the scan opens it and says why it cannot
		}
		defer f.Close()
		if now.dev != fi.dev || now.ino != fi.ino {
			return false
		}
	}
	if same, err := isCheckpointed(f, fi, cp); err != nil || !same {
		return false // another file in that inode: the scan identifies it
	}
	if d.complete == nil {
		d.complete = map[checkpoint.Key]completeFile{}
	}
	d.complete[key] = completeFile{fi.ctime, d.gen}
	return true
}

// checkMoved runs when a harvester's file stops growing: if its path now
// holds another file (renamed or deleted and recreated), the task scans at
// once instead of at the next scan_interval, in case the new file does not
// live that long. One stat per pause of the file, not per step.
func (h *harvester) checkMoved() {
	if h.o.rescan == nil {
		return
	}
	fi, err := statFile(*h.path.Load())
	if err != nil || fi.dev != h.dev || fi.ino != h.ino {
		h.o.rescan()
	}
}
