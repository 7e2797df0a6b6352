package harvester

import (
	"cmp"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
)

// TailSize is how many bytes before a checkpoint offset prove what was
// shipped (checkpoint.Entry.Tail).
const TailSize = 1024

// shippedTail is the hash of the bytes before end, the end of the last
// record of a batch handed to the sink: when Kafka has acknowledged up to
// exactly end, the checkpoint records it with the offset (see
// newGeneration), with the counts of the lines up to end (see
// harvester.counted).
type shippedTail struct {
	end    int64
	sum    string
	counts checkpoint.Counts
}

// shippedTails are the tails of the batches sent and not yet acknowledged,
// oldest first. Acknowledgements run behind reads, so the tail of the last
// batch alone would rarely be the one the contiguous offset reaches: a file
// written all the time could then never prove a copy (copytruncate) and its
// copy would be read again under a new id.
type shippedTails struct {
	mu sync.Mutex
	q  []shippedTail
}

// maxShippedTails bounds the tails kept per file: past it the oldest goes
// (its batch's ack then records no tail; a later one will).
const maxShippedTails = 64

func (s *shippedTails) note(t shippedTail) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.q) == maxShippedTails {
		s.q = s.q[:copy(s.q, s.q[1:])]
	}
	s.q = append(s.q, t)
}

// take returns the tail noted for a batch ending at off, if any, and forgets
// the tails at or before off.
func (s *shippedTails) take(off int64) (t shippedTail, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := 0
	for ; i < len(s.q) && s.q[i].end <= off; i++ {
		if s.q[i].end == off {
			t, ok = s.q[i], true
		}
	}
	s.q = s.q[:copy(s.q, s.q[i:])]
	return t, ok
}

func (s *shippedTails) reset() {
	s.mu.Lock()
	s.q = s.q[:0]
	s.mu.Unlock()
}

// noteTail hashes the bytes before the end of the last queued record,
// before the batch is sent (so its ack finds it). The line reader's buffer
// usually still holds them (it reads the KiB before its position along
// with new bytes, see startHarvester); else one pread of 1 KiB from the
// page cache. A failed read notes nothing: the checkpoint then proves
// less, which only makes a later copy read as a new file.
func (h *harvester) noteTail() {
	var sum string
	if b := h.lr.Behind(h.lastEnd, int(min(h.lastEnd, TailSize))); b != nil {
		sum = fingerprintOf(b)
	} else {
		var err error
		if sum, err = tailSum(h.f, h.lastEnd); err != nil {
			return
		}
	}
	h.tails.note(shippedTail{end: h.lastEnd, sum: sum, counts: h.counted})
}

// tailSum is the fingerprint of the TailSize bytes (or fewer, from 0)
// before end.
func tailSum(f *os.File, end int64) (string, error) {
	start := tailBufs.Get().(*[TailSize]byte)
	defer tailBufs.Put(start)
	from := max(0, end-TailSize)
	buf := start[:end-from]
	if _, err := f.ReadAt(buf, from); err != nil {
		return "", err // io.EOF: shrunk meanwhile
	}
	return fingerprintOf(buf), nil
}

// tailBufs are tailSum's buffers, held only while it runs.
var tailBufs = sync.Pool{New: func() any { return new([TailSize]byte) }}

// errCompressed: a new file is compressed (logrotate's "compress" makes
// app.log.2.gz of lines read from app.log already); read as lines it would
// ship binary garbage. See compression.
var errCompressed = errors.New("a compressed file")

// compressionMagic are the first bytes of the formats logrotate and
// friends compress with.
var compressionMagic = []struct {
	name  string
	magic string
}{
	{"gzip", "\x1f\x8b"},
	{"zstd", "\x28\xb5\x2f\xfd"},
	{"xz", "\xfd7zXZ\x00"},
	{"bzip2", "BZh"},
	{"lz4", "\x04\x22\x4d\x18"},
	{"zip", "PK\x03\x04"},
}

// compression names the format f's first bytes say it is compressed in,
// or "". bzip2's "BZh" must be followed by its block size digit.
func compression(f *os.File) string {
	var b [8]byte
	n, _ := f.ReadAt(b[:], 0)
	for _, c := range compressionMagic {
		if n >= len(c.magic) && string(b[:len(c.magic)]) == c.magic && (c.name != "bzip2" || n > 3 && b[3] >= '1' && b[3] <= '9') {
			return c.name
		}
	}
	return ""
}

// errCopyNotSettled: the file may be a copy still being written (or about
// to be followed by the truncation of its original); the scan looks again.
var errCopyNotSettled = errors.New("possible copy still being made")

// A file that may be a copy in the making (copytruncate copies, then
// truncates) is left alone while it was written in the last copySettle,
// for at most copyMaxWait from when a scan first found it so: a new file
// that merely starts like a known one (the next day's CSV after rename +
// create) is read after that at the latest.
const copySettle = 5 * time.Second

