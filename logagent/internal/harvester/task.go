package harvester

// How the agent uses nxadm/tail (the tailing library the project chose):
// its polling watcher tells each harvester when its file, at rest, changed
// (see watch.go; a file being written is looked at on the scheduler's own
// cadence, sched.go), and the agent owns reading and rotation. The library's Tail
// reader is not used because in v1.4.11, after EOF, it selects between the
// watcher's Modified, Deleted and Truncated events and on Deleted reopens
// or stops without reading the rest of the old file, so lines written just
// before a rename can be skipped; it holds whole lines in memory however
// long they are; and its truncation reopen resets the position without
// telling the caller. So each harvester reads through its own descriptor
// with a bounded line reader that knows exact byte offsets, and files are
// identified by device, inode and fingerprint. See docs/logagent.md.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
	"github.com/logcollect/logcollect/logagent/internal/decode"
	"github.com/logcollect/logcollect/logagent/internal/linereader"
	"github.com/logcollect/logcollect/pkg/logging"
)

// Task runs the harvesters of one collect entry: it rescans the entry's
// glob every ScanInterval and starts a harvester for each file with unread
// bytes.
type Task struct {
	o      Options
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	ownSched  bool                 // the scheduler was started for this task alone
	prevTopic string               // the entry's topic before an edit (see previousTopic)
	copyWait  map[string]time.Time // possible copies in the making (see copyOf); the scan's own
	// compressed are files skipped as compressed (key → size then), not
	// opened again while their size stays; the scan's own.
	compressed map[checkpoint.Key]int64

	kick      chan struct{} // a scan is wanted now (see discover.go)
	disc      discovery
	recovered bool // the first scan looked for files rotated while the agent was down (recover.go)
	matched   int8 // the glob has matched a file (1), or the scans found none and said so (-1); the scan's own

	// Paths the last scan found followed, checked without a stat by the
	// next (followed.go); the scan's own.
	followed, nextFollowed map[string]followedPath
	lastGlob               globResult
	pathStats              int // followed paths checked with a stat (tests)

	mu      sync.Mutex
	running map[checkpoint.Key]*harvester
	errLog  *logging.Limited // per path, a line a minute

	chainRep chainReport
}

// Start begins scanning.
func Start(o Options) *Task {
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Task{o: o, ctx: ctx, cancel: cancel, kick: make(chan struct{}, 1), running: map[checkpoint.Key]*harvester{}, errLog: logging.NewLimited(time.Minute),
		followed: map[string]followedPath{}, nextFollowed: map[string]followedPath{}}
	t.prevTopic = previousTopic(o.Store, o.Entry.Path, o.Entry.Topic)
	t.o.rescan = t.rescanSoon
	t.o.report = t.reportChain
	t.o.Owners.join(t)
	if t.o.Scheduler == nil {
		t.o.Scheduler, t.ownSched = NewScheduler(0, o.PollInterval), true
	}
	t.wg.Add(1)
	go t.loop()
	return t
}

// Close stops reading, waits up to StopTimeout for in-flight lines to be
// acknowledged, and releases the files. Safe to call twice.
func (t *Task) Close() {
	t.once.Do(func() {
		t.cancel()
		t.mu.Lock()
		hs := make([]*harvester, 0, len(t.running))
		for _, h := range t.running {
			hs = append(hs, h)
		}
		t.mu.Unlock()
		t.o.Scheduler.drop(hs) // any started meanwhile run at once, and their step ends
		t.wg.Wait()
		t.reportChain()
		t.o.Owners.leave(t)
		if t.ownSched {
			t.o.Scheduler.Close()
		}
	})
}

// Live reports whether a harvester of this task holds checkpoint key.
func (t *Task) Live(key checkpoint.Key) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.running[key]
	return ok
}

// scanSoon asks for a scan after a poll interval (a file left for later is
// looked at again before the next scan_interval).
func (t *Task) scanSoon() { time.AfterFunc(t.o.PollInterval, t.rescanSoon) }

// beingRead reports whether a harvester, of this task or another, reads
// key.
func (t *Task) beingRead(key checkpoint.Key) bool { return t.o.Owners.beingRead(t, key) }

