package checkpoint

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logcollect/logcollect/pkg/logging"
)

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	s.Put(FileKey(1, 2, "t"), Entry{ID: "abc", Path: "/x", Device: 1, Inode: 2, Offset: 10})
	s.SetOffset(FileKey(1, 2, "t"), "abc", 42)
	s.SetOffset(FileKey(1, 2, "t"), "other-generation", 99) // ignored: a stale generation
	s.MarkSeen("/var/log/*.log", "t")
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	e, ok := s2.Get(FileKey(1, 2, "t"))
	if !ok || e.Offset != 42 || e.ID != "abc" || !s2.Seen("/var/log/*.log", "t") {
		t.Fatalf("got %+v %v", e, ok)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*"))
	if len(matches) != 0 {
		t.Fatalf("temp files left: %v", matches)
	}
}

func TestCorruptSetAside(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, logging.Discard())
	if err != nil {
		t.Fatalf("corrupt file must not stop the agent: %v", err)
	}
	if len(s.Entries()) != 0 {
		t.Fatal("entries from a corrupt file")
	}
	aside, _ := filepath.Glob(filepath.Join(dir, FileName+".corrupt-*"))
	if len(aside) != 1 {
		t.Fatalf("corrupt file not set aside: %v", aside)
	}
	if b, _ := os.ReadFile(aside[0]); !strings.Contains(string(b), "not json") {
		t.Fatal("set-aside file lost its content")
	}
}

func TestExpire(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, logging.Discard())
	live := filepath.Join(dir, "live.log")
	os.WriteFile(live, []byte("x\n"), 0o600)
	fi, _ := os.Stat(live)
	st := fi.Sys().(*syscall.Stat_t)
	gone, present, inuse := FileKey(1, 1, "t"), FileKey(2, 2, "t"), FileKey(3, 3, "t")
	s.Put(gone, Entry{Path: filepath.Join(dir, "gone.log"), Device: 1, Inode: 1})
	s.Put(present, Entry{Path: live, Device: uint64(st.Dev), Inode: st.Ino})
	s.Put(inuse, Entry{Path: filepath.Join(dir, "rotated-away"), Device: 3, Inode: 3})
	time.Sleep(5 * time.Millisecond)
	n := s.Expire(time.Millisecond, func(k Key) bool { return k == inuse })
	if n != 1 {
		t.Fatalf("expired %d, want 1", n)
	}
	if _, ok := s.Get(gone); ok {
		t.Fatal("gone file kept")
	}
	if _, ok := s.Get(present); !ok {
		t.Fatal("existing file expired")
	}
}

// TestExpireKeepsFilesThatStillExist: an entry is dropped only when its file
// is really gone: not under its stored path, nor anywhere in that path's
// directory (logrotate renames within it). A file renamed to a name the
// entry does not know must keep its checkpoint, or it is read again from 0
// under a new id after checkpoint_retention.
func TestExpireKeepsFilesThatStillExist(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(filepath.Join(dir, "data"), logging.Discard())
	idOf := func(p string) (uint64, uint64) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		return uint64(st.Dev), st.Ino
	}
	write := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keys := map[string]Key{"at_path": FileKey(1, 1, "t"), "renamed_in_dir": FileKey(1, 2, "t"), "gone": FileKey(1, 3, "t"),
		"dir_gone": FileKey(1, 4, "t"), "retired": RetiredKey("r", "t")}
	at := write("app.log")
	dev, ino := idOf(at)
	s.Put(keys["at_path"], Entry{Path: at, Device: dev, Inode: ino})
	moved := write("app.log.1")
	mdev, mino := idOf(moved)
	s.Put(keys["renamed_in_dir"], Entry{Path: filepath.Join(dir, "app.log.0"), Device: mdev, Inode: mino})
	s.Put(keys["gone"], Entry{Path: filepath.Join(dir, "deleted.log"), Device: dev, Inode: ino + 1000000})
	s.Put(keys["dir_gone"], Entry{Path: filepath.Join(dir, "nodir", "x.log"), Device: dev, Inode: ino})
	s.Put(keys["retired"], Entry{Path: "", Device: dev, Inode: ino})
	time.Sleep(5 * time.Millisecond)
	if n := s.Expire(time.Millisecond, nil); n != 3 {
		t.Fatalf("expired %d, want 3: %v", n, s.Entries())
	}
	for key, want := range map[string]bool{"at_path": true, "renamed_in_dir": true, "gone": false, "dir_gone": false, "retired": false} {
		if _, ok := s.Get(keys[key]); ok != want {
			t.Errorf("%s kept = %v, want %v", key, ok, want)
		}
	}
	// A path update is a rename, not delivery: it does not keep an entry
	// of a gone file alive.
	s.SetPath(keys["at_path"], filepath.Join(dir, "elsewhere", "app.log"))
	os.Remove(at)
	time.Sleep(5 * time.Millisecond)
	if n := s.Expire(time.Millisecond, nil); n != 1 {
		t.Fatalf("expired %d after the file was deleted, want 1", n)
	}
}

