// Package checkpoint is the agent's durable record of how far each file was
// delivered. Entries are keyed by file identity and topic (Key), carry the
// fingerprint that tells a reused inode from the original file and the
// stable file id used for Kafka keys and event ids, and are written
// atomically (temp file, fsync, rename, fsync of the directory) so a crash
// leaves either the old or the new state, never a torn file.
package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FileName is the store's file inside data_dir.
const FileName = "checkpoints.json"

// Entry is the saved state of one file.
type Entry struct {
	ID      string    `json:"id"` // stable for the life of the file: Kafka key and event.id source
	Path    string    `json:"path"`
	Device  uint64    `json:"device"`
	Inode   uint64    `json:"inode"`
	FPLen   int       `json:"fp_len"` // bytes the fingerprint covers (short files: what was there)
	FP      string    `json:"fp"`     // hash of the first FPLen bytes
	Offset  int64     `json:"offset"` // end of the last contiguous line Kafka acknowledged
	Updated time.Time `json:"updated"`
	// Born is the file's birth time (statx btime, µs): a deleted file's
	// inode is handed out again at once, often to the next file of the
	// same rotation, with the same first KiB; device and inode then name
	// another file, and its birth time tells. 0 where the filesystem keeps
	// none, and in entries written before it was kept.
	Born int64 `json:"born,omitempty"`
	// TailOff and Tail prove what was shipped: Tail is the hash of the
	// last bytes (up to 1 KiB) before TailOff, an offset Kafka acknowledged
	// (TailOff <= Offset). A new file is continued as a copy of this one
	// (copytruncate) only if it holds these very bytes there: an equal
	// first KiB alone (a CSV header, a start-up banner) does not make two
	// files one. Added without a version bump: older files have none, and
	// their copies are then read as new files.
	TailOff int64  `json:"tail_off,omitempty"`
	Tail    string `json:"tail,omitempty"`
	// Counts are what was delivered of this generation of the file from
	// Counts.Since up to Offset (the delivery audit compares them with
	// what was indexed). They move with Offset, in the same write, so a
	// restart keeps counting and a line re-sent after a crash (it lies
	// after Offset) is counted once, when Offset passes it. Nil in files
	// written before counts were kept: counting then starts at Offset
	// (see StartCount). Never modified in place: Entries hands out copies.
	Counts *Counts `json:"counts,omitempty"`
}

// Counts are the lines of a file between Since and the entry's Offset.
type Counts struct {
	Since   int64  `json:"since"`   // offset from which the counts are exact
	Events  uint64 `json:"events"`  // records Kafka acknowledged
	Dropped uint64 `json:"dropped"` // lines the processors dropped on purpose (no record, the offset moves past them)
}

// Cursor is the saved position of a journal stream (a journald collect
// entry): the cursor of the last entry of the contiguous run Kafka
// acknowledged. An empty Cursor means "from the journal's head": the
// stream was positioned when the journal was empty.
type Cursor struct {
	Cursor  string    `json:"cursor"`
	Source  string    `json:"source"` // the journal read, for people reading the file
	Topic   string    `json:"topic"`
	Updated time.Time `json:"updated"`
}

type state struct {
	Version int               `json:"version"`
	Files   map[Key]Entry     `json:"files"`
	Seen    map[string]string `json:"seen"` // seenKey (collect entry path and topic) → first seen (RFC 3339): decides start=end only once
	// Cursors are journal positions by stream key. Added after version 1
	// without a version bump: older agents ignore the field, and a file
	// written by them simply has none.
	Cursors map[Key]Cursor `json:"cursors,omitempty"`
	// Topics is collect entry path → the topic its last task sent to, so
	// a task started after the entry's topic was edited knows which
	// stream it takes over (see EntryTopic). Added like Cursors.
	Topics map[string]string `json:"topics,omitempty"`
}

