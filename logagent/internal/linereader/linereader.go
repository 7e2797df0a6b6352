// Package linereader splits an open file into lines with their exact byte
// offsets, in bounded memory. It does not interpret the lines (see decode),
// follow renames or truncations (the harvester tells it where to read
// from), or wait for growth.
package linereader

import (
	"bytes"
	"errors"
	"hash/maphash"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"
)

// Reader splits a file into lines with exact byte offsets and bounded
// memory: a line longer than max keeps its first max bytes (flagged
// truncated) and the rest is skipped, however long it is. nxadm/tail's
// reader uses bufio.ReadString, which holds a whole line in memory (a
// 100 MB line without a newline is 100 MB+) and reports one offset for the
// pieces it splits, so the agent reads the bytes itself.
type Reader struct {
	f    *os.File
	fd   int // f's descriptor, once read (-1: not yet)
	buf  []byte
	r, w int
	pos  int64 // file offset of buf[r]
	max  int
	// size is the file size last seen by the caller (-1: unknown). Once
	// everything up to it is consumed, Next reports EOF without the read
	// that would only return 0: growth after that stat is reported by the
	// watcher, whose next round sees it.
	size int64
	// behind is how many bytes before pos a read into an empty buffer
	// fetches too (see KeepBehind); buf[:r] then holds them.
	behind int
	// mark is the hash of the behind bytes before markEnd (see Mark); the
	// next read from markEnd checks that the file still holds them.
	mark    uint64
	markEnd int64 // -1: no mark

	line      []byte // the line being assembled, at most max bytes
	lineStart int64
	inLine    bool
	truncated bool
}

// Read buffer sizes: a read starts with a small buffer from readBufs; a
// read that fills it doubles it up to maxReadBuf for a file that is read in
// bulk. Release gives it back once the bytes read are consumed, so 1,000
// slowly written files do not hold a buffer each.
const (
	minReadBuf = 4 << 10
	maxReadBuf = 64 << 10
)

var readBufs = sync.Pool{New: func() any { return new([minReadBuf]byte) }}

// New reads f, positioned at offset, keeping at most max bytes of a line.
func New(f *os.File, offset int64, max int) *Reader {
	return &Reader{f: f, fd: -1, pos: offset, max: max, size: -1, markEnd: -1}
}

// ErrChanged is Next's report that the bytes before the reading position
// are no longer those read there (see Mark): the file was truncated and
// refilled, or overwritten, since. The caller starts it again.
var ErrChanged = errors.New("the bytes before the read position changed (file truncated and refilled, or overwritten)")

// markSeed seeds the marks' hashes; they never leave the process.
var markSeed = maphash.MakeSeed()

// Mark remembers the bytes before the position the next read starts from
// (the end of what was read), as the hash of the KeepBehind bytes there;
// that read fetches them again, and Next returns ErrChanged if they
// differ. It costs no system call (the buffer holds them), and is how a
// file truncated and refilled beyond the position between two reads is
// caught even when its first bytes are unchanged (a header every
// generation repeats). Without a buffer (nothing read since it was
// released) an earlier mark of the same position stays.
func (lr *Reader) Mark() {
	end := lr.pos + int64(lr.w-lr.r) // where the next read starts
	n := int(min(int64(lr.behind), end))
	if lr.buf == nil || n > lr.w {
		// Nothing read since the buffer was released (or the last read
		// found the file shorter than the position): no bytes to hash.
		if lr.markEnd != end {
			lr.markEnd = -1
		}
		return
	}
	lr.mark, lr.markEnd = maphash.Bytes(markSeed, lr.buf[lr.w-n:lr.w]), end
}

// Marked reports whether a mark is set: the next read from the end of what
// was read compares the bytes before it (nothing was read yet otherwise).
func (lr *Reader) Marked() bool { return lr.markEnd >= 0 }

// KeepBehind makes every read into an empty buffer also fetch up to n bytes
// before the reading position, in the same read, so that Behind can hand
// out the bytes before a line just returned without reading them again
// (the harvester hashes the KiB before each batch's end).
func (lr *Reader) KeepBehind(n int) { lr.behind = min(n, minReadBuf/4) }

// Behind returns the n bytes of the file before offset end if the read
// buffer still holds them, else nil. They are valid until the next call of
// Next.
func (lr *Reader) Behind(end int64, n int) []byte {
	if lr.buf == nil {
		return nil
	}
	bufStart := lr.pos - int64(lr.r) // the file offset of buf[0]
	from, to := end-int64(n)-bufStart, end-bufStart
	if from < 0 || to > int64(lr.w) || from > to {
		return nil
	}
	return lr.buf[from:to]
}

