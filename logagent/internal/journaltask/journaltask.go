// Package journaltask runs one journald collect entry: it follows the
// journal through journalctl, sends every entry to Kafka through the same
// sink as files, and saves the cursor of the last entry of the contiguous
// run Kafka acknowledged (contiguous.Tracker, as for file offsets). A crash thus
// re-reads at most the unacknowledged entries and never skips one.
package journaltask

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/journald"
	"github.com/logcollect/logcollect/logagent/internal/metrics"
	"github.com/logcollect/logcollect/logagent/internal/pathglob"
	"github.com/logcollect/logcollect/logagent/internal/producer"
	"github.com/logcollect/logcollect/pkg/backoff"
	"github.com/logcollect/logcollect/pkg/contiguous"
	"github.com/logcollect/logcollect/pkg/record"
)

// Sender is where records go: the Kafka sink, or a fake in tests.
type Sender interface {
	Send(ctx context.Context, m *producer.Message) error
}

var _ Sender = (*producer.Kafka)(nil)

// Options configure one task.
type Options struct {
	Entry        collect.Entry // a validated "type":"journald" entry
	HostName     string
	HostIP       string
	HostID       string   // hashed into event ids and the Kafka key; the IP is only a field
	Journalctl   string   // [agent] journalctl
	AllowedPaths []string // a directory/file must still resolve inside (symlinks)
	AllowJournal bool     // [agent] allow_journal: false keeps resolved paths out of the system journal
	StopTimeout  time.Duration
	RetryMin     time.Duration // backoff between journalctl runs after a failure; default 1s
	RetryMax     time.Duration // default 30s
	Store        *checkpoint.Store
	Sender       Sender
	Metrics      *metrics.Metrics
	Log          *slog.Logger

	journalDirs []string // test seam: the system journal's directories; nil: collect.SystemJournalDirs()
}

// entrySeq numbers the journal entries a task read, from 1: its position in
// the tracker. The checkpoint keeps the cursor of the last entry of the
// acknowledged run, which the sequence maps to.
type entrySeq int64

// Task follows one journal.
type Task struct {
	o        Options
	key      checkpoint.Key // of the cursor: collect.Entry.JournalKey
	source   string         // log.file.path of the records
	kafkaKey []byte         // one journal, one partition: ordered
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	once     sync.Once

	tracker *contiguous.Tracker[entrySeq]
	mu      sync.Mutex
	cursors map[entrySeq]string // sequence → cursor, until acknowledged
	next    entrySeq            // last sequence handed out
	done    entrySeq            // last sequence of the acknowledged run
	pos     string              // cursor of the last entry sent: where a restarted journalctl resumes
	buf     []byte
}

