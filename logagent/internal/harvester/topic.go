package harvester

import (
	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
)

// previousTopic is the topic the task's collect entry sent to before its
// topic was edited, or "". Checkpoints are kept per file and topic (the
// same file collected to two topics keeps two positions), so without it
// the edited entry is a new stream: with start=end every file started at
// its end, and the lines written while the old task stopped and the new
// one started went to neither topic.
func previousTopic(store *checkpoint.Store, entryPath, topic string) string {
	if prev := store.EntryTopic(entryPath); prev != topic {
		return prev
	}
	return ""
}

// fromPreviousTopic returns the checkpoint a file takes over from the
// entry's previous topic: the same file (its fingerprint still matches)
// continues where that topic's stream was acknowledged, under its id. Not
// when the file has a newer checkpoint of its own under this topic (it was
// read under it since, or the topic went back and forth). Only the same
// collect entry takes over: another entry reading the same file to another
// topic is a deliberate fan-out and starts where its start says.
func (t *Task) fromPreviousTopic(f readerAt, fi fileInfo, key checkpoint.Key) (checkpoint.Entry, bool, error) {
	if t.prevTopic == "" {
		return checkpoint.Entry{}, false, nil
	}
	prev, ok := t.o.Store.Get(checkpoint.FileKey(fi.dev, fi.ino, t.prevTopic))
	if !ok || prev.Offset > fi.size || int64(prev.FPLen) > fi.size || !sameBirth(prev.Born, fi.born) {
		return checkpoint.Entry{}, false, nil
	}
	if cur, ok := t.o.Store.Get(key); ok && !cur.Updated.Before(prev.Updated) {
		return checkpoint.Entry{}, false, nil
	}
	buf := make([]byte, prev.FPLen)
	if _, err := f.ReadAt(buf, 0); err != nil {
		return checkpoint.Entry{}, false, err
	}
	if fingerprintOf(buf) != prev.FP {
		return checkpoint.Entry{}, false, nil // the inode holds another file now
	}
	return prev, true, nil
}

type readerAt interface {
	ReadAt(p []byte, off int64) (int, error)
}
