package harvester

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
	"github.com/logcollect/logcollect/pkg/logging"
)

// countsOf is the stored counts of the file at path.
func (e *env) countsOf(t *testing.T, path string) checkpoint.Counts {
	t.Helper()
	fi, err := statFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := e.store.Get(checkpoint.FileKey(fi.dev, fi.ino, "t"))
	if cp.Counts == nil {
		t.Fatalf("no counts in the checkpoint of %s", path)
	}
	return *cp.Counts
}

// The checkpoint counts the records Kafka acknowledged and the lines the
// processors dropped, exactly once: lines acknowledged but not yet saved
// when the agent crashes are read and sent again after the restart, and
// counted only then (by the checkpoint's advance, not by acks); a clean
// restart goes on from the saved counts.
func TestCountsExactAcrossCrashAndRestart(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	lines := append(nl("keep", 1, 4), nl("DEBUG", 5, 5)...) // 4 records, 1 dropped
	appendTo(t, p, lines...)
	held := &heldSender{}
	start := func(snd Sender) {
		e.task = Start(Options{Entry: parseEntry(t, e, dropDebug), HostID: "host-1", AllowedPaths: []string{e.dir + "/**"},
			ScanInterval: 50 * time.Millisecond, PollInterval: 20 * time.Millisecond, CloseInactive: time.Minute, PartialFlush: time.Second,
			StopTimeout: 200 * time.Millisecond, Store: e.store, Sender: snd, Metrics: e.m, Log: logging.Discard()})
		t.Cleanup(e.task.Close)
	}
	start(held)
	ackAll := func(want int) {
		waitFor(t, "records sent", func() bool { return len(held.sent()) == want })
		for _, m := range held.sent() {
			m.Acker.AckRun(m.Seq, 1)
		}
	}
	ackAll(4)
	waitFor(t, "checkpoint at EOF", func() bool { return e.checkpointOf(t, p) == fileSize(t, p) })
	if got, want := e.countsOf(t, p), (checkpoint.Counts{Since: 0, Events: 4, Dropped: 1}); got != want {
		t.Fatalf("counts %+v, want %+v", got, want)
	}
	if err := e.store.Save(); err != nil {
		t.Fatal(err)
	}

	// Three more records acknowledged by Kafka, then a crash before the
	// checkpoint is saved: they are sent again after the restart.
	appendTo(t, p, nl("keep", 6, 8)...)
	ackAll(7)
	waitFor(t, "checkpoint at EOF", func() bool { return e.checkpointOf(t, p) == fileSize(t, p) })
	if got := e.countsOf(t, p).Events; got != 7 {
		t.Fatalf("events %d before the crash, want 7", got)
	}
	e.crash(t)
	start(e.snd)
	waitFor(t, "the unsaved records sent again", func() bool { return len(e.snd.all()) == 3 })
	waitFor(t, "checkpoint at EOF", func() bool { return e.checkpointOf(t, p) == fileSize(t, p) })
	if got, want := e.countsOf(t, p), (checkpoint.Counts{Since: 0, Events: 7, Dropped: 1}); got != want {
		t.Fatalf("counts after the crash %+v, want %+v (re-sent records counted once)", got, want)
	}

	// A clean restart goes on counting.
	e.restart(t)
	appendTo(t, p, nl("keep", 9, 9)...)
	appendTo(t, p, nl("DEBUG", 10, 10)...)
	start(e.snd)
	waitFor(t, "checkpoint at EOF", func() bool { return e.checkpointOf(t, p) == fileSize(t, p) })
	if got, want := e.countsOf(t, p), (checkpoint.Counts{Since: 0, Events: 8, Dropped: 2}); got != want {
		t.Fatalf("counts after a restart %+v, want %+v", got, want)
	}
}

// A file that exists when its entry is first seen with start=end is
// counted from where reading starts, and a truncated file's new generation
// from 0.
func TestCountsSinceStartAndTruncation(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	appendTo(t, p, nl("old", 1, 3)...)
	at := fileSize(t, p)
	e.start(t, `{"path":"DIR/app.log","topic":"t"}`)
	waitFor(t, "file followed", func() bool { return len(e.task.runningKeys()) == 1 })
	appendTo(t, p, nl("new", 4, 5)...)
	waitFor(t, "checkpoint at EOF", func() bool { return e.checkpointOf(t, p) == fileSize(t, p) })
	if got, want := e.countsOf(t, p), (checkpoint.Counts{Since: at, Events: 2}); got != want {
		t.Fatalf("counts %+v, want %+v", got, want)
	}
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, p, nl("again", 1, 1)...)
	waitFor(t, "new generation counted", func() bool {
		c := e.countsOf(t, p)
		return c == checkpoint.Counts{Since: 0, Events: 1}
	})
}