const defaultCopyMaxWait = 30 * time.Second

// copyOf finds the known file that f (new to the store, first KiB hashing
// to sum) is a copy of, as copytruncate makes app.log.1 of app.log: a copy
// may skip only bytes proven shipped, so it must hold, before the known
// file's TailOff, the very bytes whose hash was checkpointed (Tail). The
// copy then continues from TailOff under the known file's id: its lines
// already sent keep their event ids. And the original must no longer hold
// them (copytruncate truncated it; a retired entry is a truncated or
// replaced generation): otherwise the two files are distinct (`cp` of a
// file that goes on) and sharing one id would give the lines of one the
// event ids of the other's.
//
// A file that may still become such a copy (shorter than TailOff, or the
// original not truncated yet) and was written in the last copySettle
// returns errCopyNotSettled, for at most copyMaxWait. The original's key is
// returned too: the caller drops its entry, as a generation has one copy.
// replaced is the id of the generation the file's inode held before (a
// file truncated while not followed, or another file on a reused inode):
// the file is not a copy of it.
func (t *Task) copyOf(f *os.File, fi fileInfo, key checkpoint.Key, sum, replaced string) (checkpoint.Key, checkpoint.Entry, bool, error) {
	// unsettled: the most a generation not settled yet may prove (-1:
	// none); see below.
	unsettled := int64(-1)
	wait := func(cp checkpoint.Entry) { unsettled = max(unsettled, cp.TailOff, 0) }
	// Of the generations the file may continue, the one with the most
	// proven (a copy of app.log matches its shipped tail, and also a
	// deleted app.log.1 that began alike and has nothing proven).
	var best checkpoint.Entry
	var bestKey checkpoint.Key
	found := false
	take := func(k checkpoint.Key, cp checkpoint.Entry) {
		if !found || cp.TailOff > best.TailOff {
			best, bestKey, found = cp, k, true
		}
	}
	for k, cp := range t.o.Store.Entries() {
		if k == key || cp.ID == replaced || k.Topic() != t.o.Entry.Topic || cp.FPLen != FingerprintSize || cp.FP != sum || cp.Device != fi.dev {
			continue
		}
		if !k.IsRetired() && cp.Path == fi.path {
			// A copy never takes its original's name: a new file where a
			// known file was last seen (app.log after rename + create to
			// app.log.1, which a "*.log" glob does not match) is not its
			// copy. Waiting for it would keep it unread and unknown to the
			// checkpoint, and a kill plus a rotation out of the glob
			// meanwhile would lose it.
			continue
		}
		if cp.TailOff <= 0 {
			// Nothing proven shipped on disk (a generation younger than
			// the first checkpoint save, or data_dir unusable since):
			// the copy may skip nothing, but its lines that were sent
			// before the crash must keep their ids, or they are indexed
			// twice. So a copy of a generation whose original is gone
			// (retired: truncated or replaced) continues from 0 under its
			// id; one whose original still starts the same is a
			// distinct file (or a plain cp) and gets its own.
			switch {
			case cp.Offset != 0:
			case k.IsRetired():
				take(k, cp)
			case t.beingRead(k):
				wait(cp) // see below
			case !t.stillHolds(cp, int64(cp.FPLen), cp.FP):
				take(k, cp)
			}
			continue
		}
		if fi.size < cp.TailOff {
			// A copy being written, or a distinct file. Not a copy in the
			// making of a retired generation (truncated or replaced):
			// copytruncate finishes the copy before it truncates, so a copy
			// of it is whole by then.
			if !k.IsRetired() {
				wait(cp)
			}
			continue
		}
		tail, err := tailSum(f, cp.TailOff)
		if err != nil {
			if errors.Is(err, io.EOF) {
				continue
			}
			return checkpoint.Key{}, checkpoint.Entry{}, false, err
		}
		if tail != cp.Tail {
			continue // the same first KiB, other content: a distinct file
		}
		if !k.IsRetired() && (t.beingRead(k) || t.stillHolds(cp, cp.TailOff, cp.Tail)) {
			// The original is still read (its harvester retires the
			// generation once it sees the truncation, and the next scan
			// continues that), or still holds the bytes: copytruncate
			// not truncated yet, or a plain copy. A followed original
			// is never taken for gone: its harvester could go on reading
			// new bytes under the id the copy would continue (a file
			// truncated before it read anything never looks truncated
			// to it), or be renamed away while its stored path names a
			// new file that begins alike.
			wait(cp)
			continue
		}
		take(k, cp)
	}
	// A match yields to a generation not settled yet that may prove as
	// much or more (the original still read, whose harvester has not seen
	// the truncation yet), for as long as a copy in the making may wait.
	if found && unsettled < best.TailOff {
		return bestKey, best, true, nil
	}
	if unsettled >= 0 && recentlyWritten(f) && t.mayWait(fi.path) {
		return checkpoint.Key{}, checkpoint.Entry{}, false, errCopyNotSettled
	}
	if found {
		return bestKey, best, true, nil
	}
	delete(t.copyWait, fi.path)
	return checkpoint.Key{}, checkpoint.Entry{}, false, nil
}

