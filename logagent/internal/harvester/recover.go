package harvester

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
)

// recoverRotated finds, at the task's first scan, the files this entry was
// reading when the agent stopped and that rotation has since moved out of
// the glob. While running, a harvester follows its file through the
// descriptor across a rename; after a crash the checkpoint still knows the
// file (device, inode, offset short of its end) but its path holds a new
// file, and the glob no longer names the old one: its tail was lost. So for
// every checkpoint of the entry's topic whose path matches the glob but now
// holds another file (or nothing), the file is looked for by device and
// inode where rotation puts it: the same directory (rename: app.log →
// app.log.1, also after several rotations), and the directories one level
// below it (logrotate's olddir, relative to the log's directory). An olddir
// elsewhere is not searched. A found file that is still the checkpoint's
// (isCheckpointed) and longer than its offset is continued from there under
// its id, like a file the glob matched; one truncated and written again
// before the rotation (all its bytes unread) is read from the start as a
// new generation; so is one checkpointed while empty (bornAs).
func (t *Task) recoverRotated() []pinnedFile {
	lost := map[string]map[[2]uint64]checkpoint.Entry{} // directory → (device, inode) → checkpoint
	for key, cp := range t.o.Store.Entries() {
		if !key.IsFile() || key.Topic() != t.o.Entry.Topic || cp.Path == "" || !t.matches(cp.Path) {
			continue
		}
		if fi, err := statFile(cp.Path); err == nil && fi.dev == cp.Device && fi.ino == cp.Inode {
			continue // still there: the glob finds it
		}
		dir := filepath.Dir(cp.Path)
		if lost[dir] == nil {
			lost[dir] = map[[2]uint64]checkpoint.Entry{}
		}
		lost[dir][[2]uint64{cp.Device, cp.Inode}] = cp
	}
	var found []pinnedFile
	for dir, want := range lost {
		for _, where := range rotationDirs(dir) {
			found = append(found, t.findRotated(where, want)...)
			if len(want) == 0 {
				break
			}
		}
	}
	return found
}

// rotationDirs are where rotation puts a file of dir: dir itself (rename:
// app.log → app.log.1) and the directories directly in it (logrotate's
// olddir, relative to the log's directory).
func rotationDirs(dir string) []string { return append([]string{dir}, subdirs(dir)...) }

// subdirs lists the directories directly in dir.
func subdirs(dir string) []string {
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range es {
		if e.IsDir() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// findRotated opens the files in dir that want lists by device and inode
// (taking them off want) and that hold unread lines.
func (t *Task) findRotated(dir string, want map[[2]uint64]checkpoint.Entry) []pinnedFile {
	var found []pinnedFile
	eachFile(dir, func(path string, id [2]uint64) bool {
		cp, ok := want[id]
		if !ok {
			return true
		}
		delete(want, id)
		f, fi, _, err := openFile(path, t.policy())
		if err != nil || fi.dev != cp.Device || fi.ino != cp.Inode || fi.size == 0 {
			if f != nil {
				f.Close()
			}
			return true
		}
		fi.born = bornOf(f) // for both checks below
		same, err := isCheckpointed(f, fi, cp)
		switch {
		case err != nil || same && fi.size <= cp.Offset:
			f.Close() // read to its end before
			return true
		case (!same || cp.FPLen == 0) && !bornAs(fi.born, path, cp):
			// Other bytes, or a checkpoint that proves none (the file was
			// empty when it was saved), and not the file's birth: another
			// file on the inode of one deleted.
			f.Close()
			return true
		case same:
			t.o.Log.Info("found a file rotated while the agent was down, with lines not yet sent; continuing it from its checkpoint", "path", path, "was", cp.Path, "offset", cp.Offset, "size", fi.size)
		default:
			t.o.Log.Info("found a file rotated while the agent was down that had been truncated and written again before; reading it from the start", "path", path, "was", cp.Path, "size", fi.size)
		}
		fi.path = cp.Path // the name its lines were read under, as while running
		found = append(found, pinnedFile{f, fi})
		return true
	})
	return found
}

// eachFile calls fn with the path and (device, inode) of each regular file
// in dir, until fn returns false.
func eachFile(dir string, fn func(path string, id [2]uint64) bool) {
	es, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range es {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && !fn(filepath.Join(dir, e.Name()), [2]uint64{uint64(st.Dev), st.Ino}) {
			return
		}
	}
}

// bornAs reports whether the file born at born (0: unknown), found at path
// on the device and inode of cp's file, is that file rather than another
// one on the inode of one deleted, when its bytes cannot say (truncated and written again before it was
// rotated, or checkpointed while empty): the birth time says so; without
// one, a name that continues the checkpointed one (app.log.1,
// app.log-20261203).
func bornAs(born int64, path string, cp checkpoint.Entry) bool {
	if born != 0 && cp.Born != 0 {
		return born == cp.Born
	}
	return strings.HasPrefix(filepath.Base(path), filepath.Base(cp.Path))
}
