package linereader

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type line struct {
	text       string
	start, end int64
	truncated  bool
}

func readAll(t *testing.T, lr *Reader) []line {
	t.Helper()
	var out []line
	for {
		l, start, end, trunc, err := lr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, line{string(l), start, end, trunc})
	}
}

func open(t *testing.T, content string) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.log")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestNext(t *testing.T) {
	long := strings.Repeat("x", 3*maxReadBuf)
	cases := []struct {
		name    string
		content string
		max     int
		want    []line
		pending bool
	}{
		{"lines with offsets", "a\nbc\n\nd", 100, []line{{"a", 0, 2, false}, {"bc", 2, 5, false}, {"", 5, 6, false}}, true},
		{"crlf", "a\r\nb\r\n", 100, []line{{"a", 0, 3, false}, {"b", 3, 6, false}}, false},
		{"cut at max, rest skipped", "abcdef\ngh\n", 3, []line{{"abc", 0, 7, true}, {"gh", 7, 10, false}}, false},
		{"a cut line keeps its carriage return", "ab\rcd\n", 3, []line{{"ab\r", 0, 6, true}}, false},
		{"line longer than the read buffer", long + "\nz\n", 10, []line{{long[:10], 0, int64(len(long) + 1), true}, {"z", int64(len(long) + 1), int64(len(long) + 3), false}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lr := New(open(t, c.content), 0, c.max)
			got := readAll(t, lr)
			if len(got) != len(c.want) {
				t.Fatalf("lines %+v, want %+v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("line %d = %+v, want %+v", i, got[i], c.want[i])
				}
			}
			if lr.Pending() != c.pending || lr.Pos() != int64(len(c.content)) {
				t.Errorf("pending %v at %d, want %v at %d", lr.Pending(), lr.Pos(), c.pending, len(c.content))
			}
		})
	}
}

// TestFlushAndReset: a partial line is handed out by Flush; Reset reads
// again from an offset; a known size stops the reader without a read.
func TestFlushAndReset(t *testing.T) {
	f := open(t, "one\ntwo")
	lr := New(f, 0, 100)
	readAll(t, lr)
	l, start, end, trunc := lr.Flush()
	if string(l) != "two" || start != 4 || end != 7 || trunc || lr.Pending() {
		t.Fatalf("flush = %q %d-%d %v", l, start, end, trunc)
	}
	if err := lr.Reset(4); err != nil {
		t.Fatal(err)
	}
	lr.SetSize(4)
	if got := readAll(t, lr); len(got) != 0 || lr.Pos() != 4 {
		t.Fatalf("read past the known size: %+v", got)
	}
	lr.SetSize(-1)
	if err := lr.Reset(0); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, lr); len(got) != 1 || got[0] != (line{"one", 0, 4, false}) {
		t.Fatalf("after reset: %+v", got)
	}
	lr.Release()
}