func (t *Task) loop() {
	defer t.wg.Done()
	t.watchDirs() // before the first scan: a file created meanwhile is not missed
	defer t.disc.close()
	tick := time.NewTicker(t.o.ScanInterval)
	defer tick.Stop()
	for {
		last := time.Now()
		t.scan()
		t.disc.sync()
		select {
		case <-t.ctx.Done():
			return
		case <-tick.C:
		case <-t.kick:
			if !t.settle(last) {
				return
			}
		}
	}
}

func (t *Task) scan() {
	e := &t.o.Entry
	view := t.newScanView()
	matches, err := t.glob(view)
	if err != nil { // validated by collect.Parse; kept for safety
		t.o.Log.Error("bad path pattern", "path", e.Path, "err", err)
		return
	}
	t.noteNoMatch(len(matches))
	firstScan := !t.o.Store.Seen(t.o.Entry.Path, t.o.Entry.Topic)
	// Harvesters start after the loop, and only those whose ids are on
	// disk (see persistNewIDs).
	var starts []pendingStart
	defer func() {
		t.endScan()
		if len(starts) > 0 {
			t.persistNewIDs(starts)
		}
		for _, s := range starts {
			if t.ctx.Err() != nil || !t.o.Store.Saved(s.key, s.id) {
				s.f.Close()
				t.release(s.key)
				continue
			}
			t.startHarvester(s.f, s.fi, s.key, s.id, s.offset, s.fp)
		}
	}()
	t.scanPinned(&starts, firstScan)
	for _, path := range matches {
		if t.ctx.Err() != nil {
			return
		}
		if e.Excluded(path) {
			continue
		}
		if t.following(path, view) {
			continue
		}
		fi, err := statFile(path)
		if errors.Is(err, errDirectory) {
			if path == e.Path { // no glob: the entry names the directory itself
				t.logOnce(path, "the collect entry's path is a directory, not a file: write a glob of its files", "example", path+"/*.log")
			}
			continue
		}
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				t.logOnce(path, "cannot collect file; retrying at every scan", "err", err)
				if pe := (*fs.PathError)(nil); errors.As(err, &pe) { // a stat that failed, not a directory the glob matched
					t.o.fileError(path, err)
				}
			}
			continue
		}
		key := checkpoint.FileKey(fi.dev, fi.ino, e.Topic)
		if pendingKey(starts, key) {
			continue // another name of a file this scan starts (hard link)
		}
		if size, ok := t.compressed[key]; ok && size == fi.size {
			continue // skipped as compressed, unchanged since
		}
		if t.disc.isPinned(fi) {
			continue // left for later by this scan (a possible copy in the making): the next scan looks again
		}
		t.mu.Lock()
		h := t.running[key]
		t.mu.Unlock()
		if h != nil {
			t.followRename(h, key, *h.path.Load(), path, fi) // renamed, still matching the glob: same file, same harvester
			continue
		}
		// Nothing new since the checkpoint: do not open (thousands of old
		// rotated files must not hold descriptors).
		if cp, ok := t.o.Store.Get(key); ok && cp.Offset == fi.size && cp.FPLen == int(min(fi.size, FingerprintSize)) && t.readToEnd(key, fi, cp, nil) {
			t.followRename(nil, key, cp.Path, path, fi)
			continue
		}
		if !t.claim(key, path) {
			continue // another entry with the topic reads it (owners.go)
		}
		if t.o.beforeOpen != nil {
			t.o.beforeOpen(path)
		}
		f, ofi, ok := t.open(path)
		if !ok {
			t.release(key)
			continue
		}
		if ofi.dev != fi.dev || ofi.ino != fi.ino {
			f.Close() // the path was swapped since the stat: next scan
			t.release(key)
			continue
		}
		fi = ofi
		id, offset, fp, err := t.identify(f, fi, key, firstScan)
		if t.setAside(f, fi, key, err) {
			continue
		}
		if err != nil {
			f.Close()
			t.release(key)
			t.logOnce(path, "cannot read file (check the agent's permissions); retrying at every scan", "err", err)
			t.o.fileError(path, err)
			continue
		}
		starts = append(starts, pendingStart{f: f, fi: fi, key: key, id: id, offset: offset, fp: fp})
	}
	if firstScan {
		t.o.Store.MarkSeen(e.Path, e.Topic)
	}
	t.o.Store.SetEntryTopic(e.Path, e.Topic)
}

