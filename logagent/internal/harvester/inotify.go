package harvester

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// dirWatch is an inotify watch of directories for the events discovery
// needs: a name created, renamed away, renamed in. It is inotify itself
// rather than fsnotify (which nxadm/tail brings in) because fsnotify
// v1.6.0 always asks for IN_MODIFY: every line written to any file in a
// watched directory became an event for the agent to read and discard. With
// 1,000 files written at 10 lines/s that was 3.5 % of a core more (a test
// process writing the lines and watching them: 35 ms of CPU a second), half
// of what the whole agent costs in that benchmark; this watch costs nothing
// measurable there, as writes raise no event. It also keeps the rename cookie that pairs a file's old
// name with its new one, which fsnotify drops.
type dirWatch struct {
	f  *os.File // read through the runtime's poller, so close wakes a read
	fd int      // the same descriptor, for (un)registering watches

	mu     sync.Mutex
	closed bool
	wds    map[int32]string // watch descriptor → directory
	byDir  map[string]int32
	events []byte
}

// dirEvent is one inotify event: name is the directory's entry, joined to
// the directory.
type dirEvent struct {
	name   string
	mask   uint32
	cookie uint32
}

const dirWatchMask = unix.IN_CREATE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_ONLYDIR

func newDirWatch() (*dirWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	return &dirWatch{f: os.NewFile(uintptr(fd), "inotify"), fd: fd, wds: map[int32]string{}, byDir: map[string]int32{},
		events: make([]byte, 64<<10)}, nil
}

func (w *dirWatch) add(dir string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return os.ErrClosed
	}
	wd, err := unix.InotifyAddWatch(w.fd, dir, dirWatchMask)
	if err != nil {
		return &os.PathError{Op: "inotify_add_watch", Path: dir, Err: err}
	}
	w.wds[int32(wd)] = dir
	w.byDir[dir] = int32(wd)
	return nil
}

func (w *dirWatch) remove(dir string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wd, ok := w.byDir[dir]
	if !ok || w.closed {
		return
	}
	delete(w.byDir, dir)
	delete(w.wds, wd)
	_, _ = unix.InotifyRmWatch(w.fd, uint32(wd)) // fails if the directory is gone: the kernel dropped the watch already
}

// errOverflow: the kernel's event queue overflowed; events were lost.
var errOverflow = errors.New("inotify event queue overflowed")

// read waits for events and hands each to fn; errOverflow after handing
// the others; os.ErrClosed (wrapped) once closed.
func (w *dirWatch) read(fn func(dirEvent)) error {
	n, err := w.f.Read(w.events)
	if err != nil {
		return err
	}
	buf := w.events[:n]
	overflow := false
	for len(buf) >= unix.SizeofInotifyEvent {
		wd := int32(binary.NativeEndian.Uint32(buf[0:]))
		mask := binary.NativeEndian.Uint32(buf[4:])
		cookie := binary.NativeEndian.Uint32(buf[8:])
		size := unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(buf[12:]))
		if size > len(buf) {
			break // cannot happen: the kernel returns whole events
		}
		name := buf[unix.SizeofInotifyEvent:size]
		buf = buf[size:]
		if mask&unix.IN_Q_OVERFLOW != 0 {
			overflow = true
			continue
		}
		w.mu.Lock()
		dir, ok := w.wds[wd]
		if mask&unix.IN_IGNORED != 0 && ok { // the directory was deleted or unmounted
			delete(w.wds, wd)
			delete(w.byDir, dir)
			ok = false
		}
		w.mu.Unlock()
		if !ok || len(name) == 0 {
			continue
		}
		for len(name) > 0 && name[len(name)-1] == 0 { // NUL padding
			name = name[:len(name)-1]
		}
		fn(dirEvent{name: filepath.Join(dir, string(name)), mask: mask, cookie: cookie})
	}
	if overflow {
		return errOverflow
	}
	return nil
}

func (w *dirWatch) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.f.Close()
}

// watching reports whether dir is watched (the kernel drops the watch of a
// deleted directory).
func (w *dirWatch) watching(dir string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.byDir[dir]
	return ok
}

// dirHub shares one inotify instance among every task of an agent (the
// tasks of one Scheduler): one per collect entry would soon meet
// fs.inotify.max_user_instances (128 by default, shared with every other
// program the user runs). Its one goroutine reads the events and hands each
// to the tasks watching the event's directory. The zero value is ready.
type dirHub struct {
	mu    sync.Mutex
	w     *dirWatch
	done  chan struct{}
	users int
	subs  map[string]map[*discovery]bool // directory → the tasks watching it

	disp sync.Mutex // held while an event is handed out: leave waits for it

	start func() (*dirWatch, error) // nil: newDirWatch; tests make it fail to run without inotify
}

func (h *dirHub) join() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.w == nil {
		start := h.start
		if start == nil {
			start = newDirWatch
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
				h.w.remove(dir)
			}
		}
	}
	h.users--
	var w *dirWatch
	var done chan struct{}
	if h.users == 0 {
		w, done = h.w, h.done
		h.w, h.subs = nil, nil
	}
	h.mu.Unlock()
	h.disp.Lock() // an event being handed to d is handled
	h.disp.Unlock()
	if w != nil {
		w.close()
		<-done
	}
}

// add watches dir for d.
func (h *dirHub) add(dir string, d *discovery) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs[dir]) == 0 || !h.w.watching(dir) {
		if err := h.w.add(dir); err != nil {
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
			h.w.remove(dir)
		}
	}
}

// watching reports whether the kernel still watches dir for d.
func (h *dirHub) watching(dir string, d *discovery) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.subs[dir][d] && h.w.watching(dir)
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

func (h *dirHub) run(w *dirWatch, done chan struct{}) {
	defer close(done)
	hand := func(ev dirEvent) {
		h.disp.Lock()
		defer h.disp.Unlock()
		for _, d := range h.watchers(filepath.Dir(ev.name)) {
			d.event(ev)
		}
	}
	for {
		err := w.read(hand)
		switch {
		case err == nil:
		case errors.Is(err, errOverflow):
			// Events were lost: a full scan finds what they announced, if
			// it still exists.
			for _, d := range h.watchers("") {
				d.t.o.Log.Warn("directory events overflowed inotify's queue (raise fs.inotify.max_queued_events); scanning", "path", d.t.o.Entry.Path)
				d.t.rescanSoon()
			}
		case errors.Is(err, os.ErrClosed):
			return
		default:
			for _, d := range h.watchers("") {
				d.t.o.Log.Warn("reading directory events failed; new files are found at every scan_interval only", "path", d.t.o.Entry.Path, "err", err)
			}
			return
		}
	}
}
