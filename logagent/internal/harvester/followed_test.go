package harvester

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/pkg/logging"
)

// startScansByHand starts a task whose scans the test runs itself (no
// loop), so it can look at what each scan did.
func (e *env) startScansByHand(t *testing.T, entryJSON string) *Task {
	t.Helper()
	es, err := collect.Parse([]byte("[" + entryJSON + "]"))
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Entry: es[0], HostName: "h", HostIP: "10.0.0.1", HostID: "host-1", AllowedPaths: []string{e.dir + "/**"},
		ScanInterval: time.Hour, PollInterval: 20 * time.Millisecond, CloseInactive: time.Minute,
		PartialFlush: time.Second, StopTimeout: 2 * time.Second, Store: e.store, Sender: e.snd, Metrics: e.m, Log: logging.Discard()}
	ctx, cancel := context.WithCancel(context.Background())
	task := &Task{o: o, ctx: ctx, cancel: cancel, kick: make(chan struct{}, 1), running: map[checkpoint.Key]*harvester{}, errLog: logging.NewLimited(time.Minute),
		followed: map[string]followedPath{}, nextFollowed: map[string]followedPath{}}
	task.o.rescan, task.o.report = task.rescanSoon, task.reportChain
	task.o.Owners.join(task)
	task.o.Scheduler, task.ownSched = NewScheduler(0, o.PollInterval), true
	task.watchDirs()
	t.Cleanup(func() {
		task.Close()
		task.disc.close()
	})
	return task
}

// A followed path is checked without a stat only while nothing can have
// changed what it names: its directory's stat unchanged and settled, no
// directory event, a plain file. Each of those going away brings the stat
// back, and a file put in its place is found.
func TestFollowedPathCheckedWithoutStatOnlyWhileUnchanged(t *testing.T) {
	e := newEnv(t)
	dir := filepath.Join(e.dir, "logs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "app.log")
	appendTo(t, p, nl("a", 1, 3)...)
	task := e.startScansByHand(t, `{"path":"`+dir+`/app.log","topic":"t","start":"beginning"}`)
	scan := func() int {
		t.Helper()
		before := task.pathStats
		task.scan()
		return task.pathStats - before
	}
	scan() // starts the harvester
	waitFor(t, "3 lines", func() bool { return len(e.snd.all()) == 3 })
	if n := scan(); n != 1 {
		t.Fatalf("a freshly written directory: %d stats, want 1 (not settled yet)", n)
	}
	time.Sleep(settleMargin + 100*time.Millisecond)
	scan() // checks with a stat, and keeps it
	if n := scan(); n != 0 {
		t.Fatalf("settled, unchanged directory: %d stats, want 0", n)
	}
	appendTo(t, p, nl("a", 4, 5)...) // growth is the harvester's: no stat either
	if n := scan(); n != 0 {
		t.Fatalf("after growth: %d stats, want 0", n)
	}

	// A directory event alone brings the stat back for one scan.
	task.disc.changes.Add(1)
	if n := scan(); n != 1 {
		t.Fatalf("after a directory event: %d stats, want 1", n)
	}

	// A file renamed over the path, with the event not counted, and the
	// next scan after the directory settled again (scan_interval 5 s): the
	// directory's changed stamp alone tells the scan to look, and it finds
	// the new file.
	events := task.disc.changes.Load()
	appendTo(t, filepath.Join(dir, "new"), nl("b", 1, 2)...)
	if err := os.Rename(filepath.Join(dir, "new"), p); err != nil {
		t.Fatal(err)
	}
	time.Sleep(settleMargin + 100*time.Millisecond) // the events arrive meanwhile, and the directory settles again
	task.disc.changes.Store(events)                 // pretend they did not
	task.disc.take()                                // nor the files they pinned
	if n := scan(); n != 1 {
		t.Fatalf("after a rename over the path: %d stats, want 1", n)
	}
	waitFor(t, "the new file's lines", func() bool { return hasAll(t, e.snd.all(), trimmed(append(nl("a", 1, 5), nl("b", 1, 2)...))) })
}

// A symlink's target can be replaced without its directory changing: it is
// stat'ed at every scan.
func TestFollowedSymlinkAlwaysStatted(t *testing.T) {
	e := newEnv(t)
	dir := filepath.Join(e.dir, "logs")
	target := filepath.Join(e.dir, "pods")
	for _, d := range []string{dir, target} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	appendTo(t, filepath.Join(target, "0.log"), nl("a", 1, 3)...)
	if err := os.Symlink(filepath.Join(target, "0.log"), filepath.Join(dir, "app.log")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(settleMargin + 100*time.Millisecond)
	task := e.startScansByHand(t, `{"path":"`+dir+`/*.log","topic":"t","start":"beginning"}`)
	task.scan()
	waitFor(t, "3 lines", func() bool { return len(e.snd.all()) == 3 })
	for range 3 {
		before := task.pathStats
		task.scan()
		if n := task.pathStats - before; n != 1 {
			t.Fatalf("a symlink: %d stats, want 1", n)
		}
	}
	// kubelet's rotation: the target renamed, a new one created.
	if err := os.Rename(filepath.Join(target, "0.log"), filepath.Join(target, "0.log.1")); err != nil {
		t.Fatal(err)
	}
	appendTo(t, filepath.Join(target, "0.log"), nl("b", 1, 2)...)
	task.scan()
	waitFor(t, "the new target's lines", func() bool { return hasAll(t, e.snd.all(), trimmed(append(nl("a", 1, 3), nl("b", 1, 2)...))) })
}

// The glob's result is reused while its directory is unchanged; a file
// created there is found at the next scan even when its event was missed
// and the directory settled again meanwhile.
func TestGlobReusedOnlyWhileDirectoryUnchanged(t *testing.T) {
	e := newEnv(t)
	dir := filepath.Join(e.dir, "logs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	appendTo(t, filepath.Join(dir, "a.log"), nl("a", 1, 3)...)
	time.Sleep(settleMargin + 100*time.Millisecond)
	task := e.startScansByHand(t, `{"path":"`+dir+`/*.log","topic":"t","start":"beginning"}`)
	task.scan()
	waitFor(t, "a's lines", func() bool { return len(e.snd.all()) == 3 })
	task.scan()
	if !task.lastGlob.trusted {
		t.Fatal("a settled, watched directory's glob is not kept")
	}
	events := task.disc.changes.Load()
	appendTo(t, filepath.Join(dir, "b.log"), nl("b", 1, 2)...)
	time.Sleep(settleMargin + 100*time.Millisecond)
	task.disc.changes.Store(events) // the create event missed
	task.disc.take()                // and its pinned file
	task.scan()
	waitFor(t, "b's lines", func() bool { return hasAll(t, e.snd.all(), trimmed(append(nl("a", 1, 3), nl("b", 1, 2)...))) })
}