// Store holds entries in memory and persists them.
type Store struct {
	path string
	log  *slog.Logger

	mu    sync.Mutex
	st    state
	dirty bool
	saveM sync.Mutex // serialises writers of the file
	buf   []byte     // the encoded state, reused by Save (under saveM)
	// saved is key → id as of the file on disk (the last successful Save,
	// or what Open read): Saved tells whether a file's id would survive a
	// crash.
	saved map[Key]string

	// OnSave, when set before Run, learns the outcome of every Save: nil
	// means everything acknowledged so far is on disk (metrics, alerts).
	OnSave func(err error)
}

// Open loads dir/checkpoints.json. A missing file starts empty (logged); a
// corrupt one is renamed aside to checkpoints.json.corrupt-<time>, reported,
// and the store starts empty — never a crash, never a silent reread: the
// caller logs which files then start from their configured position.
func Open(dir string, log *slog.Logger) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", dir, err)
	}
	s := &Store{path: filepath.Join(dir, FileName), log: log, st: state{Version: 1, Files: map[Key]Entry{}, Seen: map[string]string{}, Cursors: map[Key]Cursor{}, Topics: map[string]string{}}}
	data, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.Info("no checkpoint file yet; files start at their configured position", "path", s.path)
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("read checkpoints %s: %w", s.path, err)
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil || st.Files == nil {
		if err == nil {
			err = errors.New("no files object")
		}
		aside := fmt.Sprintf("%s.corrupt-%s", s.path, time.Now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(s.path, aside); rerr != nil {
			return nil, fmt.Errorf("move corrupt checkpoints %s aside: %w", s.path, rerr)
		}
		log.Error("checkpoint file is corrupt; moved aside, starting without checkpoints (files already known start from their configured position; lines may be resent)",
			"path", s.path, "moved_to", aside, "err", err)
		return s, nil
	}
	if st.Seen == nil {
		st.Seen = map[string]string{}
	}
	if st.Cursors == nil {
		st.Cursors = map[Key]Cursor{}
	}
	if st.Topics == nil {
		st.Topics = map[string]string{}
	}
	s.st = st
	s.saved = savedIDs(st.Files)
	return s, nil
}

func savedIDs(files map[Key]Entry) map[Key]string {
	ids := make(map[Key]string, len(files))
	for k, e := range files {
		ids[k] = e.ID
	}
	return ids
}

// Saved reports whether the file on disk holds id under key: only then may
// lines be sent under id, since a crash would otherwise give the file
// another id and its lines, sent again, other event ids (duplicates).
func (s *Store) Saved(key Key, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saved[key] == id && id != ""
}

// Get returns the entry of key.
func (s *Store) Get(key Key) (Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.st.Files[key]
	return e, ok
}

// Put stores e under key.
func (s *Store) Put(key Key, e Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.Updated = time.Now().UTC()
	s.st.Files[key] = e
	s.dirty = true
}

// SetOffset advances the offset of key, if the entry still has id (a
// truncated file gets a new id; late acks of the old one must not move it).
func (s *Store) SetOffset(key Key, id string, offset int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.st.Files[key]
	if !ok || e.ID != id || e.Offset == offset {
		return
	}
	e.Offset, e.Updated = offset, time.Now().UTC()
	s.st.Files[key] = e
	s.dirty = true
}

// SetOffsetTail is SetOffset that also records tail, the hash of the bytes
// just before offset (see Entry.Tail), and the counts up to offset (see
// Entry.Counts; nil leaves them as they are).
func (s *Store) SetOffsetTail(key Key, id string, offset int64, tail string, counts *Counts) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.st.Files[key]
	if !ok || e.ID != id || (e.Offset == offset && e.TailOff == offset) {
		return
	}
	e.Offset, e.TailOff, e.Tail, e.Updated = offset, offset, tail, time.Now().UTC()
	if counts != nil {
		e.Counts = counts
	}
	s.st.Files[key] = e
	s.dirty = true
}

// StartCount returns the counts of key's generation id at offset, where a
// harvester resumes, so it can go on counting from them. When the entry
// holds none that end at offset (a file from before counts were kept, or a
// generation continued from another position), counting starts afresh at
// offset, and the entry says so. ok is false when key does not hold id.
func (s *Store) StartCount(key Key, id string, offset int64) (c Counts, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.st.Files[key]
	if !ok || e.ID != id {
		return Counts{Since: offset}, false
	}
	if e.Counts != nil && e.Offset == offset && e.Counts.Since <= offset {
		return *e.Counts, true
	}
	e.Counts = &Counts{Since: offset}
	s.st.Files[key] = e
	s.dirty = true
	return *e.Counts, true
}

