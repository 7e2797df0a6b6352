package harvester

import (
	"errors"
	"os"
	"path/filepath"
	"sync"

	"github.com/logcollect/logcollect/logagent/internal/dirwatch"
)

// dirHub shares one inotify instance among every task of an agent (the
// tasks of one Scheduler): one per collect entry would soon meet
// fs.inotify.max_user_instances (128 by default, shared with every other
// program the user runs). Its one goroutine reads the events and hands each
// to the tasks watching the event's directory. The zero value is ready.
type dirHub struct {
	mu    sync.Mutex
	w     *dirwatch.Watch
	done  chan struct{}
	users int
	subs  map[string]map[*discovery]bool // directory → the tasks watching it

	disp sync.Mutex // held while an event is handed out: leave waits for it

	start func() (*dirwatch.Watch, error) // nil: dirwatch.New; tests make it fail to run without inotify
}

func (h *dirHub) join() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.w == nil {
		start := h.start
		if start == nil {
			start = dirwatch.New
		}
		w, err := start()
		if err != nil {
			return err
		}
		h.w, h.done, h.subs = w, make(chan struct{}), map[string]map[*discovery]bool{}
		go h.run(w, h.done)
	}
	h.users++
	return nil
}

// leave drops d's watches; once it returns no event reaches d. The last
// task to leave closes the instance.
func (h *dirHub) leave(d *discovery) {
	h.mu.Lock()
	for dir, s := range h.subs {
		if s[d] {
			delete(s, d)
			if len(s) == 0 {
				delete(h.subs, dir)
				h.w.Remove(dir)
			}
		}
	}
	h.users--
	var w *dirwatch.Watch
	var done chan struct{}
	if h.users == 0 {
		w, done = h.w, h.done
		h.w, h.subs = nil, nil
	}
	h.mu.Unlock()
	h.disp.Lock() // an event being handed to d is handled
	h.disp.Unlock()
	if w != nil {
		w.Close()
		<-done
	}
}

// add watches dir for d.
func (h *dirHub) add(dir string, d *discovery) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs[dir]) == 0 || !h.w.Watching(dir) {
		if err := h.w.Add(dir); err != nil {
			return err
		}
	}
	if h.subs[dir] == nil {
		h.subs[dir] = map[*discovery]bool{}
	}
	h.subs[dir][d] = true
	return nil
}

// remove stops watching dir for d.
func (h *dirHub) remove(dir string, d *discovery) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.subs[dir]; s[d] {
		delete(s, d)
		if len(s) == 0 {
			delete(h.subs, dir)
			h.w.Remove(dir)
		}
	}
}

// watching reports whether the kernel still watches dir for d.
func (h *dirHub) watching(dir string, d *discovery) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.subs[dir][d] && h.w.Watching(dir)
}

// watchers lists the tasks watching dir, or every watching task when dir
// is "".
func (h *dirHub) watchers(dir string) []*discovery {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*discovery
	seen := map[*discovery]bool{}
	for sdir, s := range h.subs {
		if dir != "" && sdir != dir {
			continue
		}
		for d := range s {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	return out
}

func (h *dirHub) run(w *dirwatch.Watch, done chan struct{}) {
	defer close(done)
	hand := func(ev dirwatch.Event) {
		h.disp.Lock()
		defer h.disp.Unlock()
		for _, d := range h.watchers(filepath.Dir(ev.Name)) {
			d.event(ev)
		}
	}
	for {
		err := w.Read(hand)
		switch {
		case err == nil:
		case errors.Is(err, dirwatch.ErrOverflow):
			// Events were lost: a full scan finds what they announced, if
			// it still exists.
			for _, d := range h.watchers("") {
				d.t.o.Log.Warn("directory events overflowed inotify's queue (raise fs.inotify.max_queued_events); scanning", "path", d.t.o.Entry.Path)
				d.changes.Add(1)
				d.t.rescanSoon()
			}
		case errors.Is(err, os.ErrClosed):
			return
		default:
			for _, d := range h.watchers("") {
				d.blind.Store(true)
				d.t.o.Log.Warn("reading directory events failed; new files are found at every scan_interval only", "path", d.t.o.Entry.Path, "err", err)
			}
			return
		}
	}
}