// Journal cursors round-trip next to file entries; a file written before
// cursors existed loads, and unused cursors expire unless live.
func TestCursors(t *testing.T) {
	dir := t.TempDir()
	old := `{"version":1,"files":{"1:2|t":{"id":"abc","path":"/x","device":1,"inode":2,"offset":7}},"seen":{}}`
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	j, gone := JournalKey("/var/log/journal", "sys_log", "f1"), JournalKey("system", "sys_log", "f2")
	if _, ok := s.GetCursor(j); ok {
		t.Fatal("a cursor out of nowhere")
	}
	s.PutCursor(j, Cursor{Cursor: "s=1;i=2", Source: "journald:/var/log/journal", Topic: "sys_log"})
	s.PutCursor(gone, Cursor{Cursor: "s=1;i=1"})
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	c, ok := s2.GetCursor(j)
	if e, _ := s2.Get(FileKey(1, 2, "t")); !ok || c.Cursor != "s=1;i=2" || c.Topic != "sys_log" || e.Offset != 7 {
		t.Fatalf("cursor %+v %v, file entry %+v", c, ok, e)
	}
	time.Sleep(5 * time.Millisecond)
	if n := s2.Expire(time.Millisecond, func(k Key) bool { return k == j }); n != 2 {
		t.Fatalf("expired %d, want 2 (the unused cursor and the gone file /x)", n)
	}
	if _, ok := s2.GetCursor(gone); ok {
		t.Fatal("unused cursor kept")
	}
	if _, ok := s2.GetCursor(j); !ok {
		t.Fatal("live cursor expired")
	}
}

// TestOnSaveReportsOutcome: the hook feeding the checkpoint-age metric hears
// success (also when nothing changed: the disk is still current) and the
// error of a write that could not reach the disk.
func TestOnSaveReportsOutcome(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	var got []error
	s.OnSave = func(err error) { got = append(got, err) }
	s.Put(FileKey(1, 2, "t"), Entry{ID: "id", Path: "/var/log/a.log", Device: 1, Inode: 2, Offset: 10})
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(); err != nil { // clean: nothing to write
		t.Fatal(err)
	}
	// The data dir replaced by a file: the temp file cannot be created.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s.SetOffset(FileKey(1, 2, "t"), "id", 20)
	if err := s.Save(); err == nil {
		t.Fatal("Save into a missing directory succeeded")
	}
	if len(got) != 3 || got[0] != nil || got[1] != nil || got[2] == nil {
		t.Fatalf("OnSave saw %v, want nil, nil, an error", got)
	}
}

