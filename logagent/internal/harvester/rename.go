package harvester

import "github.com/logcollect/logcollect/logagent/internal/checkpoint"

// renamedTo reports whether the file fi, known under old, is now named
// path: old no longer holds it. With hard links, both names hold it and the
// old one is kept, rather than flipping the name at every scan.
func renamedTo(old, path string, fi fileInfo) bool {
	if old == path {
		return false
	}
	cur, err := statFile(old)
	return err != nil || cur.dev != fi.dev || cur.ino != fi.ino
}

// followRename makes the harvester's name and the stored path of key follow
// a rename the scan found (logrotate's app.log -> app.log.1): the
// checkpoint's expiry looks for the file under its stored path, and a path
// written only when the file was first seen made a rotated file at rest
// look gone after checkpoint_retention, and read again from 0 under a new
// id. h is nil when no harvester follows the file.
func (t *Task) followRename(h *harvester, key checkpoint.Key, old, path string, fi fileInfo) {
	if !renamedTo(old, path, fi) {
		return
	}
	if h != nil {
		h.path.Store(&path)
	}
	t.o.Store.SetPath(key, path)
}
