package harvester

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
)

// TestSameHeaderDistinctFiles: two CSV files whose first 2 KiB (a wide
// header) are identical are two files: both are read whole, under two file
// ids, and no two records share an event id. At b566241 the second was
// taken for a copy of the first (equal first KiB): it started at the
// first's checkpoint, skipping its own first lines, and its later lines got
// the first file's event ids (overwriting them in Elasticsearch).
func TestSameHeaderDistinctFiles(t *testing.T) {
	e := newEnv(t)
	header := strings.Repeat("column,", 2048/7) + "end\n"
	write := func(name, prefix string, n int) {
		data := header + strings.Join(nl(prefix, 1, n), "")
		if err := os.WriteFile(filepath.Join(e.dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.csv", "a", 10)
	e.start(t, `{"path":"DIR/*.csv","topic":"t","start":"beginning"}`)
	waitFor(t, "a.csv read", func() bool { return len(e.snd.all()) == 11 })
	write("b.csv", "b", 20)
	waitFor(t, "b.csv read whole, header included", func() bool { return len(e.snd.all()) == 32 })
	time.Sleep(200 * time.Millisecond) // several scans: nothing more
	recs := e.snd.all()
	if len(recs) != 32 {
		t.Fatalf("%d records, want 32", len(recs))
	}
	ids := map[string]string{}
	keys := map[string]string{} // file id -> first letter of its lines
	for _, r := range recs {
		if m, ok := ids[r.EventID]; ok {
			t.Fatalf("event id %s shared by %q and %q", r.EventID, m, r.Message)
		}
		ids[r.EventID] = r.Message
		if strings.HasPrefix(r.Message, "column") {
			continue
		}
		if k, ok := keys[r.Key]; ok && k != r.Message[:1] {
			t.Fatalf("file id %s used by lines of both files", r.Key)
		}
		keys[r.Key] = r.Message[:1]
	}
	if len(keys) != 2 {
		t.Fatalf("%d file ids, want 2", len(keys))
	}
	if !hasAll(t, recs[11:], trimmed(nl("b", 1, 20))) {
		t.Fatalf("b.csv's lines missing: %q", e.snd.messages())
	}
}

// TestCopyTruncateCopyInProgress: the scan sees copytruncate's copy while
// it is still being written, and again once it is complete but before the
// original is truncated. Neither is a proven copy yet; the copy is left
// alone until it is (the original truncated), then continued from the
// original's checkpoint: nothing sent twice. At b566241 the half-written
// copy was continued from its size, and its second half sent again.
func TestCopyTruncateCopyInProgress(t *testing.T) {
	copyTruncated(t, func(e *env, p string, data []byte) {
		half := len(data) / 2
		if err := os.WriteFile(p+".1", data[:half], 0o644); err != nil { // > FingerprintSize
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // scans see the half copy
		appendTo(t, p+".1", string(data[half:]))
		time.Sleep(300 * time.Millisecond) // and the whole copy, original intact
	})
}

// copyTruncated ships app.log's 40 lines, has makeCopy make app.log.1 of
// them, truncates app.log and writes 5 more lines: every line must be sent
// once (the copy continued from the original's checkpoint, not re-sent).
func copyTruncated(t *testing.T, makeCopy func(e *env, p string, data []byte)) {
	t.Helper()
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	appendTo(t, p, nl("a", 1, 40)...)
	e.start(t, `{"path":"DIR/app.log*","topic":"t","start":"beginning"}`)
	waitFor(t, "40 lines", func() bool { return len(e.snd.all()) == 40 })
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	fi := statOf(t, p)
	waitFor(t, "the checkpoint at the end", func() bool {
		cp, _ := e.store.Get(checkpoint.FileKey(fi.dev, fi.ino, "t"))
		return cp.Offset == int64(len(data))
	})
	makeCopy(e, p, data)
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, p, nl("b", 1, 5)...)
	want := append(trimmed(nl("a", 1, 40)), trimmed(nl("b", 1, 5))...)
	waitFor(t, "the new lines", func() bool { return hasAll(t, e.snd.all(), want) })
	waitFor(t, "the copy followed", func() bool { return len(e.task.runningKeys()) == 2 })
	time.Sleep(300 * time.Millisecond)
	if n := len(e.snd.all()); n != 45 {
		t.Fatalf("%d records, want 45 (the copy re-sent)", n)
	}
}

// TestInodeReuseSameHeader: a new file on the inode of a deleted one, with
// the same first 2 KiB (a CSV header), is a new file: read from 0 under a
// new id. At b566241 an equal first KiB made it the old file: it resumed at
// the old checkpoint, skipping its own first lines, under the old id.
func TestInodeReuseSameHeader(t *testing.T) {
	e := newEnv(t)
	header := strings.Repeat("column,", 2048/7) + "end\n"
	old := header + strings.Join(nl("old", 1, 10), "")
	p := filepath.Join(e.dir, "app.csv")
	if err := os.WriteFile(p, []byte(header+strings.Join(nl("new", 1, 20), "")), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, _ := statFile(p)
	// The checkpoint of the deleted file that had this inode, all shipped.
	e.store.Put(checkpoint.FileKey(fi.dev, fi.ino, "t"), checkpoint.Entry{ID: "oldid", Path: p, Device: fi.dev, Inode: fi.ino,
		FPLen: FingerprintSize, FP: fingerprintOf([]byte(old[:FingerprintSize])), Offset: int64(len(old)),
		TailOff: int64(len(old)), Tail: fingerprintOf([]byte(old[len(old)-TailSize:]))})
	e.store.MarkSeen(p, "t")
	e.start(t, `{"path":"DIR/app.csv","topic":"t"}`)
	want := append([]string{strings.TrimSuffix(header, "\n")}, trimmed(nl("new", 1, 20))...)
	waitFor(t, "the whole new file", func() bool { return hasAll(t, e.snd.all(), want) })
	for _, r := range e.snd.all() {
		if r.Key == "oldid" {
			t.Fatalf("the new file's line %q sent under the old file's id", r.Message)
		}
	}
}

// A new file on the inode of a deleted one whose checkpoint ends within
// the header they share: the first KiB and the bytes before the checkpoint
// are the same, only the birth time tells the files apart. At ae25b75 the
// new file resumed the deleted file's checkpoint, under its id, and its
// header was never sent.
func TestInodeReuseBornLater(t *testing.T) {
	e := newEnv(t)
	header := strings.Join(nl("h", 1, 20), "") // 1,360 bytes
	p := filepath.Join(e.dir, "app.log")
	if err := os.WriteFile(p, []byte(header+strings.Join(nl("new", 1, 10), "")), 0o644); err != nil {
		t.Fatal(err)
	}
	fi := statOf(t, p)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	born := bornOf(f)
	f.Close()
	if born == 0 {
		t.Skip("the filesystem of the test's temporary directory keeps no birth times")
	}
	end := int64(len(header))
	e.store.Put(checkpoint.FileKey(fi.dev, fi.ino, "t"), checkpoint.Entry{ID: "oldid", Path: p, Device: fi.dev, Inode: fi.ino, Born: born - 1,
		FPLen: FingerprintSize, FP: fingerprintOf([]byte(header[:FingerprintSize])), Offset: end,
		TailOff: end, Tail: fingerprintOf([]byte(header[end-TailSize:]))})
	e.store.MarkSeen(p, "t")
	e.start(t, `{"path":"DIR/app.log","topic":"t"}`)
	want := append(trimmed(nl("h", 1, 20)), trimmed(nl("new", 1, 10))...)
	waitFor(t, "the whole new file", func() bool { return hasAll(t, e.snd.all(), want) })
	for _, r := range e.snd.all() {
		if r.Key == "oldid" {
			t.Fatalf("the new file's line %q sent under the deleted file's id", r.Message)
		}
	}
}

// TestSameHeaderNewFileNotHeldBack: a new file that starts like a known one
// (the next CSV after rename + create) and is written all the time, shorter
// than the known file's checkpoint, might be a copy in the making; it is
// left alone for copyMaxWait at most, then read from 0 under its own id.
func TestSameHeaderNewFileNotHeldBack(t *testing.T) {
	e := newEnv(t)
	e.copyMaxWait = time.Second
	header := strings.Repeat("column,", 2048/7) + "end\n"
	if err := os.WriteFile(filepath.Join(e.dir, "a.csv"), []byte(header+strings.Join(nl("a", 1, 400), "")), 0o644); err != nil {
		t.Fatal(err)
	}
	e.start(t, `{"path":"DIR/*.csv","topic":"t","start":"beginning"}`)
	waitFor(t, "a.csv read", func() bool { return len(e.snd.all()) == 401 })
	b := filepath.Join(e.dir, "b.csv")
	appendTo(t, b, header)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= 100; i++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			f, err := os.OpenFile(b, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Error(err)
				return
			}
			f.WriteString(nl("b", i, i)[0])
			f.Close()
		}
	}()
	defer func() { close(stop); <-done }()
	waitFor(t, "b.csv's first lines while it is still written", func() bool { return hasAll(t, e.snd.all()[401:], trimmed(nl("b", 1, 3))) })
}

// A generation truncated right after its header was shipped is the
// original of at most one copy: two later files that begin with the same
// header are not both its copy. Found by TestRandomRotations: every such
// file continued the truncated generation's id from the header's end, and
// their first lines shared one event id.
func TestTruncatedGenerationHasOneCopy(t *testing.T) {
	e, p, header := headerShipped(t, "DIR/app.log*")
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the harvester retires the generation
	appendTo(t, p+".a", append(header, nl("a", 1, 1)...)...)
	appendTo(t, p+".b", append(header, nl("b", 1, 1)...)...)
	want := append(trimmed(nl("a", 1, 1)), trimmed(nl("b", 1, 1))...)
	waitFor(t, "both files' lines, each under an event id of its own", func() bool { return delivered(t, e, want, nil) })
}

// A file renamed away (out of the glob) and the new file created at its
// path with the same header: the new file is not the old one's copy while
// the old one's harvester still reads it, whatever its stored path says.
// At d0325d1 the scan looked the original up by that path, found the new
// file there, took the original for gone and the new file for its copy:
// both files' lines after the header got the same event ids.
func TestRenamedOriginalIsNotGone(t *testing.T) {
	e, p, header := headerShipped(t, "DIR/app.log")
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, p, append(header, nl("new", 1, 3)...)...)
	appendTo(t, p+".1", nl("old", 1, 3)...) // read through the descriptor
	want := append(trimmed(nl("new", 1, 3)), trimmed(nl("old", 1, 3))...)
	waitFor(t, "both files' lines, each under an event id of its own", func() bool { return delivered(t, e, want, nil) })
}

// headerShipped starts an entry of glob on app.log, a file holding a
// 1,360-byte header (more than FingerprintSize), and waits until the
// header was sent and its checkpoint proves it (tail_off).
func headerShipped(t *testing.T, glob string) (e *env, p string, header []string) {
	t.Helper()
	e = newEnv(t)
	e.copyMaxWait = time.Second // a file beginning like a known one waits for this
	header = nl("h", 1, 20)
	p = filepath.Join(e.dir, "app.log")
	appendTo(t, p, header...)
	e.start(t, `{"path":"`+glob+`","topic":"t","start":"beginning"}`)
	waitFor(t, "the header", func() bool { return len(e.snd.all()) == 20 })
	waitFor(t, "the header's checkpoint", func() bool {
		cp, ok := e.store.Get(checkpoint.FileKey(statOf(t, p).dev, statOf(t, p).ino, "t"))
		return ok && cp.TailOff > 0
	})
	return e, p, header
}

// headerRenamedWhileDown ships app.log's header (headerShipped), saves
// the checkpoint, kills the agent and renames app.log to app.log.1 while
// it is down.
func headerRenamedWhileDown(t *testing.T) (e *env, p string, header []string) {
	t.Helper()
	e, p, header = headerShipped(t, "DIR/app.log*")
	if err := e.store.Save(); err != nil {
		t.Fatal(err)
	}
	e.crash(t)
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	return e, p, header
}

func statOf(t *testing.T, p string) fileInfo {
	t.Helper()
	fi, err := statFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// The same after a restart: the file was renamed while the agent was down,
// so no harvester holds it and its stored path names the new file. The
// original is looked for where rotation moves files before the new file
// is taken for its copy.
func TestRenamedWhileDownOriginalIsNotGone(t *testing.T) {
	e, p, header := headerRenamedWhileDown(t)
	appendTo(t, p+".1", nl("old", 1, 3)...)
	appendTo(t, p, append(header, nl("new", 1, 3)...)...)
	e.start(t, `{"path":"DIR/app.log*","topic":"t","start":"beginning"}`)
	want := append(trimmed(nl("new", 1, 3)), trimmed(nl("old", 1, 3))...)
	waitFor(t, "both files' lines, each under an event id of its own", func() bool { return delivered(t, e, want, nil) })
}

// The same with nothing left to read in the renamed file (so the restart
// does not follow it): the new file is read whole, its header included,
// under an id of its own, not continued as the renamed file's copy past
// the header.
func TestRenamedWhileDownReadFileIsNotGone(t *testing.T) {
	e, p, header := headerRenamedWhileDown(t)
	appendTo(t, p, append(header, nl("new", 1, 3)...)...)
	e.start(t, `{"path":"DIR/app.log*","topic":"t","start":"beginning"}`)
	waitFor(t, "the new file's lines", func() bool { return delivered(t, e, trimmed(nl("new", 1, 3)), nil) })
	headers := 0
	for _, m := range e.snd.messages() {
		if strings.HasPrefix(m, "h ") {
			headers++
		}
	}
	if headers != len(header) {
		t.Fatalf("%d of the new file's %d header lines sent", headers, len(header))
	}
}

// copytruncate whose copy a scan sees empty, before its first write (the
// directory watch reports the copy's creation at once): the copy is left
// for a moment, then recognised, not read as a new file. At ea0e334 all
// 40 lines were sent again under the copy's own id.
func TestCopyTruncateCopySeenEmpty(t *testing.T) {
	copyTruncated(t, func(e *env, p string, data []byte) {
		if err := os.WriteFile(p+".1", nil, 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // scans see the empty copy
		appendTo(t, p+".1", string(data))
	})
}

// copytruncate whose copy gets the inode of a deleted rotated file that
// began alike (the filesystem hands out a freed inode again at once): the
// deleted file's checkpoint, under the copy's device and inode, does not
// fit the copy (shorter than its offset, or other bytes before it), so the
// copy is not that file; it is still the copy of app.log, not a new file.
// At ae25b75 its 40 lines were sent again under a new id (TestRandomRotations
// seed 5099).
func TestCopyTruncateCopyOnReusedInode(t *testing.T) {
	for _, c := range []struct {
		name  string
		stale func(data []byte) (offset int64, tail string)
	}{
		{"the copy is shorter than the deleted file's checkpoint", func(data []byte) (int64, string) {
			return int64(len(data)) + 500, fingerprintOf(data[len(data)-TailSize:])
		}},
		{"other bytes before the deleted file's checkpoint", func(data []byte) (int64, string) {
			return int64(len(data)) - 100, fingerprintOf(bytes.Repeat([]byte("z"), TailSize))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			copyTruncated(t, func(e *env, p string, data []byte) {
				tmp := filepath.Join(filepath.Dir(p), "copy.tmp") // outside the glob
				if err := os.WriteFile(tmp, data, 0o644); err != nil {
					t.Fatal(err)
				}
				fi := statOf(t, tmp)
				offset, tail := c.stale(data)
				e.store.Put(checkpoint.FileKey(fi.dev, fi.ino, "t"), checkpoint.Entry{ID: "deleted", Path: p + ".3", Device: fi.dev, Inode: fi.ino,
					FPLen: FingerprintSize, FP: fingerprintOf(data[:FingerprintSize]), Offset: offset, TailOff: offset, Tail: tail})
				if err := os.Rename(tmp, p+".1"); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// copytruncate's copy when the store also knows a deleted file that began
// alike and has nothing proven shipped (a generation killed before its
// first checkpoint save): both are generations the copy may continue, and
// the copy must continue the one it copies, which proves the most. At
// ae25b75 the first in the store's map order won: about one copy in two
// continued the deleted file from 0, its 40 lines sent again under that
// file's id (TestRandomRotations seed 5105). Four rounds, so map order
// cannot hide it.
func TestCopyContinuesTheMostProvenGeneration(t *testing.T) {
	for round := range 4 {
		t.Run(fmt.Sprint("round ", round), func(t *testing.T) {
			copyTruncated(t, func(e *env, p string, data []byte) {
				e.store.Put(checkpoint.FileKey(statOf(t, p).dev, 1<<40, "t"), checkpoint.Entry{ID: "deleted", Path: p + ".9", Device: statOf(t, p).dev,
					Inode: 1 << 40, Born: 1, FPLen: FingerprintSize, FP: fingerprintOf(data[:FingerprintSize])})
				if err := os.WriteFile(p+".1", data, 0o644); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// A file truncated and written again while followed gets a new generation,
// whose id is saved at once; the agent is killed before the next save, and
// copytruncate runs while it is down. The saved entry must fingerprint what
// the file began with then: at 1a4c111 it held the fingerprint of zero bytes
// (the one for an empty file), a copy could not match it, and the lines
// read before the kill were sent again under the copy's own id
// (TestRandomRotations seed 7100).
func TestCopyWhileDownOfARefilledFile(t *testing.T) {
	e, p, header := headerAndFive(t, "DIR/app.log*")
	writeAll(t, p, append(header, nl("b", 1, 40)...)...) // refilled past the read position
	want := append(trimmed(nl("a", 1, 5)), trimmed(nl("b", 1, 40))...)
	waitFor(t, "the refill", func() bool { return deliveredRecs(t, e.snd.all(), want, nil, nil) })
	earlier := e.snd.all()
	e.crash(t) // no save since the new generation's id
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "copy.tmp"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(e.dir, "copy.tmp"), p+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, p, nl("c", 1, 3)...)
	e.start(t, `{"path":"DIR/app.log*","topic":"t","start":"beginning"}`)
	want = append(want, trimmed(nl("c", 1, 3))...)
	waitFor(t, "every line", func() bool { return deliveredRecs(t, append(earlier, e.snd.all()...), want, nil, nil) })
}

// A possible copy in the making waits over many scans (up to copyMaxWait);
// each scan meets it twice, pinned and by the glob. It keeps one
// descriptor: at 0be0947 every scan pinned it once more (a descriptor and
// an identification more per scan, until it was decided).
func TestWaitingCopyKeepsOneDescriptor(t *testing.T) {
	fds := func(path string) int {
		es, _ := os.ReadDir("/proc/self/fd")
		n := 0
		for _, e := range es {
			if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && l == path {
				n++
			}
		}
		return n
	}
	copyTruncated(t, func(e *env, p string, data []byte) {
		if err := os.WriteFile(p+".1", data, 0o644); err != nil { // the original not truncated yet: not a proven copy
			t.Fatal(err)
		}
		most := 0
		for range 12 { // scans every 50 ms
			time.Sleep(50 * time.Millisecond)
			most = max(most, fds(p+".1"))
		}
		if most > 2 { // the pinned one, and one a scan may hold for a moment
			t.Fatalf("the waiting copy held %d descriptors", most)
		}
	})
}

// TestShrunkWhileIdentifiedIsRetried: a file truncated between the stat a
// scan took and the read of its first KiB. Its fingerprint was the sum of
// the bytes left padded with zeros, saved as the file's: at the next
// restart it matched nothing and the file was read again from 0 under a
// new id. Now identify says errShrunk, and the scan identifies the file
// again, soon, with the size it has then.
func TestShrunkWhileIdentifiedIsRetried(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	writeAll(t, p, strings.Join(nl("a", 1, 40), ""))   // 2,440 bytes
	e.start(t, `{"path":"DIR/other.log","topic":"t"}`) // a task, its glob elsewhere
	f, fi, _, err := openFile(p, e.task.policy())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Truncate(p, 100); err != nil { // after the stat
		t.Fatal(err)
	}
	if _, err := fingerprint(f, FingerprintSize); !errors.Is(err, errShrunk) {
		t.Fatalf("fingerprint of 1 KiB of a 100-byte file: err %v, want errShrunk", err)
	}

	key := checkpoint.FileKey(fi.dev, fi.ino, "t")
	if id, _, fp, err := e.task.identify(f, fi, key, false); !errors.Is(err, errShrunk) {
		t.Fatalf("identify: id %q fingerprint %+v err %v, want errShrunk", id, fp, err)
	}
	// The next look, with the file's size then, fingerprints what it holds.
	now, err := fstatFile(f)
	if err != nil {
		t.Fatal(err)
	}
	_, offset, fp, err := e.task.identify(f, now, key, false)
	if err != nil || offset != 0 || fp.n != 100 || fp.sum != fingerprintOf([]byte(strings.Join(nl("a", 1, 40), ""))[:100]) {
		t.Fatalf("identify after the shrink: offset %d fingerprint %+v err %v, want 0, the first 100 bytes' sum", offset, fp, err)
	}
}
