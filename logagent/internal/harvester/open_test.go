package harvester

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/pkg/logging"
)

// startFast starts a task on entryJSON that rescans every millisecond (a
// scan is then almost always in its stat-to-open window while a racing
// goroutine swaps the path).
func (e *env) startFast(t *testing.T, entryJSON string) {
	t.Helper()
	es, err := collect.Parse([]byte("[" + strings.ReplaceAll(entryJSON, "DIR", e.dir) + "]"))
	if err != nil {
		t.Fatal(err)
	}
	log := logging.Discard()
	if e.log != nil {
		log = e.log
	}
	e.task = Start(Options{Entry: es[0], HostName: "h", HostIP: "10.0.0.1", AllowedPaths: []string{e.dir + "/**"},
		ScanInterval: time.Millisecond, PollInterval: 20 * time.Millisecond, CloseInactive: time.Minute,
		PartialFlush: 300 * time.Millisecond, StopTimeout: 2 * time.Second, Store: e.store, Sender: e.snd, Metrics: e.m, Log: log})
	t.Cleanup(e.task.Close)
}

// pointLink makes link point at target, atomically (as an attacker would:
// a new link renamed over the old one).
func pointLink(t *testing.T, target, link string) {
	tmp := link + ".tmp"
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		t.Error(err)
		return
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Error(err)
	}
}

func secretFile(t *testing.T) string {
	secret := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(secret, []byte("root:secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return secret
}

func noSecret(t *testing.T, e *env) {
	t.Helper()
	for _, m := range e.snd.messages() {
		if strings.Contains(m, "secret") {
			t.Fatalf("read %q from a file outside allowed_paths", m)
		}
	}
}

// TestSymlinkSwapRaceNeverReadsOutside: a writer of a watched directory
// swaps a symlink between an allowed file and one outside allowed_paths as
// fast as it can while the task rescans every millisecond. The check must
// hold for what was opened, not for what the path named a moment before:
// the outside file is never read. (At b566241 the path was resolved and
// checked, then opened again by name, and the secret was read.)
func TestSymlinkSwapRaceNeverReadsOutside(t *testing.T) {
	e := newEnv(t)
	secret := secretFile(t)
	allowed := filepath.Join(e.dir, "real.txt")
	appendTo(t, allowed, "allowed\n")
	link := filepath.Join(e.dir, "link.log")
	pointLink(t, allowed, link)
	e.startFast(t, `{"path":"DIR/link.log","topic":"t","start":"beginning"}`)

	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			pointLink(t, []string{allowed, secret}[i%2], link)
		}
	}()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && !t.Failed() {
		time.Sleep(50 * time.Millisecond)
		noSecret(t, e)
	}
	stop.Store(true)
	wg.Wait()
	pointLink(t, allowed, link)
	waitFor(t, "the allowed file read", func() bool { return hasAll(t, e.snd.all(), []string{"allowed"}) })
	noSecret(t, e)
}

// TestSymlinkSwappedBetweenStatAndOpen swaps the symlink to a file outside
// allowed_paths exactly between the scan's stat and its open: nothing is
// read from it, and the skip is logged with the real path.
func TestSymlinkSwappedBetweenStatAndOpen(t *testing.T) {
	e := newEnv(t)
	var logs testkit.Buffer
	e.log = slog.New(slog.NewTextHandler(&logs, nil))
	secret := secretFile(t)
	allowed := filepath.Join(e.dir, "real.txt")
	appendTo(t, allowed, "allowed\n")
	link := filepath.Join(e.dir, "link.log")
	pointLink(t, allowed, link)
	var swapped atomic.Bool
	e.beforeOpen = func(path string) {
		if path == link && !swapped.Swap(true) {
			pointLink(t, secret, link)
		}
	}
	e.start(t, `{"path":"DIR/link.log","topic":"t","start":"beginning"}`)
	waitFor(t, "the swap", swapped.Load)
	waitFor(t, "the skip logged", func() bool {
		return strings.Contains(logs.String(), "resolves outside allowed_paths") && strings.Contains(logs.String(), secret)
	})
	noSecret(t, e)
}

// TestFIFONeverBlocksStop: a FIFO matching the glob, and a FIFO swapped in
// for a regular file between the scan's stat and its open, are never opened
// for reading (an open of a FIFO blocks until a writer comes); the regular
// file is read, the swap is logged, and Close returns at once. (At b566241
// the swapped-in FIFO blocked the scan in os.Open, and Stop waited for it
// forever.)
func TestFIFONeverBlocksStop(t *testing.T) {
	e := newEnv(t)
	var logs testkit.Buffer
	e.log = slog.New(slog.NewTextHandler(&logs, nil))
	if err := syscall.Mkfifo(filepath.Join(e.dir, "fifo.log"), 0o644); err != nil {
		t.Fatal(err)
	}
	appendTo(t, filepath.Join(e.dir, "a.log"), "regular\n")
	swap := filepath.Join(e.dir, "swap.log")
	appendTo(t, swap, "to be swapped\n")
	var swapped atomic.Bool
	e.beforeOpen = func(path string) {
		if path == swap && !swapped.Swap(true) {
			if err := os.Remove(swap); err != nil {
				t.Error(err)
			}
			if err := syscall.Mkfifo(swap, 0o644); err != nil {
				t.Error(err)
			}
		}
	}
	e.start(t, `{"path":"DIR/*.log","topic":"t","start":"beginning"}`)
	waitFor(t, "the swap", swapped.Load)
	waitFor(t, "the regular file read", func() bool { return hasAll(t, e.snd.all(), []string{"regular"}) })
	waitFor(t, "the swapped-in FIFO logged", func() bool {
		return strings.Contains(logs.String(), "socket is never opened") && strings.Contains(logs.String(), swap)
	})
	stopped := make(chan struct{})
	go func() { e.task.Close(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		// Release the blocked open (a writer ends the FIFO's wait), so
		// the test binary can end.
		for _, p := range []string{swap, filepath.Join(e.dir, "fifo.log")} {
			if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
		}
		t.Fatal("Close blocked: a FIFO was opened for reading")
	}
}
