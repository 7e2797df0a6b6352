package harvester

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/pathglob"
)

// errNotRegular: the path holds a FIFO, device, socket or directory. Such
// a file is never opened for reading: opening a FIFO blocks until a writer
// comes (and a task's Stop would wait for it), and reading a device has
// side effects.
var errNotRegular = errors.New("not a regular file")

// errOutsideAllowed: the file opened lies outside allowed_paths.
var errOutsideAllowed = errors.New("resolves outside allowed_paths")

// errSystemJournal: the file opened lies in the system journal and
// [agent] allow_journal is false.
var errSystemJournal = errors.New("in the system journal")

// errAgentState: the file opened lies in the agent's own data_dir.
var errAgentState = errors.New("in the agent's data_dir")

// openPolicy is what a file opened by a scan must satisfy.
type openPolicy struct {
	allowed      []string // allowed_paths
	allowJournal bool     // [agent] allow_journal
	journalDirs  []string // the system journal's directories; nil: collect.SystemJournalDirs()
	stateDir     string   // the agent's data_dir (Options.StateDir); "": none
}

func (t *Task) policy() openPolicy {
	return openPolicy{allowed: t.o.AllowedPaths, allowJournal: t.o.AllowJournal, journalDirs: t.o.journalDirs, stateDir: t.o.StateDir}
}

// openFile opens path for reading if what it names, at the moment of the
// open, is a regular file inside allowed paths. The checks are made on the
// descriptor, not on the path beforehand, so swapping the path (a symlink
// to /etc/shadow, a FIFO) between a check and the open cannot get past
// them: the path is opened with O_PATH (the file itself is not opened: no
// FIFO wait, no device side effect), the descriptor is fstat'ed (regular
// file only) and its real path read from /proc/self/fd/N (allowed_paths),
// then that same inode is opened for reading through /proc/self/fd/N,
// non-blocking for good measure. real is the resolved path (for logs).
func openFile(path string, pol openPolicy) (f *os.File, fi fileInfo, real string, err error) {
	pfd, err := openNoEINTR(path, unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		return nil, fileInfo{}, "", &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(pfd)
	var st syscall.Stat_t
	if err := ignoringEINTR(func() error { return syscall.Fstat(pfd, &st) }); err != nil {
		return nil, fileInfo{}, "", &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Nlink == 0 {
		return nil, fileInfo{}, "", &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist} // deleted meanwhile
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, fileInfo{}, "", fmt.Errorf("%s: %w", path, errNotRegular)
	}
	self := "/proc/self/fd/" + strconv.Itoa(pfd)
	real, err = os.Readlink(self)
	if err != nil {
		return nil, fileInfo{}, "", fmt.Errorf("resolve the real path of %s (is /proc mounted?): %w", path, err)
	}
	if !pathglob.MatchAny(pol.allowed, real) {
		return nil, fileInfo{}, real, fmt.Errorf("%s: %w", path, errOutsideAllowed)
	}
	if _, in := collect.InSystemJournal(real, pol.journalDirs); in && !pol.allowJournal {
		return nil, fileInfo{}, real, fmt.Errorf("%s: %w", path, errSystemJournal)
	}
	if pol.stateDir != "" && (real == pol.stateDir || strings.HasPrefix(real, pol.stateDir+"/")) {
		return nil, fileInfo{}, real, fmt.Errorf("%s: %w", path, errAgentState)
	}
	fd, err := openNoEINTR(self, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOCTTY|syscall.O_NONBLOCK)
	if err != nil {
		return nil, fileInfo{}, real, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	// Blocking again, as os.Open leaves a regular file (O_NONBLOCK means
	// nothing for one, but os.NewFile would try to register it with the
	// poller).
	if err := syscall.SetNonblock(fd, false); err != nil {
		syscall.Close(fd)
		return nil, fileInfo{}, real, &fs.PathError{Op: "fcntl", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), fileInfoOf(path, &st), real, nil
}

func openNoEINTR(path string, flags int) (int, error) {
	for {
		fd, err := syscall.Open(path, flags, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// open opens path for the scan (see openFile), logging why it cannot (once
// a minute per path); a path that vanished meanwhile is skipped silently.
func (t *Task) open(path string) (*os.File, fileInfo, bool) {
	f, fi, real, err := openFile(path, t.policy())
	switch {
	case err == nil:
		return f, fi, true
	case errors.Is(err, fs.ErrNotExist):
	case errors.Is(err, errOutsideAllowed):
		t.logOnce(path, "file resolves outside allowed_paths; skipped", "resolved", real, "allowed_paths", t.o.AllowedPaths)
	case errors.Is(err, errSystemJournal):
		t.logOnce(path, "file is in the system journal and [agent] allow_journal = false; skipped", "resolved", real)
	case errors.Is(err, errAgentState):
		t.logOnce(path, "file is in the agent's own data_dir (checkpoints, dead letters, cached config), never collected; narrow the collect entry's glob, or move data_dir out of it", "resolved", real, "data_dir", t.o.StateDir)
	case errors.Is(err, errNotRegular):
		t.logOnce(path, "not a regular file (a FIFO, device or socket is never opened); skipped", "err", err)
	default:
		t.logOnce(path, "cannot open file (check the agent's permissions); retrying at every scan", "err", err)
		t.o.fileError(path, err)
	}
	return nil, fileInfo{}, false
}
