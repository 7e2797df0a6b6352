package chaos

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Rotation is how a file is rotated when it reaches its size.
type Rotation int

const (
	NoRotation   Rotation = iota
	Rename                // f.log → f.log.N, a new f.log (logrotate's default)
	CopyTruncate          // f.log copied to f.log.cN, then truncated in place
)

func (r Rotation) String() string {
	return [...]string{"none", "rename", "copytruncate"}[r]
}

// FileSpec is one written file.
type FileSpec struct {
	Rotation    Rotation
	RotateBytes int64 // rotate when the file reaches this size
}

// Writer appends JSON lines {"f":F,"seq":N,"pad":"..."} to files
// <dir>/f<F>.log at a fixed rate per file, rotating them as configured.
// Every line is written whole with one write(2), so a reader never sees a
// torn line except at EOF.
type Writer struct {
	Dir     string
	Rate    int // lines per second per file
	LineLen int // approximate bytes per line (default 100)

	mu    sync.Mutex
	files []*wfile
	wg    sync.WaitGroup
}

type wfile struct {
	idx       int
	path      string
	spec      FileSpec
	mu        sync.Mutex
	f         *os.File
	size      int64
	seq       int64   // lines written
	truncs    []int64 // seq of the first line of each truncation generation after the first
	rotations int
	running   bool
	stop      chan struct{}
	done      chan struct{}
	started   time.Time
	active    time.Duration // time spent writing (for the rate achieved)
	err       error
}

// Path is the path of file f.
func (w *Writer) Path(f int) string { return filepath.Join(w.Dir, fmt.Sprintf("f%d.log", f)) }

// Glob is the collect path of file f: it also matches its rotated names, so
// a renamed file is followed to its end and a copytruncate copy is
// recognised (see docs/logagent.md, rotation).
func (w *Writer) Glob(f int) string { return w.Path(f) + "*" }

// Add creates file f (empty) with its rotation; it is written after Start.
func (w *Writer) Add(f int, spec FileSpec) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.files) <= f {
		w.files = append(w.files, nil)
	}
	if w.files[f] != nil {
		return fmt.Errorf("file %d exists", f)
	}
	wf := &wfile{idx: f, path: w.Path(f), spec: spec}
	fh, err := os.OpenFile(wf.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	wf.f = fh
	w.files[f] = wf
	return nil
}

// Start starts writing file f at Rate until StopFile, Stop or ctx ends.
func (w *Writer) Start(ctx context.Context, f int) {
	w.mu.Lock()
	wf := w.files[f]
	w.mu.Unlock()
	wf.mu.Lock()
	if wf.running {
		wf.mu.Unlock()
		return
	}
	wf.running = true
	wf.stop = make(chan struct{})
	wf.done = make(chan struct{})
	wf.mu.Unlock()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer close(wf.done)
		w.run(ctx, wf)
	}()
}

// StartAll starts every added file.
func (w *Writer) StartAll(ctx context.Context) {
	for _, f := range w.Files() {
		w.Start(ctx, f)
	}
}

// Files lists the added files.
func (w *Writer) Files() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []int
	for i, wf := range w.files {
		if wf != nil {
			out = append(out, i)
		}
	}
	return out
}

// StopFile stops writing file f and waits.
func (w *Writer) StopFile(f int) {
	w.mu.Lock()
	wf := w.files[f]
	w.mu.Unlock()
	wf.mu.Lock()
	if !wf.running {
		wf.mu.Unlock()
		return
	}
	close(wf.stop)
	wf.running = false
	done := wf.done
	wf.mu.Unlock()
	<-done
}

// Stop stops every file and closes them; it returns the first write error.
func (w *Writer) Stop() error {
	for _, f := range w.Files() {
		w.StopFile(f)
	}
	w.wg.Wait()
	var first error
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, wf := range w.files {
		if wf == nil {
			continue
		}
		if wf.err != nil && first == nil {
			first = wf.err
		}
		if wf.f != nil {
			wf.f.Close()
			wf.f = nil
		}
	}
	return first
}

// FileStats is what was written to one file.
type FileStats struct {
	File      int
	Rotation  Rotation
	Written   int64
	Rotations int
	Truncs    []int64 // first seq of each generation after a copytruncate
	Rate      float64 // lines/s achieved while writing
}

// Stats returns what was written so far.
func (w *Writer) Stats() []FileStats {
	w.mu.Lock()
	files := append([]*wfile(nil), w.files...)
	w.mu.Unlock()
	var out []FileStats
	for _, wf := range files {
		if wf == nil {
			continue
		}
		wf.mu.Lock()
		fs := FileStats{File: wf.idx, Rotation: wf.spec.Rotation, Written: wf.seq, Rotations: wf.rotations, Truncs: append([]int64(nil), wf.truncs...)}
		active := wf.active
		if wf.running {
			active += time.Since(wf.started)
		}
		if active > 0 {
			fs.Rate = float64(wf.seq) / active.Seconds()
		}
		wf.mu.Unlock()
		out = append(out, fs)
	}
	return out
}