// SetFingerprint extends the fingerprint of key as the file grows (same id).
func (s *Store) SetFingerprint(key Key, id string, fpLen int, fp string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.st.Files[key]
	if !ok || e.ID != id {
		return
	}
	e.FPLen, e.FP = fpLen, fp
	s.st.Files[key] = e
	s.dirty = true
}

// SetPath records that key's file is now named path (renamed by rotation),
// so expiry looks for it there (see Expire). The update time is kept: a
// rename is not delivery.
func (s *Store) SetPath(key Key, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.st.Files[key]
	if !ok || e.Path == path {
		return
	}
	e.Path = path
	s.st.Files[key] = e
	s.dirty = true
}

// Delete removes key.
func (s *Store) Delete(key Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.Files[key]; ok {
		delete(s.st.Files, key)
		s.dirty = true
	}
}

// Entries returns a copy of all entries.
func (s *Store) Entries() map[Key]Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.st.Files)
}

// Seen reports whether the collect entry with this path was seen before
// sending to topic (so its existing files were already positioned once).
func (s *Store) Seen(entryPath, topic string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.st.Seen[seenKey(entryPath, topic)]
	return ok
}

// MarkSeen records that the collect entry's existing files were positioned
// for topic.
func (s *Store) MarkSeen(entryPath, topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := seenKey(entryPath, topic)
	if _, ok := s.st.Seen[k]; !ok {
		s.st.Seen[k] = time.Now().UTC().Format(time.RFC3339)
		s.dirty = true
	}
}

// EntryTopic is the topic the collect entry with this path last sent to,
// or "" if none is known. A store written before topics were recorded
// knows it when the entry was seen under a single topic (see seenKey).
func (s *Store) EntryTopic(entryPath string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if topic, ok := s.st.Topics[entryPath]; ok {
		return topic
	}
	topic := ""
	for k := range s.st.Seen {
		if rest, ok := strings.CutPrefix(k, seenKey(entryPath, "")); ok && !strings.Contains(rest, sep) {
			if topic != "" {
				return "" // seen under several: which was last is unknown
			}
			topic = rest
		}
	}
	return topic
}

// SetEntryTopic records the topic the collect entry with this path sends to.
func (s *Store) SetEntryTopic(entryPath, topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.Topics[entryPath] != topic {
		s.st.Topics[entryPath] = topic
		s.dirty = true
	}
}

// GetCursor returns the saved position of a journal stream.
func (s *Store) GetCursor(key Key) (Cursor, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.st.Cursors[key]
	return c, ok
}

// PutCursor saves the position of a journal stream; it is written with
// the next Save, atomically with every file checkpoint.
func (s *Store) PutCursor(key Key, c Cursor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.st.Cursors[key]; ok && old.Cursor == c.Cursor && old.Source == c.Source && old.Topic == c.Topic {
		return
	}
	c.Updated = time.Now().UTC()
	s.st.Cursors[key] = c
	s.dirty = true
}

// Save writes the store if it changed: temp file, fsync, rename, fsync dir.
func (s *Store) Save() (err error) {
	s.saveM.Lock()
	defer s.saveM.Unlock()
	if s.OnSave != nil {
		defer func() { s.OnSave(err) }()
	}
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return nil
	}
	// Compact: with 1,000 files, indenting doubled the cost of a save
	// that runs every checkpoint_interval (jq . checkpoints.json reads it).
	s.buf = s.st.appendJSON(s.buf[:0])
	data := s.buf
	ids := savedIDs(s.st.Files)
	s.dirty = false
	s.mu.Unlock()
	if err := writeAtomic(s.path, data); err != nil {
		s.mu.Lock()
		s.dirty = true // try again next tick
		s.mu.Unlock()
		return err
	}
	s.mu.Lock()
	s.saved = ids
	s.mu.Unlock()
	return nil
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temp checkpoint: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write temp checkpoint: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("fsync temp checkpoint: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close temp checkpoint: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename checkpoint into place: %w", err)
	}
	// fsync the directory so the rename itself survives a power loss.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open data dir for fsync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync data dir: %w", err)
	}
	return nil
}