// Saved tells whether a file's id is on disk: after Open for what it read,
// after a successful Save for what it wrote, never for what a failed Save
// could not write.
func TestSaved(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	s.Put(FileKey(1, 2, "t"), Entry{ID: "a"})
	if s.Saved(FileKey(1, 2, "t"), "a") {
		t.Fatal("saved before Save")
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if !s.Saved(FileKey(1, 2, "t"), "a") || s.Saved(FileKey(1, 2, "t"), "b") || s.Saved(FileKey(1, 3, "t"), "") {
		t.Fatal("Saved after Save")
	}
	if err := os.Rename(dir, dir+".away"); err != nil { // every save fails
		t.Fatal(err)
	}
	s.Put(FileKey(1, 2, "t"), Entry{ID: "b"})
	s.Put(FileKey(1, 3, "t"), Entry{ID: "c"})
	if err := s.Save(); err == nil {
		t.Fatal("save into a missing dir succeeded")
	}
	if s.Saved(FileKey(1, 2, "t"), "b") || !s.Saved(FileKey(1, 2, "t"), "a") || s.Saved(FileKey(1, 3, "t"), "c") {
		t.Fatal("a failed save counted as saved")
	}
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if !s.Saved(FileKey(1, 2, "t"), "b") || !s.Saved(FileKey(1, 3, "t"), "c") {
		t.Fatal("not saved after a successful save")
	}
	s2, err := Open(dir, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if !s2.Saved(FileKey(1, 2, "t"), "b") || !s2.Saved(FileKey(1, 3, "t"), "c") {
		t.Fatal("not saved after Open")
	}
}

// TestEntryTopic: the topic an entry last sent to is recorded, survives a
// reopen, and is derived from the seen marks of a store written before it
// was recorded when the entry was seen under one topic only.
func TestEntryTopic(t *testing.T) {
	dir := t.TempDir()
	old := `{"version":1,"files":{},"seen":{"/a/*.log|t1":"x","/b.log|t1":"x","/b.log|t2":"x","/c.log|t1|x":"x"}}`
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"/a/*.log": "t1", "/b.log": "", "/c.log": "", "/d.log": ""} {
		if got := s.EntryTopic(path); got != want {
			t.Errorf("EntryTopic(%s) = %q, want %q", path, got, want)
		}
	}
	s.SetEntryTopic("/b.log", "t2")
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	s2, _ := Open(dir, logging.Discard())
	if got := s2.EntryTopic("/b.log"); got != "t2" {
		t.Fatalf("after reopen EntryTopic = %q, want t2", got)
	}
}

// TestCountsMoveWithTheOffset: counts are saved with the offset they end
// at; a harvester resuming there goes on from them, and an entry without
// counts (a file written before they were kept: testdata's
// checkpoints-v1.json) or one resumed elsewhere starts counting afresh.
func TestCountsMoveWithTheOffset(t *testing.T) {
	dir := t.TempDir()
	old, err := os.ReadFile("testdata/checkpoints-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), old, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	legacy := FileKey(2049, 131077, "app_log")
	e, _ := s.Get(legacy)
	if e.Counts != nil {
		t.Fatalf("an old file has no counts, got %+v", *e.Counts)
	}
	if c, ok := s.StartCount(legacy, e.ID, e.Offset); !ok || c != (Counts{Since: 88120}) {
		t.Fatalf("old entry: counting starts at its offset, got %+v %v", c, ok)
	}
	if _, ok := s.StartCount(legacy, "another-generation", 0); ok {
		t.Fatal("StartCount of another generation's id must say so")
	}

	k := FileKey(1, 2, "t")
	s.Put(k, Entry{ID: "g1", Path: "/x", Device: 1, Inode: 2, Counts: &Counts{Since: 0}})
	s.SetOffsetTail(k, "g1", 100, "sum", &Counts{Since: 0, Events: 9, Dropped: 1})
	s.SetOffsetTail(k, "stale", 200, "sum", &Counts{Since: 0, Events: 99}) // ignored
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		offset int64
		want   Counts
	}{
		{100, Counts{Since: 0, Events: 9, Dropped: 1}}, // resumed where they end: kept
		{50, Counts{Since: 50}},                        // resumed elsewhere: afresh
	} {
		if c, ok := s2.StartCount(k, "g1", tc.offset); !ok || c != tc.want {
			t.Errorf("StartCount at %d = %+v %v, want %+v", tc.offset, c, ok, tc.want)
		}
	}
	if e, _ := s2.Get(k); e.Counts == nil || *e.Counts != (Counts{Since: 50}) {
		t.Errorf("the entry must say counting starts afresh at 50, got %+v", e.Counts)
	}
}