// noteNoMatch says once, when the entry's glob has never matched a file,
// that it matches none yet: an operator's typo (/var/log/ngnix/...) is
// otherwise a silent, empty entry. A missing directory is named.
func (t *Task) noteNoMatch(matches int) {
	switch {
	case matches > 0:
		t.matched = 1
		return
	case t.matched != 0:
		return
	}
	t.matched = -1
	path := t.o.Entry.Path
	if dir := missingDir(path); dir != "" {
		t.o.Log.Warn("collect entry matches no file: its directory does not exist (a typo?); its files are read once it is created", "path", path, "missing_dir", dir)
		return
	}
	t.o.Log.Info("collect entry matches no file yet; its files are read as they appear", "path", path)
}

// missingDir is the fixed leading directory of a collect path (up to its
// first wildcard) when it does not exist, or "".
func missingDir(pattern string) string {
	dir, _ := fixedDir(filepath.Dir(pattern))
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return dir
	}
	return ""
}

// setAside handles what identify says of a file that is not read now,
// whether the glob or discovery found it: a possible copy in the making
// and a file that shrank while identified stay pinned for the next scan
// (their lines are read even if renamed away or deleted meanwhile), a
// compressed file is passed over. false: err
// is neither, and the caller goes on with it.
func (t *Task) setAside(f *os.File, fi fileInfo, key checkpoint.Key, err error) bool {
	switch {
	case errors.Is(err, errCopyNotSettled):
		t.release(key)
		t.disc.repin(f, fi)
	case errors.Is(err, errShrunk):
		// Truncated between the stat and the read: identified again, with
		// the size it has then, at a scan soon (pinned: what it holds is
		// read even if it is renamed away or deleted meanwhile).
		t.release(key)
		t.disc.repin(f, fi)
		t.scanSoon()
	case errors.Is(err, errCompressed):
		f.Close()
		t.release(key)
		t.skipCompressed(key, fi, err)
	default:
		return false
	}
	return true
}

// skipCompressed notes a compressed file (errCompressed) the scan passes
// over while it stays the same size, and says so once a minute.
func (t *Task) skipCompressed(key checkpoint.Key, fi fileInfo, err error) {
	if t.compressed == nil || len(t.compressed) >= 4096 { // rotated files come and go: start afresh
		t.compressed = map[checkpoint.Key]int64{}
	}
	t.compressed[key] = fi.size
	t.logOnce(fi.path, "compressed file not read (logrotate's compress makes it of lines the plain file held); add \"exclude\": [\"*.gz\"] to the collect entry to leave it out of the glob", "format", err.Error())
}

func (t *Task) logOnce(path, msg string, args ...any) {
	t.errLog.Log(t.o.Log, slog.LevelError, path, msg, append([]any{"path", path}, args...)...)
}

// fingerprint is the fingerprint of f's first n bytes; errShrunk if f
// holds fewer now (it was truncated since the stat that gave n): a sum of
// the bytes read padded with zeros would be stored as the file's and match
// nothing at the next restart.
func fingerprint(f *os.File, n int64) (string, error) {
	buf := make([]byte, n)
	if k, err := f.ReadAt(buf, 0); err != nil {
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("%s: %w (%d of %d bytes)", f.Name(), errShrunk, k, n)
		}
		return "", err
	}
	return fingerprintOf(buf), nil
}

// errShrunk: a file holds fewer bytes than its stat said a moment ago.
var errShrunk = errors.New("file shrank while its head was read")

// fingerprintOf is the fingerprint of bytes already read.
func fingerprintOf(buf []byte) string {
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:16])
}