func TestStartsAtOffset(t *testing.T) {
	lr := New(open(t, "skip\nkeep\n"), 0, 100)
	if _, err := lr.f.Seek(5, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	lr = New(lr.f, 5, 100)
	if got := readAll(t, lr); len(got) != 1 || got[0] != (line{"keep", 5, 10, false}) {
		t.Fatalf("got %+v", got)
	}
}

// KeepBehind: a read into an empty buffer also fetches the bytes before the
// position, so Behind hands out the bytes before a line just returned,
// exactly as the file holds them; what the buffer does not hold is nil.
func TestBehind(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	var content strings.Builder
	for i := range 200 {
		content.WriteString(strings.Repeat(string(rune('a'+i%26)), i%50) + "\n")
	}
	if err := os.WriteFile(p, []byte(content.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	data := []byte(content.String())
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Start mid-file, so the first read has bytes behind it too.
	start := int64(strings.Index(content.String(), "\n"+strings.Repeat("z", 25)) + 1)
	lr := New(f, start, 1<<20)
	lr.KeepBehind(1024)
	held := 0
	for {
		l, s, end, _, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if string(data[s:end-1]) != string(l) {
			t.Fatalf("line at %d: %q", s, l)
		}
		n := int(min(end, 1024))
		b := lr.Behind(end, n)
		if b == nil {
			continue
		}
		held++
		if string(b) != string(data[end-int64(n):end]) {
			t.Fatalf("Behind(%d, %d) = %q, want the file's bytes", end, n, b)
		}
	}
	if held == 0 {
		t.Fatal("Behind never held the bytes")
	}
	if lr.Pos() != int64(len(data)) {
		t.Fatalf("pos %d, want %d", lr.Pos(), len(data))
	}
	if b := lr.Behind(lr.Pos()+1, 1); b != nil {
		t.Fatalf("Behind past what was read = %q", b)
	}
	lr.Release()
	if b := lr.Behind(lr.Pos(), 1); b != nil {
		t.Fatalf("Behind after Release = %q", b)
	}
}

// Mark: the read after it checks that the bytes before its position are
// the ones read there, whatever happened to the file in between.
func TestMark(t *testing.T) {
	first := strings.Repeat("header line\n", 100) + "a1\na2\n" // the KiB before the end is header and a lines
	cases := []struct {
		name   string
		after  string // the file's whole content after the mark
		wantCh bool
		want   []string
	}{
		{"appended", first + "a3\n", false, []string{"a3"}},
		{"nothing new", first, false, nil},
		{"refilled past the position, same header", strings.Repeat("header line\n", 100) + "b1\nb2\nb3\nb4\n", true, nil},
		{"one byte before the position changed", first[:len(first)-2] + "X\na3\n", true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, lr := readAndMark(t, first)
			rewrite(t, f, c.after)
			var got []string
			for {
				l, _, _, _, err := lr.Next()
				if errors.Is(err, ErrChanged) {
					if !c.wantCh {
						t.Fatal("ErrChanged for a file that only grew")
					}
					return
				}
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, string(l))
			}
			if c.wantCh {
				t.Fatalf("changed bytes before the position not reported; read %q", got)
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Fatalf("read %q, want %q", got, c.want)
			}
		})
	}
}

// A read that finds nothing new keeps the mark for the next; Reset (the
// caller restarts the file) drops it; a mark taken with bytes still
// buffered refers to the end of the buffer, where the next read starts.
func TestMarkKeptAndDropped(t *testing.T) {
	content := strings.Repeat("l\n", 600)
	next := func(lr *Reader) error { _, _, _, _, err := lr.Next(); return err }

	t.Run("kept across an empty read", func(t *testing.T) {
		f, lr := readAndMark(t, content)
		if err := next(lr); !errors.Is(err, io.EOF) { // nothing new
			t.Fatalf("got %v, want EOF", err)
		}
		lr.Mark()
		lr.Release()
		rewrite(t, f, strings.Repeat("m\n", 700))
		if err := next(lr); !errors.Is(err, ErrChanged) {
			t.Fatalf("got %v, want ErrChanged", err)
		}
	})
	t.Run("dropped by Reset", func(t *testing.T) {
		f, lr := readAndMark(t, content)
		rewrite(t, f, strings.Repeat("m\n", 700))
		if err := lr.Reset(0); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, lr); len(got) != 700 || got[0].text != "m" {
			t.Fatalf("after Reset read %d lines, first %+v", len(got), got[0])
		}
	})
	t.Run("taken with bytes buffered", func(t *testing.T) {
		f := open(t, content)
		lr := New(f, 0, 100)
		lr.KeepBehind(1024)
		if err := next(lr); err != nil { // one line consumed, the rest buffered
			t.Fatal(err)
		}
		lr.Mark()
		lr.Release()
		rewrite(t, f, content+"tail\n")
		got := readAll(t, lr)
		if len(got) != 600 || got[len(got)-1].text != "tail" {
			t.Fatalf("read %d lines, last %+v", len(got), got[len(got)-1])
		}
	})
}

// Marked says whether a read from the position will check the bytes
// before it: not for a reader that starts at an offset and read nothing
// (the harvester then checks the file's first bytes itself), nor after
// Reset.
func TestMarked(t *testing.T) {
	content := strings.Repeat("l\n", 600)
	started := New(open(t, content), 600, 100)
	started.KeepBehind(1024)
	started.Mark() // nothing read: no bytes to hash
	if started.Marked() {
		t.Error("a reader started at 600 that read nothing is marked")
	}
	_, lr := readAndMark(t, content)
	if !lr.Marked() {
		t.Error("a reader that read to the end and marked is not marked")
	}
	if err := lr.Reset(0); err != nil {
		t.Fatal(err)
	}
	if lr.Marked() {
		t.Error("marked after Reset")
	}
}

// readAndMark reads content to its end, with the KiB behind, and marks.
func readAndMark(t *testing.T, content string) (*os.File, *Reader) {
	t.Helper()
	f := open(t, content)
	lr := New(f, 0, 1000)
	lr.KeepBehind(1024)
	readAll(t, lr)
	lr.Mark()
	lr.Release()
	return f, lr
}

// rewrite replaces f's content (O_TRUNC and one write).
func rewrite(t *testing.T, f *os.File, content string) {
	t.Helper()
	if err := os.WriteFile(f.Name(), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