// Start begins following.
func Start(o Options) *Task {
	if o.RetryMin <= 0 {
		o.RetryMin = time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 30 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	source := o.Entry.JournalOptions().Source()
	t := &Task{o: o, key: o.Entry.JournalKey(), source: source, kafkaKey: []byte(o.HostID + "|" + source),
		ctx: ctx, cancel: cancel, cursors: map[entrySeq]string{}}
	t.tracker = contiguous.New(0, t.acked)
	t.wg.Add(1)
	go t.run()
	return t
}

// Close stops reading, waits up to StopTimeout for entries in flight to be
// acknowledged (so the saved cursor covers them), and returns. Safe to
// call twice.
func (t *Task) Close() {
	t.once.Do(func() {
		t.cancel()
		t.wg.Wait()
	})
}

// Live reports whether this task holds checkpoint key.
func (t *Task) Live(key checkpoint.Key) bool { return key == t.key }

// Key is the task's checkpoint key.
func (t *Task) Key() checkpoint.Key { return t.key }

// acked runs under the tracker's lock whenever the contiguous acknowledged
// run grows to sequence seq.
func (t *Task) acked(seq entrySeq) {
	t.mu.Lock()
	cursor := t.cursors[seq]
	for i := t.done + 1; i <= seq; i++ {
		delete(t.cursors, i)
	}
	t.done = seq
	t.mu.Unlock()
	t.o.Store.PutCursor(t.key, checkpoint.Cursor{Cursor: cursor, Source: t.source, Topic: t.o.Entry.Topic})
}

func (t *Task) run() {
	defer t.wg.Done()
	defer func() {
		wctx, cancel := context.WithTimeout(context.Background(), t.o.StopTimeout)
		defer cancel()
		if err := t.tracker.WaitIdle(wctx); err != nil {
			t.o.Log.Warn("stopping a journal with entries not yet acknowledged; they are resent after restart",
				"journal", t.source, "pending", t.tracker.Pending())
		}
	}()
	bo := backoff.Backoff{Min: t.o.RetryMin, Max: t.o.RetryMax}
	lastErr := ""
	positioned := false
	for t.ctx.Err() == nil {
		var err error
		if !positioned {
			if t.pos, err = t.position(); err == nil {
				positioned = true
			}
		}
		n := 0
		if err == nil {
			n, err = t.follow()
		}
		if t.ctx.Err() != nil {
			return
		}
		if n > 0 {
			bo.Reset()
			lastErr = ""
		}
		wait := bo.Next()
		// One line per distinct failure; repeats of the same one (a journal
		// that stays missing) are debug-level until something changes.
		level := slog.LevelError
		if err.Error() == lastErr {
			level = slog.LevelDebug
		}
		lastErr = err.Error()
		t.o.Log.Log(t.ctx, level, "journald input stopped; retrying (other tasks keep running)", "journal", t.source,
			"topic", t.o.Entry.Topic, "journalctl", t.o.Journalctl, "err", err, "retry_in", wait.Round(time.Millisecond))
		if backoff.Sleep(t.ctx, wait) != nil {
			return
		}
	}
}

// position is where reading starts: the saved cursor; else by the
// entry's seek. A tail start saves the journal's last cursor at once, so a
// restart before the first new entry still reads what came meanwhile.
func (t *Task) position() (string, error) {
	if c, ok := t.o.Store.GetCursor(t.key); ok {
		t.o.Log.Info("journal resumes after its checkpoint", "journal", t.source, "topic", t.o.Entry.Topic, "cursor", c.Cursor)
		return c.Cursor, nil
	}
	switch t.o.Entry.Seek {
	case journald.SeekHead:
		return "", nil
	case journald.SeekCursor:
		return t.o.Entry.Cursor, nil
	}
	if err := t.checkAllowed(); err != nil {
		return "", err
	}
	opts := t.options("")
	cursor, err := journald.TailCursor(t.ctx, opts)
	if err != nil {
		return "", err
	}
	t.o.Store.PutCursor(t.key, checkpoint.Cursor{Cursor: cursor, Source: t.source, Topic: t.o.Entry.Topic})
	return cursor, nil
}

func (t *Task) options(cursor string) journald.Options {
	o := t.o.Entry.JournalOptions()
	o.Journalctl = t.o.Journalctl
	o.Follow = true
	o.Seek, o.Cursor = journald.SeekHead, cursor // no cursor: from the head
	return o
}

// checkAllowed re-checks a journal directory or file (every match of a
// --file glob) after symlinks, before each journalctl run: the collect
// config was checked as written, but a link inside allowed_paths, made
// before or after, must not lead out of it, nor into the system journal
// when the host disallows that.
func (t *Task) checkAllowed() error {
	for _, j := range []struct {
		p    string
		file bool
	}{{t.o.Entry.Directory, false}, {t.o.Entry.File, true}} {
		p := j.p
		if p == "" {
			continue
		}
		names := []string{p}
		if j.file {
			names, _ = filepath.Glob(p) // journalctl expands --file globs; a plain path matches itself
		} else if des, err := os.ReadDir(p); err == nil {
			// journalctl --directory also reads its machine-id
			// subdirectories and files, and follows links among them.
			for _, de := range des {
				names = append(names, filepath.Join(p, de.Name()))
			}
		}
		for _, name := range names {
			real, err := filepath.EvalSymlinks(name)
			if err != nil {
				continue // journald.Open reports a missing journal
			}
			if !pathglob.MatchAny(t.o.AllowedPaths, real) {
				return fmt.Errorf("journal %s resolves to %s, outside allowed_paths %v", name, real, t.o.AllowedPaths)
			}
			if _, in := collect.InSystemJournal(real, t.o.journalDirs); in && !t.o.AllowJournal {
				return fmt.Errorf("journal %s resolves to %s, in the system journal, and reading the system journal is disabled on this host ([agent] allow_journal = false)", name, real)
			}
		}
	}
	return nil
}

// follow runs journalctl after t.pos and sends entries until it exits or
// the task stops; it returns how many entries it sent.
func (t *Task) follow() (int, error) {
	if err := t.checkAllowed(); err != nil {
		return 0, err
	}
	r, err := journald.Open(t.ctx, t.options(t.pos))
	if err != nil {
		return 0, err
	}
	defer r.Close()
	t.o.Log.Info("following journal", "journal", t.source, "topic", t.o.Entry.Topic, "after_cursor", t.pos)
	n := 0
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			err = errors.New("journalctl exited")
		}
		if err != nil {
			return n, err
		}
		if err := t.send(e); err != nil {
			return n, err
		}
		t.pos = e.Cursor
		n++
	}
}

// send tracks the entry, then sends it, so its ack can never be missed.
func (t *Task) send(e journald.Entry) error {
	r := record.Record{HostName: t.o.HostName, HostIP: t.o.HostIP}
	e.Fill(&r, t.source, t.o.HostID)
	if r.Timestamp.IsZero() {
		r.Timestamp = time.Now()
	}
	r.Fields = t.o.Entry.Fields
	t.buf = r.AppendJSON(t.buf[:0])
	value := append([]byte(nil), t.buf...) // the producer keeps it until acked

	t.mu.Lock()
	t.next++
	n := t.next
	t.cursors[n] = e.Cursor
	t.mu.Unlock()
	tr := t.tracker
	seq, err := tr.Add(n)
	if err == nil {
		msg := &producer.Message{Topic: t.o.Entry.Topic, Key: t.kafkaKey, Value: value, Path: t.source, EventID: r.EventID,
			Acker: tr, Seq: seq}
		if err = t.o.Sender.Send(t.ctx, msg); err != nil {
			tr.Cancel(seq)
		}
	}
	if err != nil {
		t.mu.Lock()
		delete(t.cursors, n)
		t.next--
		t.mu.Unlock()
		return err
	}
	t.o.Metrics.LinesRead.Inc()
	return nil
}