// identify decides which file this is and where to start:
//   - known device:inode whose fingerprint still matches: resume at its
//     checkpoint with its id (a file shorter than FingerprintSize was
//     fingerprinted as far as it went; the fingerprint is extended as it
//     grows, the id never changes);
//   - known device:inode born later (a birth time differs), with another
//     fingerprint, other bytes before the checkpoint, or shorter than it:
//     the inode was reused by another file, taken as unknown (below);
//   - unknown and compressed (gzip, zstd, ...): not read (errCompressed);
//   - unknown, but it holds the bytes a known file shipped (its first
//     FingerprintSize bytes and the bytes before its checkpoint), and that
//     file no longer does: a copy (copytruncate's app.log.1): continue from
//     that checkpoint with its id, so lines already sent keep their event
//     ids (see copyOf);
//   - otherwise new: from the end if the entry is seen for the first time
//     and start is "end", else from 0.
func (t *Task) identify(f *os.File, fi fileInfo, key checkpoint.Key, firstScan bool) (id string, offset int64, fp fileprint, err error) {
	fpLen := min(fi.size, FingerprintSize)
	sum, err := fingerprint(f, fpLen)
	if err != nil {
		return "", 0, fileprint{}, err
	}
	fp = fileprint{fpLen, sum}
	fi.born = bornOf(f)
	// proven is the checkpoint's proof of what was shipped (Entry.Tail),
	// kept when the file resumes or is continued as a copy, with its
	// counts when they end where the file resumes under the same id (the
	// audit finds a generation's documents by log.file.id); else counting
	// starts at off.
	put := func(id string, off int64, proven checkpoint.Entry) (string, int64, fileprint, error) {
		counts := &checkpoint.Counts{Since: off}
		if proven.Counts != nil && proven.ID == id && proven.Offset == off {
			counts = proven.Counts
		}
		t.o.Store.Put(key, checkpoint.Entry{ID: id, Path: fi.path, Device: fi.dev, Inode: fi.ino, Born: fi.born, FPLen: int(fpLen), FP: sum, Offset: off,
			TailOff: proven.TailOff, Tail: proven.Tail, Counts: counts})
		return id, off, fp, nil
	}
	if cp, ok, err := t.fromPreviousTopic(f, fi, key); err != nil {
		return "", 0, fileprint{}, err
	} else if ok {
		t.o.Log.Info("collect entry's topic changed; the file continues where the previous topic's stream was acknowledged", "path", fi.path, "previous_topic", t.prevTopic, "offset", cp.Offset)
		return put(cp.ID, cp.Offset, cp)
	}
	// replaced: the generation the store knew this device and inode for,
	// which this file is not; it is new, or a copy of another known file.
	replaced := ""
	logReplaced := func() {}
	if cp, ok := t.o.Store.Get(key); ok {
		same, err := isCheckpointed(f, fi, cp)
		if err != nil {
			return "", 0, fileprint{}, err
		}
		if same && cp.Offset <= fi.size {
			return put(cp.ID, cp.Offset, cp)
		}
		// Logged once decided (a possible copy in the making comes back
		// at every scan until it is).
		logReplaced = func() {
			if same {
				t.o.Log.Info("file shrank below its checkpoint while not followed; read from the start as a new file", "path", fi.path, "checkpoint", cp.Offset, "size", fi.size)
			} else {
				t.o.Log.Info("inode reused by a new file (born later, or its first bytes, or the bytes before its checkpoint, differ); reading it from the start", "path", fi.path, "old_path", cp.Path)
			}
		}
		// Keep the old file's entry under another key, as truncated() does:
		// a copy of it (copytruncate while the agent was down, or before
		// its checkpoint caught up) is then still recognised by its
		// fingerprint and continued with its id instead of being sent
		// again under a new one.
		if cp.FPLen > 0 {
			retired := cp
			retired.Path = ""
			t.o.Store.Put(checkpoint.RetiredKey(cp.ID, t.o.Entry.Topic), retired)
		}
		// Go on as for an unknown file: a freed inode is handed out again
		// at once, so copytruncate's copy of another known file may well
		// get the inode of a rotated file just deleted.
		replaced = cp.ID
	}
	if c := compression(f); c != "" {
		return "", 0, fileprint{}, fmt.Errorf("%w (%s)", errCompressed, c)
	}
	// An entry that names one file (no wildcard) matches no copy of it:
	// copytruncate's copy has another name. A new file there is read at
	// once, not left waiting as a possible copy; killed while one waited,
	// and the file rotated out of the path meanwhile, the agent would
	// never find it again (nothing on disk named it).
	copies := hasMeta(t.o.Entry.Path)
	if copies && fi.size == 0 && recentlyWritten(f) && t.mayWait(fi.path) {
		// A new empty file may be copytruncate's copy an instant before
		// its first write: read now, under a new id, the copied lines
		// would all be sent again. Looked at again shortly (and read as a
		// new file once written, or after copySettle without a write).
		t.scanSoon()
		return "", 0, fileprint{}, errCopyNotSettled
	}
	if copies && fpLen == FingerprintSize {
		of, cp, ok, err := t.copyOf(f, fi, key, sum, replaced)
		if err != nil {
			return "", 0, fileprint{}, err
		}
		if ok {
			t.o.Log.Info("file is a copy of a known file (copytruncate): it holds the bytes shipped; continuing from its checkpoint", "path", fi.path, "copy_of", cp.Path, "offset", cp.TailOff)
			// A generation has one copy: the original's entry (gone or
			// truncated, see copyOf) goes, so no later file that begins
			// alike continues the same id (their lines would share event
			// ids, and Elasticsearch keep one of each pair).
			t.o.Store.Delete(of)
			return put(cp.ID, cp.TailOff, cp)
		}
	}
	if firstScan && t.o.Entry.Start == "end" && replaced == "" {
		return put(newID(), fi.size, checkpoint.Entry{})
	}
	logReplaced()
	return put(newID(), 0, checkpoint.Entry{})
}

