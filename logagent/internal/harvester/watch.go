package harvester

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/nxadm/tail/watch"
	"gopkg.in/tomb.v1"
)

// hotPoll is how soon a harvester that has just read a lot looks again by
// itself, without waiting for the watcher: a busy file's lines wait at most
// this long (nxadm/tail's own default period is 250 ms). It costs a wake-up
// and a stat per period only while the file keeps growing fast.
const hotPoll = 100 * time.Millisecond

// setPollOnce guards the library's package variable: global because the
// library reads it from every watcher goroutine, so it cannot be set per
// task or changed once watchers run.
var setPollOnce sync.Once

// SetPollInterval sets how often every watcher stats its file
// (watch.POLL_DURATION, a package variable of the library that its
// goroutines read on every round), and with it activePoll. Only the first
// call has an effect, and it must come before any harvester starts: the
// agent's main calls it once at start (setProcessGlobals), the only writer. Each watcher costs a stat per round whether
// or not its file grew, so with 1,000 files the library's 250 ms default is
// 4,000 stats and wake-ups a second.
func SetPollInterval(d time.Duration) {
	setPollOnce.Do(func() {
		if d > 0 {
			watch.POLL_DURATION = d
		}
	})
}

// activePoll is how often the scheduler looks at a file that is being
// written: the library's own period, so a file is looked at as often
// whichever of the two watches it.
func activePoll() time.Duration { return watch.POLL_DURATION }

// idleAfter is how long a file has had no new data when its harvester hands
// it to a watcher. Until then the harvester looks by itself every
// activePoll: a file written every second or so would otherwise start and
// stop a watcher (a goroutine and a stat) at every line. For a file that is
// being written, a look of its own is cheaper than the watcher's, which
// stats /proc/self/fd/N from a goroutine per file: with 1,000 files written
// at 10 lines/s the watchers were a seventh of the agent's CPU.
func idleAfter() time.Duration { return 5 * activePoll() }

// changeWatcher wakes a harvester when its file, at rest, changes. It is
// nxadm/tail's polling watcher (the project's tailing library) pointed at
// the harvester's own descriptor through /proc/self/fd/N rather than at the
// path. That makes it follow the file by identity: a rename or delete of
// the path never ends the watch, so the harvester reads the old file to its
// end, and the watcher's stat cannot fail with anything but "not exist"
// while the descriptor is open — the one case where the library would call
// os.Exit. The library's Tail reader is not used: see task.go.
type changeWatcher struct {
	tomb    tomb.Tomb
	changes *watch.FileChanges
}

// watchDescriptor starts watching f, whose reader is at pos.
func watchDescriptor(f *os.File, pos int64) (*changeWatcher, error) {
	w := &changeWatcher{}
	fw := watch.NewPollingFileWatcher(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	changes, err := fw.ChangeEvents(&w.tomb, pos)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", f.Name(), err)
	}
	w.changes = changes
	return w, nil
}

// changed reports, without blocking, whether the watcher saw the file grow,
// shrink or go away since the last call; it sets *lost when the descriptor
// itself is gone (see changeWatcher).
func (w *changeWatcher) changed(lost *bool) bool {
	// Three one-case selects: each compiles to a non-blocking receive,
	// several times cheaper than one select over three channels, and the
	// scheduler asks every harvester on every tick.
	select {
	case <-w.changes.Modified:
		return true
	default:
	}
	select {
	case <-w.changes.Truncated:
		return true
	default:
	}
	select {
	case <-w.changes.Deleted:
		*lost = true
		return true
	default:
	}
	return false
}

// stop ends the watch; call it before closing the descriptor.
func (w *changeWatcher) stop() { w.tomb.Kill(nil) }