// SetSize tells the reader the file size the caller last saw (see size).
func (lr *Reader) SetSize(size int64) { lr.size = size }

// Release gives the read buffer back if every byte read was consumed, and
// drops a line buffer a long line grew. A pending partial line keeps its
// bytes.
func (lr *Reader) Release() {
	if lr.buf != nil && lr.r == lr.w {
		putReadBuf(lr.buf)
		lr.buf, lr.r, lr.w = nil, 0, 0
	}
	if !lr.inLine && cap(lr.line) > minReadBuf {
		lr.line = nil
	}
}

func putReadBuf(b []byte) {
	if len(b) == minReadBuf {
		readBufs.Put((*[minReadBuf]byte)(b))
	}
}

// Reset positions the reader at offset (after a truncation) and drops the
// partial line.
func (lr *Reader) Reset(offset int64) error {
	if _, err := lr.f.Seek(offset, io.SeekStart); err != nil {
		return err
	}
	lr.r, lr.w, lr.pos, lr.markEnd = 0, 0, offset, -1
	lr.line, lr.inLine, lr.truncated = lr.line[:0], false, false
	return nil
}

// Pos is the offset just after the last byte consumed.
func (lr *Reader) Pos() int64 { return lr.pos }

// Pending reports whether an incomplete line is held.
func (lr *Reader) Pending() bool { return lr.inLine }

// Next returns the next complete line without its "\n" (and "\r"), its start
// and end offsets. At EOF it returns io.EOF, keeping a partial line for the
// Next call. The returned slice is valid until the next call.
func (lr *Reader) Next() (line []byte, start, end int64, truncated bool, err error) {
	for {
		if lr.r == lr.w {
			if lr.size >= 0 && lr.pos >= lr.size {
				return nil, 0, 0, false, io.EOF
			}
			switch {
			case lr.buf == nil:
				lr.buf, lr.r, lr.w = readBufs.Get().(*[minReadBuf]byte)[:], 0, 0
			case lr.w == len(lr.buf) && len(lr.buf) < maxReadBuf:
				// The last read filled the buffer: more is waiting.
				putReadBuf(lr.buf)
				lr.buf = make([]byte, 2*len(lr.buf))
			}
			// Positioned reads: the buffer may start before pos (behind).
			back := int(min(int64(lr.behind), lr.pos))
			n, rerr := lr.pread(lr.buf, lr.pos-int64(back))
			if n >= back && lr.markEnd == lr.pos && maphash.Bytes(markSeed, lr.buf[:back]) != lr.mark {
				lr.r, lr.w, lr.markEnd = 0, 0, -1
				return nil, 0, 0, false, ErrChanged
			}
			if n <= back {
				// Nothing past pos (or the file shrank below it since the
				// caller's stat: its next stat sees that). The bytes
				// before pos stay, for Mark and Behind.
				lr.r, lr.w = 0, 0
				if n == back {
					lr.r, lr.w = back, back
				}
				if rerr == nil || errors.Is(rerr, io.EOF) {
					return nil, 0, 0, false, io.EOF
				}
				return nil, 0, 0, false, rerr
			}
			lr.r, lr.w = back, n
		}
		chunk := lr.buf[lr.r:lr.w]
		if !lr.inLine {
			lr.inLine, lr.lineStart, lr.line, lr.truncated = true, lr.pos, lr.line[:0], false
		}
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			lr.appendBounded(chunk)
			lr.pos += int64(len(chunk))
			lr.r = lr.w
			continue
		}
		lr.appendBounded(chunk[:i])
		lr.pos += int64(i + 1)
		lr.r += i + 1
		lr.inLine = false
		line = lr.line
		if n := len(line); n > 0 && line[n-1] == '\r' && !lr.truncated {
			line = line[:n-1]
		}
		return line, lr.lineStart, lr.pos, lr.truncated, nil
	}
}

// pread is one pread(2): os.File.ReadAt would read again until the buffer
// is full, a second system call that finds only the end of the file.
func (lr *Reader) pread(b []byte, off int64) (int, error) {
	if lr.fd < 0 {
		lr.fd = int(lr.f.Fd())
	}
	for {
		n, err := syscall.Pread(lr.fd, b, off)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: lr.f.Name(), Err: err}
		}
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

// Flush returns the partial line held (after a flush timeout).
func (lr *Reader) Flush() (line []byte, start, end int64, truncated bool) {
	lr.inLine = false
	return lr.line, lr.lineStart, lr.pos, lr.truncated
}

func (lr *Reader) appendBounded(b []byte) {
	room := lr.max - len(lr.line)
	if len(b) > room {
		b = b[:room]
		lr.truncated = true
	}
	lr.line = append(lr.line, b...)
}
