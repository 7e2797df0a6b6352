package sink

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// DeadLetter appends permanently rejected records to an NDJSON file with
// the reason, so they are never silently lost and never block a file.
type DeadLetter struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// OpenDeadLetter opens (creating) the file lazily on first write.
func OpenDeadLetter(path string) (*DeadLetter, error) {
	if path == "" {
		return nil, fmt.Errorf("dead-letter path is empty")
	}
	return &DeadLetter{path: path}, nil
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
// dead-letter copy must be durable first.
func (d *DeadLetter) Write(m *Message, reason error) error {
	l := deadLetterLine{Time: time.Now().UTC().Format(time.RFC3339Nano), Reason: reason.Error(), Topic: m.Topic, Path: m.Path, Offset: m.Offset, EventID: m.EventID}
	if json.Valid(m.Value) {
		l.Record = m.Value
	} else {
		l.Raw = string(m.Value)
	}
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("encode dead-letter record: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		f, err := os.OpenFile(d.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("open dead-letter file: %w", err)
		}
		d.f = f
	}
	if _, err := d.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write dead-letter file: %w", err)
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("fsync dead-letter file: %w", err)
	}
	return nil
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