// Written is the total of lines written.
func (w *Writer) Written() int64 {
	var n int64
	for _, s := range w.Stats() {
		n += s.Written
	}
	return n
}

func (w *Writer) line(buf []byte, f int, seq int64) []byte {
	ll := w.LineLen
	if ll <= 0 {
		ll = 100
	}
	buf = fmt.Appendf(buf[:0], `{"f":%d,"seq":%d,"pad":"`, f, seq)
	for len(buf) < ll-3 {
		buf = append(buf, byte('a'+seq%26))
	}
	return append(buf, '"', '}', '\n')
}

// run writes in 10 ms steps, catching up to Rate × elapsed, so a late tick
// does not lower the rate (it is measured and reported anyway).
func (w *Writer) run(ctx context.Context, wf *wfile) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	wf.mu.Lock()
	wf.started = start
	base := wf.seq
	wf.mu.Unlock()
	defer func() {
		wf.mu.Lock()
		wf.active += time.Since(start)
		wf.mu.Unlock()
	}()
	var buf, batch []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-wf.stop:
			return
		case <-tick.C:
		}
		target := base + int64(time.Since(start).Seconds()*float64(w.Rate))
		wf.mu.Lock()
		for wf.seq < target {
			// Batch up to 64 KiB per write; lines stay whole.
			batch = batch[:0]
			first := wf.seq
			for wf.seq < target && len(batch) < 64<<10 {
				buf = w.line(buf, wf.idx, wf.seq)
				batch = append(batch, buf...)
				wf.seq++
			}
			if _, err := wf.f.Write(batch); err != nil {
				wf.err = fmt.Errorf("write %s: %w", wf.path, err)
				wf.seq = first
				wf.mu.Unlock()
				return
			}
			wf.size += int64(len(batch))
			if wf.spec.Rotation != NoRotation && wf.spec.RotateBytes > 0 && wf.size >= wf.spec.RotateBytes {
				if err := wf.rotate(); err != nil {
					wf.err = err
					wf.mu.Unlock()
					return
				}
			}
		}
		wf.mu.Unlock()
	}
}

// rotate is called with wf.mu held.
func (wf *wfile) rotate() error {
	wf.rotations++
	switch wf.spec.Rotation {
	case Rename:
		if err := wf.f.Close(); err != nil {
			return err
		}
		if err := os.Rename(wf.path, fmt.Sprintf("%s.%d", wf.path, wf.rotations)); err != nil {
			return fmt.Errorf("rotate %s: %w", wf.path, err)
		}
		f, err := os.OpenFile(wf.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("rotate %s: %w", wf.path, err)
		}
		wf.f = f
	case CopyTruncate:
		src, err := os.Open(wf.path)
		if err != nil {
			return err
		}
		dst, err := os.OpenFile(fmt.Sprintf("%s.c%d", wf.path, wf.rotations), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
		if err != nil {
			src.Close()
			return err
		}
		_, err = io.Copy(dst, src)
		src.Close()
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("copytruncate %s: %w", wf.path, err)
		}
		if err := wf.f.Truncate(0); err != nil {
			return fmt.Errorf("copytruncate %s: %w", wf.path, err)
		}
		wf.truncs = append(wf.truncs, wf.seq)
	}
	wf.size = 0
	return nil
}

// AppendRaw appends bytes to file f outside the sequence (bad inputs). The
// caller accounts for what it wrote.
func (w *Writer) AppendRaw(f int, data []byte) error {
	w.mu.Lock()
	wf := w.files[f]
	w.mu.Unlock()
	wf.mu.Lock()
	defer wf.mu.Unlock()
	_, err := wf.f.Write(data)
	wf.size += int64(len(data))
	return err
}

// WriteLines writes n sequenced lines to file f at once (outside Start).
func (w *Writer) WriteLines(f int, n int) error {
	w.mu.Lock()
	wf := w.files[f]
	w.mu.Unlock()
	wf.mu.Lock()
	defer wf.mu.Unlock()
	var b strings.Builder
	var buf []byte
	for i := 0; i < n; i++ {
		buf = w.line(buf, f, wf.seq)
		b.Write(buf)
		wf.seq++
	}
	_, err := wf.f.WriteString(b.String())
	wf.size += int64(b.Len())
	return err
}

// Recreate deletes file f and creates it again at the same path (the
// sequence continues; the new file is a new truncation generation for the
// order check). It returns the inodes of the old and the new file: on most
// file systems a freed inode is handed out again at once.
func (w *Writer) Recreate(f int) (oldIno, newIno uint64, err error) {
	w.mu.Lock()
	wf := w.files[f]
	w.mu.Unlock()
	wf.mu.Lock()
	defer wf.mu.Unlock()
	oldIno = inodeOf(wf.path)
	wf.f.Close()
	if err := os.Remove(wf.path); err != nil {
		return 0, 0, err
	}
	fh, err := os.OpenFile(wf.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o644)
	if err != nil {
		return 0, 0, err
	}
	wf.f, wf.size = fh, 0
	wf.truncs = append(wf.truncs, wf.seq)
	return oldIno, inodeOf(wf.path), nil
}

func inodeOf(path string) uint64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