// WriteFileAtomic is the same durable write for other state files in
// data_dir (the cached collect config).
func WriteFileAtomic(path string, data []byte) error { return writeAtomic(path, data) }

// Expire drops entries not updated for retention whose file is really
// gone, so the store does not grow forever with rotated-away files. live
// reports keys in use right now. A file at rest (a rotated app.log.1 not
// written for days) is not gone: it is looked for under its stored path
// (which follows renames the scans see, SetPath) and, failing that, in that
// path's directory, where logrotate renames it (app.log.1 -> app.log.2, or
// a name no glob matches any more). Dropping the entry of a file that still
// exists would have it read again from 0 under a new id: every line twice.
// The files are looked at outside the store's lock (one directory read per
// directory per run, hourly).
func (s *Store) Expire(retention time.Duration, live func(Key) bool) int {
	cutoff := time.Now().Add(-retention)
	s.mu.Lock()
	candidates := map[Key]Entry{}
	for k, e := range s.st.Files {
		if !e.Updated.After(cutoff) {
			candidates[k] = e
		}
	}
	s.mu.Unlock()
	dirs := map[string]map[fileID]bool{} // directory -> files in it, read once per run
	gone := make([]Key, 0, len(candidates))
	for k, e := range candidates {
		if (live != nil && live(k)) || exists(e, dirs) {
			continue
		}
		gone = append(gone, k)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, k := range gone {
		if e, ok := s.st.Files[k]; !ok || e.Updated.After(cutoff) {
			continue // updated meanwhile
		}
		delete(s.st.Files, k)
		n++
		s.dirty = true
	}
	// A journal stream no collect entry reads any more (its entry was
	// removed or its filters changed) is dropped after the same period.
	for k, c := range s.st.Cursors {
		if c.Updated.After(cutoff) || (live != nil && live(k)) {
			continue
		}
		delete(s.st.Cursors, k)
		n++
		s.dirty = true
	}
	return n
}

type fileID struct{ dev, ino uint64 }

// exists reports whether e's file is under its stored path or anywhere in
// that path's directory. An entry without a path (a retired generation of
// a truncated file, kept so a copy of it is recognised) has no file.
func exists(e Entry, dirs map[string]map[fileID]bool) bool {
	if e.Path == "" {
		return false
	}
	id := fileID{e.Device, e.Inode}
	if fi, err := os.Stat(e.Path); err == nil && idOf(fi) == id {
		return true
	}
	dir := filepath.Dir(e.Path)
	in, ok := dirs[dir]
	if !ok {
		in = map[fileID]bool{}
		ents, _ := os.ReadDir(dir) // unreadable or gone: nothing found there
		for _, de := range ents {
			if !de.Type().IsRegular() {
				continue
			}
			if fi, err := de.Info(); err == nil {
				in[idOf(fi)] = true
			}
		}
		dirs[dir] = in
	}
	return in[id]
}

func idOf(fi fs.FileInfo) fileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}
	}
	return fileID{uint64(st.Dev), st.Ino}
}

// Run saves every interval and expires old entries hourly until ctx is
// done, then saves once more.
func (s *Store) Run(ctx context.Context, interval, retention time.Duration, live func(Key) bool) {
	t := time.NewTicker(interval)
	defer t.Stop()
	lastExpire := time.Now()
	for {
		select {
		case <-ctx.Done():
			if err := s.Save(); err != nil {
				s.log.Error("save checkpoints at shutdown", "err", err)
			}
			return
		case <-t.C:
			if time.Since(lastExpire) > time.Hour {
				if n := s.Expire(retention, live); n > 0 {
					s.log.Info("expired checkpoints of long-gone files", "count", n)
				}
				lastExpire = time.Now()
			}
			if err := s.Save(); err != nil {
				s.log.Error("save checkpoints", "err", err)
			}
		}
	}
}