// mayWait reports whether path, a possible copy in the making, may be left
// for the next scan: for copyMaxWait since a scan first left it. Only the
// scan's goroutine uses copyWait.
func (t *Task) mayWait(path string) bool {
	copyMaxWait := cmp.Or(t.o.copyMaxWait, defaultCopyMaxWait)
	now := time.Now()
	for p, since := range t.copyWait { // files decided or gone meanwhile
		if now.Sub(since) > 2*copyMaxWait {
			delete(t.copyWait, p)
		}
	}
	since, ok := t.copyWait[path]
	if !ok {
		if t.copyWait == nil {
			t.copyWait = map[string]time.Time{}
		}
		t.copyWait[path] = now
		return true
	}
	return now.Sub(since) < copyMaxWait
}

// stillHolds reports whether cp's file, no harvester following it, still
// holds the bytes before end whose hash is sum (tailSum): the bytes shipped
// before cp.TailOff (sum cp.Tail), or its first bytes (end cp.FPLen, sum
// cp.FP: TailSize ≥ FingerprintSize, so the tail of the first bytes is
// their fingerprint). The file is looked for at its stored path (which
// follows the renames scans saw) and, if that names another file (renamed
// while the agent was down), where rotation moves files.
func (t *Task) stillHolds(cp checkpoint.Entry, end int64, sum string) bool {
	f, fi, _, err := openFile(cp.Path, t.policy())
	if err == nil && !isFile(f, fi, cp) {
		f.Close()
		err = os.ErrNotExist
	}
	if err != nil {
		path := whereNow(cp)
		if path == "" {
			return false
		}
		if f, fi, _, err = openFile(path, t.policy()); err != nil {
			return false
		}
		if !isFile(f, fi, cp) {
			f.Close() // replaced since the directory was listed, or another file on its inode
			return false
		}
	}
	defer f.Close()
	if fi.size < end {
		return false
	}
	got, err := tailSum(f, end)
	return err == nil && got == sum
}

// whereNow is the path of cp's file (its device and inode) where rotation
// moves files (rotationDirs of its stored path's directory), or "".
func whereNow(cp checkpoint.Entry) string {
	found := ""
	for _, where := range rotationDirs(filepath.Dir(cp.Path)) {
		eachFile(where, func(path string, id [2]uint64) bool {
			if id == [2]uint64{cp.Device, cp.Inode} {
				found = path
			}
			return found == ""
		})
		if found != "" {
			break
		}
	}
	return found
}

func recentlyWritten(f *os.File) bool {
	var st syscall.Stat_t
	if err := ignoringEINTR(func() error { return syscall.Fstat(int(f.Fd()), &st) }); err != nil {
		return false
	}
	return time.Since(time.Unix(st.Mtim.Unix())) < copySettle
}

// isCheckpointed reports whether the open file f (fi) is the file whose
// checkpoint cp is, as far as the checkpoint proves it: born then (when
// both birth times are known), beginning with the fingerprinted bytes, and
// holding the bytes before the checkpoint that were shipped. An equal first
// KiB (a banner, a CSV header) does not make a reused inode the old file:
// the birth time or the shipped bytes tell them apart. The one rule for a
// scan's identification and its "read to the end already" shortcut.
func isCheckpointed(f *os.File, fi fileInfo, cp checkpoint.Entry) (bool, error) {
	born := fi.born
	if born == 0 {
		born = bornOf(f)
	}
	if int64(cp.FPLen) > fi.size || !sameBirth(cp.Born, born) {
		return false, nil
	}
	sum, err := fingerprint(f, int64(cp.FPLen))
	if err != nil || sum != cp.FP {
		return false, err
	}
	return holdsTail(f, fi, cp) // entries written before tails were kept have none
}

// holdsTail reports whether f holds the bytes cp's checkpoint proves were
// shipped (true when cp has no proof; when the proof lies beyond f's end,
// the caller's offset check finds the file shrank).
func holdsTail(f *os.File, fi fileInfo, cp checkpoint.Entry) (bool, error) {
	if cp.TailOff <= 0 || cp.Tail == "" || cp.TailOff > fi.size {
		return true, nil
	}
	tail, err := tailSum(f, cp.TailOff)
	if errors.Is(err, io.EOF) {
		return false, nil // shrunk since the stat
	}
	if err != nil {
		return false, err
	}
	return tail == cp.Tail, nil
}
