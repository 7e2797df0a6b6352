package producer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

// DeadLetter appends permanently rejected records to an NDJSON file with
// the reason, so they are never silently lost and never block a file. The
// file is capped: once a record would take it past maxBytes it is rotated
// (path → path.1 → … → path.<backups>) and the oldest rotated file, whose
// records the caller counts as dropped, is removed. A full disk costs at most
// (backups+1) × maxBytes plus one record.
type DeadLetter struct {
	path     string
	maxBytes int64
	backups  int

	mu        sync.Mutex
	f         *os.File
	size      int64 // of f, up to the last whole line written
	rotatable bool  // f is a regular file (never rename /dev/... or a FIFO)
}

// OpenDeadLetter checks the settings; the file is opened (created) lazily on
// first write.
func OpenDeadLetter(path string, maxBytes int64, backups int) (*DeadLetter, error) {
	if path == "" {
		return nil, errors.New("dead-letter path is empty")
	}
	if maxBytes <= 0 {
		return nil, fmt.Errorf("dead-letter max bytes %d: want a positive size", maxBytes)
	}
	if backups < 0 {
		return nil, fmt.Errorf("dead-letter backups %d: want 0 or more", backups)
	}
	return &DeadLetter{path: path, maxBytes: maxBytes, backups: backups}, nil
}

// Path is the file's path.
func (d *DeadLetter) Path() string { return d.path }

type deadLetterLine struct {
	Time    string          `json:"time"`
	Reason  string          `json:"reason"`
	Topic   string          `json:"topic"`
	Path    string          `json:"path"`
	Offset  int64           `json:"offset"`
	EventID string          `json:"event_id"`
	Record  json.RawMessage `json:"record,omitempty"`
	Raw     string          `json:"raw,omitempty"`
}

// Write appends m and fsyncs: the caller acks the line right after, so the
// dead-letter copy must be durable first. rotated is how many older records
// a rotation removed (whether or not m was then written). On an error
// nothing of m stays in the file, so it holds whole lines only.
func (d *DeadLetter) Write(m *Message, reason error) (rotated int, err error) {
	l := deadLetterLine{Time: time.Now().UTC().Format(time.RFC3339Nano), Reason: reason.Error(), Topic: m.Topic, Path: m.Path, Offset: m.Offset, EventID: m.EventID}
	if json.Valid(m.Value) {
		l.Record = m.Value
	} else {
		l.Raw = string(m.Value)
	}
	b, err := json.Marshal(l)
	if err != nil {
		return 0, fmt.Errorf("encode dead-letter record: %w", err)
	}
	b = append(b, '\n')
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.open(); err != nil {
		return 0, err
	}
	if d.rotatable && d.size > 0 && d.size+int64(len(b)) > d.maxBytes {
		if rotated, err = d.rotate(); err != nil {
			return rotated, err
		}
		if err := d.open(); err != nil {
			return rotated, err
		}
	}
	if _, err := d.f.Write(b); err != nil {
		d.undo()
		return rotated, fmt.Errorf("write dead-letter file %s: %w", d.path, err)
	}
	if err := d.f.Sync(); err != nil {
		d.undo()
		return rotated, fmt.Errorf("fsync dead-letter file %s: %w", d.path, err)
	}
	d.size += int64(len(b))
	return rotated, nil
}

// open opens the file for appending unless it is open.
func (d *DeadLetter) open() error {
	if d.f != nil {
		return nil
	}
	f, err := os.OpenFile(d.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("open dead-letter file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("stat dead-letter file: %w", err)
	}
	d.f, d.size, d.rotatable = f, st.Size(), st.Mode().IsRegular()
	return nil
}

// undo cuts a partly written line (ENOSPC mid-line) and closes the file, so
// the next write opens it afresh (the disk may have been freed meanwhile).
func (d *DeadLetter) undo() {
	if d.rotatable {
		_ = d.f.Truncate(d.size)
	}
	_ = d.f.Close()
	d.f = nil
}

// rotate shifts the files by one and removes the oldest; it returns how many
// records the removed file held. d.mu is held.
func (d *DeadLetter) rotate() (int, error) {
	_ = d.f.Close()
	d.f = nil
	name := func(i int) string {
		if i == 0 {
			return d.path
		}
		return d.path + "." + strconv.Itoa(i)
	}
	oldest := name(d.backups)
	removed, err := countLines(oldest)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("rotate dead-letter file: %w", err)
	}
	if err := os.Remove(oldest); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("rotate dead-letter file: %w", err)
	}
	for i := d.backups; i > 0; i-- {
		if err := os.Rename(name(i-1), name(i)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, fmt.Errorf("rotate dead-letter file: %w", err)
		}
	}
	return removed, nil
}

// countLines counts the records of a dead-letter file.
func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	n := 0
	for {
		r, err := f.Read(buf)
		n += bytes.Count(buf[:r], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Close closes the file.
func (d *DeadLetter) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	err := d.f.Close()
	d.f = nil
	return err
}