// pendingStart is a file identified by a scan whose harvester starts at the
// end of the scan.
type pendingStart struct {
	f      *os.File
	fi     fileInfo
	key    checkpoint.Key
	id     string
	offset int64
	fp     fileprint
}

func pendingKey(starts []pendingStart, key checkpoint.Key) bool {
	for _, s := range starts {
		if s.key == key {
			return true
		}
	}
	return false
}

// persistNewIDs saves the checkpoint store when a file is about to be read
// under an id the file on disk does not hold for it: a new file, a reused
// inode, a copy continued under its original's id, a truncated file's new
// generation (see harvester.truncated). The id is random and part of every
// event.id: had the agent crashed after sending lines under an id that never
// reached the disk, the restarted agent would send them again under another
// id, and Elasticsearch would hold them twice. One save per scan that found
// such files. If it fails (data_dir full or read-only), those files are not
// read: they stay on disk and are read from where they were once a save
// succeeds (retried at every scan); files whose ids are saved go on.
func (t *Task) persistNewIDs(starts []pendingStart) {
	for _, s := range starts {
		if t.o.Store.Saved(s.key, s.id) {
			continue
		}
		err := t.o.Store.Save()
		if err == nil {
			return
		}
		for _, s := range starts {
			if !t.o.Store.Saved(s.key, s.id) {
				t.logOnce(s.fi.path, "cannot save the checkpoint of a new file, so it is not read yet (lines sent under an id not on disk would be sent again under another id after a crash); retrying at every scan until data_dir is writable", "err", err)
			}
		}
		return
	}
}

// fileprint is a fingerprint: the hash of the first n bytes.
type fileprint struct {
	n   int64
	sum string
}

func (t *Task) startHarvester(f *os.File, fi fileInfo, key checkpoint.Key, id string, offset int64, fp fileprint) {
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		t.release(key)
		t.logOnce(fi.path, "seek to checkpoint", "err", err)
		return
	}
	h := &harvester{o: &t.o, key: key, dev: fi.dev, ino: fi.ino, f: f, fd: int(f.Fd()), ctx: t.ctx, slot: -1,
		lr: linereader.New(f, offset, t.o.Entry.MaxLineBytes), dec: decode.New(t.o.Entry.Format, t.o.Entry.MaxLineBytes, t.o.Entry.Multiline), fp: fp}
	// Each read also fetches the KiB before its position, so a batch's
	// tail (noteTail) is hashed from memory instead of read again: a pread
	// per batch, per line with slow files.
	h.lr.KeepBehind(TailSize)
	path := fi.path
	h.path.Store(&path)
	h.openPodMeta(fi.path)
	h.newGeneration(id, offset)
	t.mu.Lock()
	t.running[key] = h
	t.mu.Unlock()
	t.wg.Add(1)
	h.finished = func() {
		h.gone.Store(true)
		t.mu.Lock()
		delete(t.running, key)
		t.mu.Unlock()
		t.release(key)
		t.wg.Done()
	}
	h.begin()
	t.o.Log.Info("following file", "path", fi.path, "offset", offset, "file_id", id, "entry", t.o.Entry.Path)
	t.o.Scheduler.add(h)
}
