// Package harvester reads the files of one collect entry and hands each
// event to the sink. The agent owns rotation rather than nxadm/tail (see
// the package's doc in task.go): a file is followed by identity (device,
// inode and a fingerprint of its first bytes) through an open descriptor,
// so a rename never skips the old file's last lines and a new file at the
// path gets its own harvester from offset 0.
//
// It holds the file task (glob scans, discovery, identity, restart
// recovery, one claim per file and topic) and the per-file harvester with
// its scheduler. It does not split lines (internal/linereader), decode
// formats (internal/decode), talk to inotify (internal/dirwatch), or store
// positions (internal/checkpoint).
package harvester

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/decode"
	"github.com/logcollect/logcollect/logagent/internal/linereader"
	"github.com/logcollect/logcollect/logagent/internal/metrics"
	"github.com/logcollect/logcollect/logagent/internal/podpath"
	"github.com/logcollect/logcollect/logagent/internal/processor"
	"github.com/logcollect/logcollect/logagent/internal/producer"
	"github.com/logcollect/logcollect/pkg/contiguous"
	"github.com/logcollect/logcollect/pkg/record"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

// Sender is where events go: the Kafka sink, or a fake in tests.
// SendBatch queues ms in order and returns how many it queued; it owns the
// slice from then on.
type Sender interface {
	SendBatch(ctx context.Context, ms []*producer.Message) (int, error)
}

var _ Sender = (*producer.Kafka)(nil)

// Options are shared by the harvesters of one task.
type Options struct {
	Entry        collect.Entry
	HostName     string
	HostIP       string
	HostID       string // hashed into event ids (record.EventID); the IP is only a field
	AllowedPaths []string
	AllowJournal bool // [agent] allow_journal: false skips files that resolve into the system journal
	// StateDir is the agent's data_dir, symlinks resolved: files in it
	// (checkpoints, dead letters, the cached config) are never collected,
	// however wide a glob: read back, the agent would ship its own state,
	// and dead letters Kafka refused would be refused and written again.
	StateDir      string
	ScanInterval  time.Duration
	PollInterval  time.Duration // how often timers (partial line, multiline, inactivity) are checked; growth wakes the harvester at once
	Scheduler     *Scheduler    // runs the harvesters; nil: the task starts its own
	CloseInactive time.Duration
	PartialFlush  time.Duration
	StopTimeout   time.Duration // how long a stopping task waits for in-flight lines
	Store         *checkpoint.Store
	Sender        Sender
	Metrics       *metrics.Metrics
	Log           *slog.Logger
	Owners        *Owners // shared by the agent's tasks: one harvester per file and topic (see owners.go); nil: no other task
	Order         int     // the entry's position in the collect config: the first entry matching a file owns it
	// FileError, when set, hears of every file that cannot be opened or
	// read (the agent's health for rollout gates counts them).
	FileError func(path string, err error)
	Pods      Pods // the pod metadata cache ([kubernetes] enabled); nil: what container log paths say

	rescan  func()                 // asks the task for a scan at once (see checkMoved)
	report  func()                 // publishes the entry's processor counts (see Task.reportChain)
	dropped func(ev *decode.Event) // Sample's view of a line the processors dropped; nil in the agent

	// Test seams, zero in production.
	copyMaxWait time.Duration     // how long a possible copy is left alone (see copyOf); 0: defaultCopyMaxWait
	journalDirs []string          // the system journal's directories; nil: collect.SystemJournalDirs()
	values      *valuePool        // where batches' value buffers come from; nil: the process's (values)
	beforeOpen  func(path string) // runs in a scan between the stat of a path and its open: the window in which a writer of a watched directory can swap what the path names
}

// FingerprintSize is how many leading bytes identify a file's content.
const FingerprintSize = 1024

// lineEnd is a file's position in the tracker: the byte offset just past a
// line, where reading resumes once every line before it is acknowledged.
type lineEnd int64

// harvester follows one file through an open descriptor.
type harvester struct {
	o    *Options
	key  checkpoint.Key
	dev  uint64
	ino  uint64
	path atomic.Pointer[string]
	f    *os.File
	fd   int // f's descriptor

	id       string // current generation's id (changes when the file is truncated)
	kafkaKey []byte // id as the records' Kafka key
	eventIDs *record.EventIDs
	tracker  *contiguous.Tracker[lineEnd]
	lr       *linereader.Reader
	dec      *decode.Decoder
	k8s      *record.Kubernetes
	fp       fileprint          // the stored fingerprint: the bytes it covers, their hash (see startChanged)
	buf      []byte             // values of the records in out, encoded one after another
	ids      []byte             // event ids, appended only (see eventID)
	source   record.SourceJSON  // the records' host and log.file JSON, encoded once
	out      []producer.Message // records read and not yet handed to the sink
	drops    []uint64           // tracker seqs of the lines in out's batch the processors dropped (see send)
	line     processor.Line     // the processors' view of the line being emitted, reused
	lastEnd  int64              // end offset of the last record queued in out
	tails    shippedTails       // of batches sent and not yet acknowledged (see noteTail)
	// counted are the generation's lines read up to lastEnd: records
	// queued and lines dropped, from where its counting started. Noted
	// with each batch's tail, they reach the checkpoint with the offset
	// that passes the batch: counting by the contiguous run's advance, a
	// line re-sent after a crash (read again past the checkpoint) is
	// counted once, and a restart goes on from the saved counts.
	counted checkpoint.Counts

	// With Options.Pods (podmeta.go): the pod the path names, and while
	// podWaitUntil is set the first read waits for its metadata.
	podRef       podpath.Ref
	podWaitUntil time.Time

	ctx      context.Context // the task's
	finished func()          // the task's bookkeeping once finish is done

	// Between steps (see step).
	w            *changeWatcher
	lastData     time.Time // when data was last read
	lastWake     time.Time
	partialSince time.Time // when a held partial line stopped growing
	hotUntil     time.Time // while after now, look again every hotPoll
	lastSize     int64
	quiet        bool // the last read found nothing new (see checkMoved)
	lag          prometheus.Gauge
	lagPath      *string

	gone atomic.Bool // finished: no longer in its task's running set (see Task.runs)

	// Owned by the Scheduler, under its lock.
	slot    int  // index in its members; -1 once removed
	running bool // a worker is running its step
	lost    bool // the watcher reported the descriptor gone
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newGeneration starts tracking acks for id from offset.
func (h *harvester) newGeneration(id string, offset int64) {
	key := h.key
	store := h.o.Store
	h.id = id
	h.kafkaKey = []byte(id) // shared by the generation's records: the producer only reads it
	h.eventIDs = record.NewEventIDs(h.o.HostID, id)
	h.tails.reset()
	h.counted, _ = store.StartCount(key, id, offset)
	tails := &h.tails
	// The checkpoint moves only to offsets whose preceding bytes it can
	// prove (the end of a batch, see noteTail), so a copy of the file
	// (copytruncate) found after a crash can always show it holds what
	// the checkpoint skips, and continue under the file's id instead of
	// being sent again under a new one. An ack ending elsewhere waits for
	// the next batch end (at worst lines re-sent after a crash, same ids).
	h.tracker = contiguous.New(lineEnd(offset), func(end lineEnd) {
		off := int64(end)
		if t, ok := tails.take(off); ok {
			store.SetOffsetTail(key, id, off, t.sum, &t.counts)
		}
	})
}

// begin readies a harvester for its first step. It starts out active: a
// file found by a scan has usually just been written.
func (h *harvester) begin() {
	h.o.Metrics.FilesOpen.Inc()
	now := time.Now()
	h.lastData, h.lastWake, h.lastSize = now, now, -1
}

// finish waits (up to StopTimeout) for the harvester's in-flight lines to be
// acknowledged and releases the descriptor. It runs on its own goroutine:
// with Kafka down, a stopping task's harvesters wait side by side.
func (h *harvester) finish() {
	defer h.finished()
	m := h.o.Metrics
	if h.w != nil {
		h.w.stop()
	}
	wctx, cancel := context.WithTimeout(context.Background(), h.o.StopTimeout)
	if err := h.tracker.WaitIdle(wctx); err != nil {
		h.o.Log.Warn("stopping a file with lines not yet acknowledged; they are resent after restart", "path", *h.path.Load(), "pending", h.tracker.Pending())
	}
	cancel()
	h.f.Close()
	m.FilesOpen.Dec()
	m.CheckpointLag.DeleteLabelValues(*h.path.Load())
}

// stepBytes bounds what one step reads, so a file that grows faster than
// it can be sent takes turns with the others instead of holding a worker.
const stepBytes = 1 << 20

// step reads what is new, sends it, and returns how long until it wants to
// look again by itself (the watcher's news may run it sooner; 0: at once),
// or done when the harvester ends: its task stopped, the file was inactive
// for CloseInactive, or reading it failed (the next scan reopens it). lost
// is the watcher's report that the descriptor is gone.
//
// A harvester holds its read and encode buffers only during a step: 1,000
// idle files then hold none (they were 12 MB of a 64 MB agent, and live
// heap the garbage collector walked on every cycle).
func (h *harvester) step(lost bool) (wait time.Duration, done bool) {
	sc := scratches.Get().(*scratch)
	h.buf, h.out, h.drops = sc.buf[:0], sc.out[:0], sc.drops[:0]
	wait, done = h.stepOnce(lost)
	if len(h.out) > 0 || len(h.drops) > 0 { // not expected: every path flushes; never strand a tracked line
		_ = h.flush(h.ctx)
	}
	if cap(h.buf) <= maxScratch {
		sc.buf, sc.out, sc.drops = h.buf[:0], h.out[:0], h.drops[:0]
		scratches.Put(sc)
	}
	h.buf, h.out, h.drops, h.ids = nil, nil, nil, nil
	h.forgetLine()
	h.lr.Mark()
	h.lr.Release()
	if h.o.report != nil {
		h.o.report()
	}
	return wait, done
}

// scratch is a step's encode buffer and queue of records.
type scratch struct {
	buf   []byte
	out   []producer.Message
	drops []uint64
}

// maxScratch is the largest encode buffer kept for the next step; one that
// a huge line grew is dropped.
const maxScratch = 256 << 10

var scratches = sync.Pool{New: func() any { return new(scratch) }}

func (h *harvester) stepOnce(lost bool) (wait time.Duration, done bool) {
	ctx := h.ctx
	if ctx.Err() != nil {
		return 0, true
	}
	if lost {
		h.o.Log.Error("lost the open file; will reopen at the next scan", "path", *h.path.Load())
		return 0, true
	}
	if wait, held := h.awaitPod(); held {
		return wait, false
	}
	m := h.o.Metrics
	for {
		size, err := h.fileSize()
		if err != nil {
			h.o.Log.Error("stat open file; will reopen at the next scan", "path", *h.path.Load(), "err", err)
			h.o.fileError(*h.path.Load(), err)
			return 0, true
		}
		if size != h.lastSize {
			// A file truncated and refilled past our position between
			// two polls is caught by the read itself: it fetches the KiB
			// before the position again, and the line reader compares it
			// with what was there (linereader.Mark; ErrChanged below).
			if size < h.lr.Pos() || h.startChanged(size) {
				if !h.restart(size) {
					return 0, true
				}
				continue
			}
			if h.fp.n < FingerprintSize && size > h.fp.n {
				// Re-fingerprint a short file as it grows, so a later copy
				// of it (copytruncate) is recognised; the id stays.
				n := min(size, FingerprintSize)
				if fp, err := fingerprint(h.f, n); err == nil {
					h.o.Store.SetFingerprint(h.key, h.id, int(n), fp)
					h.fp = fileprint{n, fp}
				}
			}
			h.lastSize = size
		}
		h.lr.SetSize(size)
		n, more, err := h.readAvailable(ctx)
		if errors.Is(err, linereader.ErrChanged) {
			if !h.restart(size) {
				return 0, true
			}
			continue
		}
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				h.o.Log.Error("read file; will reopen at the next scan", "path", *h.path.Load(), "err", err)
				h.o.fileError(*h.path.Load(), err)
			}
			return 0, true
		}
		now := time.Now()
		if n > 0 {
			h.lastData = now
			h.quiet = false
		} else if !h.quiet {
			h.quiet = true
			h.checkMoved()
		}
		if more {
			return 0, false
		}
		if n > 0 && float64(n) >= hotRate*now.Sub(h.lastWake).Seconds() {
			h.hotUntil = now.Add(time.Second)
		}
		h.lastWake = now
		if p := h.path.Load(); p != h.lagPath {
			if h.lagPath != nil {
				m.CheckpointLag.DeleteLabelValues(*h.lagPath)
			}
			h.lag, h.lagPath = m.CheckpointLag.WithLabelValues(*p), p
		}
		h.lag.Set(float64(size - int64(h.tracker.Position())))

		// A partial last line is sent after PartialFlush without growth,
		// flagged; the checkpoint then covers it, so it is not resent.
		if h.lr.Pending() && n == 0 {
			if h.partialSince.IsZero() {
				h.partialSince = now
			} else if now.Sub(h.partialSince) >= h.o.PartialFlush {
				line, start, end, trunc := h.lr.Flush()
				evs := h.decode(line, start, end, trunc, now)
				for _, ev := range evs {
					ev.Flag(record.FlagPartial)
				}
				if err := h.emit(ctx, evs, now); err != nil {
					return 0, true
				}
				h.partialSince = time.Time{}
			}
		} else {
			h.partialSince = time.Time{}
		}
		if err := h.emit(ctx, h.dec.Expire(now), now); err != nil {
			return 0, true
		}
		if err := h.flush(ctx); err != nil {
			return 0, true
		}
		holding := h.lr.Pending() || h.dec.Holding()
		inFlight := h.tracker.Pending() > 0
		if n == 0 && !holding && !inFlight && now.Sub(h.lastData) >= h.o.CloseInactive {
			h.o.Log.Debug("closing inactive file", "path", *h.path.Load())
			return 0, true
		}
		// A file being written is looked at every activePoll by the
		// scheduler; one at rest is watched by nxadm/tail (see watch.go).
		active := now.Sub(h.lastData) < idleAfter()
		switch {
		case active && h.w != nil:
			h.w.stop()
			h.w = nil
		case !active && h.w == nil:
			w, err := watchDescriptor(h.f, h.lr.Pos())
			if err != nil {
				h.o.Log.Error("watch file; will reopen at the next scan", "path", *h.path.Load(), "err", err)
				return 0, true
			}
			h.w = w
		}
		var wait time.Duration
		switch {
		case now.Before(h.hotUntil):
			return hotPoll, false
		case holding:
			// A partial line or a multiline event waits for its timeout.
			wait = h.o.PollInterval
		case inFlight:
			// Look again once the acks are in, for the lag gauge and
			// close_inactive (a file being written is looked at every
			// activePoll anyway, below).
			wait = 2 * h.o.PollInterval
		default:
			wait = max(h.o.PollInterval, h.lastData.Add(h.o.CloseInactive).Sub(now))
		}
		if active {
			wait = min(wait, activePoll())
		}
		return wait, false
	}
}

// A file that grew by hotRate bytes per second or more since the last look
// is "hot" for a second: it is re-read every hotPoll instead of waiting for
// the watcher's next round. Slow files (1,000 of them at 10 lines/s) never
// are, so they cost one wake-up per poll_interval.
const hotRate = 16 << 10

// startChanged reports whether the fingerprinted first bytes changed while
// the harvester has no bytes before its position to compare (it has not
// read past them, or has read nothing yet: it began at a checkpoint or as
// a copy's continuation; see linereader.Mark): a file truncated and written
// again between its identification and its first read would otherwise be
// read under the generation whose fingerprint it no longer has, and taken
// for another file at the next restart (its lines sent again).
func (h *harvester) startChanged(size int64) bool {
	if h.fp.n == 0 || (h.lr.Pos() >= h.fp.n && h.lr.Marked()) {
		return false
	}
	if size < h.fp.n {
		return true
	}
	sum, err := fingerprint(h.f, h.fp.n)
	return err == nil && sum != h.fp.sum
}

// restart reads a truncated or overwritten file again from the start (see
// truncated); false: it could not, and the harvester stops.
func (h *harvester) restart(size int64) bool {
	if err := h.truncated(size); err != nil {
		h.o.Log.Error("restart truncated file", "path", *h.path.Load(), "err", err)
		return false
	}
	h.lastData, h.lastSize = time.Now(), -1
	return true
}

// readAvailable sends the complete lines up to EOF, or up to stepBytes
// (more: there is more to read), and returns the bytes consumed.
func (h *harvester) readAvailable(ctx context.Context) (n int64, more bool, err error) {
	startPos := h.lr.Pos()
	defer func() {
		h.o.Metrics.BytesRead.Add(float64(h.lr.Pos() - startPos))
		if ferr := h.flush(ctx); ferr != nil && err == nil {
			err = ferr
		}
	}()
	var now time.Time
	for i := 0; ; i++ {
		// The clock and ctx are read every 64 lines, not per line (5 % of
		// the agent's CPU at full speed): lines that came from the same
		// read, microseconds apart, share their read time.
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, false, err
			}
			now = time.Now()
			if h.lr.Pos()-startPos >= stepBytes {
				return h.lr.Pos() - startPos, true, nil
			}
		}
		line, start, end, trunc, err := h.lr.Next()
		if errors.Is(err, io.EOF) {
			return h.lr.Pos() - startPos, false, nil
		}
		if err != nil {
			return 0, false, fmt.Errorf("read %s: %w", *h.path.Load(), err)
		}
		if err := h.emit(ctx, h.decode(line, start, end, trunc, now), now); err != nil {
			return 0, false, err
		}
	}
}

// truncated handles size < read position (copytruncate, ": > file") and
// changed bytes before it (refilled past it, overwritten: ErrChanged). The
// bytes now at the start are new, so they get a new file id: reusing the old
// id would give them the event ids of the old lines at the same offsets and
// overwrite those documents in Elasticsearch.
func (h *harvester) truncated(size int64) error {
	old, _ := h.o.Store.Get(h.key)
	if old.ID == h.id {
		// Keep the old generation's fingerprint so a copy of it
		// (copytruncate's app.log.1) is recognised and continued.
		old.Offset = int64(h.tracker.Position())
		old.Path = ""
		h.o.Store.Put(checkpoint.RetiredKey(old.ID, h.o.Entry.Topic), old)
	}
	h.o.Log.Info("file truncated or overwritten; reading it again from the start as a new file", "path", *h.path.Load(), "size", size, "read_offset", h.lr.Pos())
	if err := h.lr.Reset(0); err != nil {
		return err
	}
	h.dec.Reset()
	id := newID()
	// The fingerprint of what the file now begins with, as identify
	// computes it (of zero bytes for an empty file): a restart must find
	// the entry matching, or the generation's lines would be sent again
	// under a new id; and a copytruncate copy of it, found after a crash
	// that came before the next save, is recognised only by a full
	// fingerprint (seed 7100: the zero-byte one was still on disk).
	head := make([]byte, min(max(size, 0), FingerprintSize))
	k, err := h.f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) { // EOF: shorter again since the stat
		return err
	}
	fp := fileprint{int64(k), fingerprintOf(head[:k])}
	h.o.Store.Put(h.key, checkpoint.Entry{ID: id, Path: *h.path.Load(), Device: h.dev, Inode: h.ino, Born: old.Born, FPLen: k, FP: fp.sum, Counts: &checkpoint.Counts{}})
	// The new id on disk before a line is sent under it (see
	// Task.persistNewIDs). If it cannot be saved, this harvester stops and
	// the scan starts the file again, under this id, once a save succeeds.
	if err := h.o.Store.Save(); err != nil {
		return fmt.Errorf("save the new id of the truncated file (it is read again once data_dir is writable): %w", err)
	}
	h.newGeneration(id, 0)
	h.fp = fp
	return nil
}

// decode hands a line to the decoder, without the UTF-8 byte order mark
// that editors and Windows tools put at the start of a file: left in the
// first line's message, it broke that line's JSON and parsers, and a
// search for its first word.
func (h *harvester) decode(line []byte, start, end int64, trunc bool, now time.Time) []*decode.Event {
	if start == 0 {
		line = bytes.TrimPrefix(line, utf8BOM)
	}
	return h.dec.Add(line, start, end, trunc, now)
}

var utf8BOM = []byte("\xef\xbb\xbf")

// emit queues events for the sink in order; each is tracked before it is
// sent so its ack can never be missed. now is when they were read: the
// @timestamp of events that carry none. The entry's processors run on each
// (see process); a line they drop is tracked too, and acknowledged with
// its batch without being sent (see send). Queued events go to the sink in
// batches of sendBatch, and at the end of every read (flush).
func (h *harvester) emit(ctx context.Context, evs []*decode.Event, now time.Time) error {
	chain := h.o.Entry.Chain
	if chain != nil && chain.Len() == 0 {
		chain = nil
	}
	for _, ev := range evs {
		ev.CheckUTF8()
		path := *h.path.Load()
		ts := ev.Time
		if ts.IsZero() {
			ts = now
		}
		r := record.Record{
			// Message only lives while r is encoded below, and ev.Msg is
			// not written meanwhile: no need for a copy.
			Timestamp: ts, Message: unsafe.String(unsafe.SliceData(ev.Msg), len(ev.Msg)), HostName: h.o.HostName, HostIP: h.o.HostIP,
			Path: path, Device: h.dev, Inode: h.ino, FileID: h.id, Offset: ev.Start, End: ev.End, Flags: ev.Flags,
			Fields: h.o.Entry.Fields, JSON: ev.JSON, Stream: ev.Stream, Kubernetes: h.k8s,
			EventID: h.eventID(ev.Start, ev.Msg),
		}
		drop := chain != nil && h.process(chain, &r, ev.JSON) == processor.Drop
		seq, err := h.tracker.Add(lineEnd(ev.End))
		if err != nil {
			return fmt.Errorf("track the line at offset %d: %w", ev.Start, err)
		}
		if drop {
			if h.o.dropped != nil {
				h.o.dropped(ev)
			}
			h.drops = append(h.drops, seq)
			h.lastEnd = ev.End
			h.counted.Dropped++
			if len(h.drops) == maxDrops {
				if err := h.send(ctx); err != nil {
					return err
				}
			}
			continue
		}
		from := len(h.buf)
		h.buf = r.AppendJSONCached(h.buf, &h.source)
		h.out = append(h.out, producer.Message{Topic: h.o.Entry.Topic, Key: h.kafkaKey, Value: h.buf[from:len(h.buf):len(h.buf)], Path: path,
			Offset: ev.Start, EventID: r.EventID, Acker: h.tracker, Seq: seq})
		h.lastEnd = ev.End
		h.counted.Events++
		if len(h.out) == sendBatch || len(h.buf) >= sendBatchBytes {
			if err := h.send(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// eventID is the id of the line at start whose text is msg (see
// record.EventIDs.AppendLineID). The ids of many records share
// one allocation (an id per line was an allocation per line): each is
// appended into ids' spare room, which is never written again, so the
// strings stay unchanged while their records are in flight. The room
// doubles from 4 ids to a batch's worth within a step, and is dropped at
// its end (an idle file holds none).
func (h *harvester) eventID(start int64, msg []byte) string {
	if cap(h.ids)-len(h.ids) < record.EventIDLen {
		n := min(max(2*cap(h.ids)/record.EventIDLen, 4), sendBatch)
		h.ids = make([]byte, 0, n*record.EventIDLen)
	}
	from := len(h.ids)
	h.ids = h.eventIDs.AppendLineID(h.ids, start, msg)
	return unsafe.String(&h.ids[from], len(h.ids)-from)
}

// process runs the entry's processors on r (read time in r.Timestamp) and
// maps what they changed back onto it. h.line is reused from line to line,
// so its parsed fields and flags cost no allocation in the steady state;
// r points into it only until r is encoded.
func (h *harvester) process(chain *processor.Chain, r *record.Record, json []byte) processor.Verdict {
	l := &h.line
	l.Message, l.Time, l.Created, l.JSON, l.Source = r.Message, r.Timestamp, time.Time{}, json, r.Path
	l.Parsed = l.Parsed[:0]
	l.Flags = append(l.Flags[:0], r.Flags...)
	if chain.Apply(l) == processor.Drop {
		return processor.Drop
	}
	r.Message, r.Timestamp, r.Created, r.Parsed, r.Flags = l.Message, l.Time, l.Created, l.Parsed, l.Flags
	return processor.Keep
}

// forgetLine drops h.line's references into the step's buffers (the last
// line's message, JSON and parsed values), so an idle harvester holds none.
func (h *harvester) forgetLine() {
	l := &h.line
	l.Message, l.JSON, l.Source = "", nil, ""
	clear(l.Parsed[:cap(l.Parsed)])
	l.Parsed = l.Parsed[:0]
}

// maxDrops bounds the dropped lines a batch collects before it is
// acknowledged (a file whose lines are all dropped has no records to fill
// a batch).
const maxDrops = 4096

// A harvester hands the sink at most sendBatch records, or about
// sendBatchBytes of encoded values, at once. The byte bound keeps what a
// harvester holds outside the sink's max_inflight_bytes small (the encode
// buffer and its copy): 64 lines of 200 KB would be 25 MB per file.
const (
	sendBatch      = 64
	sendBatchBytes = 256 << 10
)

// flush hands the queued records to the sink. Their values were encoded
// into h.buf, which the next batch reuses; they are copied out into one
// buffer, pooled or allocated (values.go; the producer keeps them until
// Kafka acknowledged them), and the messages into one allocation.
// Records not taken because the task is stopping are withdrawn from the
// tracker: they were never sent.
func (h *harvester) flush(ctx context.Context) error {
	return h.send(ctx)
}

// send hands the queued records to the sink (see flush), first noting the
// hash of the bytes before the last line's end (see noteTail), and then
// acknowledges the lines of the batch that the processors dropped: in the
// tracker, in order with the lines around them, so the checkpoint passes a
// dropped line once every line before it was acknowledged, and a batch of
// dropped lines alone moves it at once. (Acking them before the tail is
// noted could move the run to the batch's end with no proof for the
// checkpoint.)
func (h *harvester) send(ctx context.Context) error {
	if len(h.out) == 0 && len(h.drops) == 0 {
		return nil
	}
	h.noteTail()
	if len(h.out) == 0 {
		h.ackDrops()
		return nil
	}
	size := 0
	for i := range h.out {
		size += len(h.out[i].Value)
	}
	// The values move into a buffer of their own (from the pool: see
	// values.go) that the sink gives back once every record in it is
	// released.
	var vals []byte
	pool := h.o.values
	if pool == nil {
		pool = values
	}
	vb := pool.get(size, len(h.out))
	if vb != nil {
		vals = vb.b
	} else {
		vals = make([]byte, 0, size)
	}
	// A full batch (a busy file) hands its queue over as it is and starts
	// a new one: copying 64 records (pointers, under the GC's write
	// barriers) cost more than the allocation. A partial one is copied
	// out, so that a slow file's queue is not an allocation of 64 records
	// per line.
	var msgs []producer.Message
	if len(h.out) == sendBatch {
		msgs = h.out
		h.out = make([]producer.Message, 0, sendBatch)
	} else {
		msgs = slices.Clone(h.out)
		clear(h.out)
		h.out = h.out[:0]
	}
	ptrs := make([]*producer.Message, len(msgs))
	for i := range msgs {
		from := len(vals)
		vals = append(vals, msgs[i].Value...)
		msgs[i].Value = vals[from:len(vals):len(vals)]
		if vb != nil {
			msgs[i].Owner = vb
		}
		ptrs[i] = &msgs[i]
	}
	if vb != nil {
		vb.b = vals
	}
	h.buf = h.buf[:0]
	sent, err := h.o.Sender.SendBatch(ctx, ptrs)
	if err != nil {
		if vb != nil {
			vb.Release(len(ptrs) - sent) // never the sink's
		}
		h.cancelUnsent(ptrs[sent:])
		return err
	}
	h.o.Metrics.LinesRead.Add(float64(len(ptrs)))
	h.ackDrops()
	return nil
}

// ackDrops acknowledges the batch's dropped lines.
func (h *harvester) ackDrops() {
	for _, seq := range h.drops {
		h.tracker.Ack(seq)
	}
	h.o.Metrics.LinesRead.Add(float64(len(h.drops)))
	h.drops = h.drops[:0]
}

// cancelUnsent withdraws the records the sink did not take (the task is
// stopping) from the tracker, with the dropped lines after the first of
// them; those before it are acknowledged, as their batch was sent up to
// there. Cancel takes the last item added first.
func (h *harvester) cancelUnsent(unsent []*producer.Message) {
	keep, _ := slices.BinarySearch(h.drops, unsent[0].Seq) // drops are in tracker order
	later := slices.Clone(h.drops[keep:])
	h.drops = h.drops[:keep]
	h.ackDrops()
	for i, j := len(unsent)-1, len(later)-1; i >= 0 || j >= 0; {
		if j < 0 || (i >= 0 && unsent[i].Seq > later[j]) {
			h.tracker.Cancel(unsent[i].Seq)
			i--
		} else {
			h.tracker.Cancel(later[j])
			j--
		}
	}
}

// fileInfo is what a scan learns of a path.
type fileInfo struct {
	path string
	dev  uint64
	ino  uint64
	size int64
	// ctime is the inode's last change: a file checked to be read to its
	// end need not be checked again until it changes (see readToEnd).
	ctime int64
	// born is the inode's birth time (see bornOf), set where a file is
	// identified; 0 elsewhere.
	born int64
}

// statFile stats path (following symlinks). It calls the system directly
// rather than os.Stat, which allocates a FileInfo: rescans stat every
// followed file.
// fileInfoOf is what the harvester keeps of a stat of path.
func fileInfoOf(path string, st *syscall.Stat_t) fileInfo {
	return fileInfo{path: path, dev: uint64(st.Dev), ino: st.Ino, size: st.Size, ctime: st.Ctim.Nano()}
}

func statFile(path string) (fileInfo, error) {
	var st syscall.Stat_t
	if err := ignoringEINTR(func() error { return syscall.Stat(path, &st) }); err != nil {
		return fileInfo{}, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return fileInfoOf(path, &st), nil
	case syscall.S_IFDIR:
		return fileInfo{}, fmt.Errorf("%s: %w", path, errDirectory)
	}
	return fileInfo{}, fmt.Errorf("%s is not a regular file", path)
}

// errDirectory: a glob matched a directory ("/var/log/*" matches
// /var/log/nginx), which a scan passes over without a word.
var errDirectory = errors.New("a directory")

// bornOf is the birth time of f's inode (statx btime, in microseconds since
// the epoch), or 0 where the kernel or filesystem keeps none. Device and
// inode name a file only while it exists (see checkpoint.Entry.Born).
// Microseconds, not nanoseconds: a JSON number past 2^53 does not survive
// tools that read numbers as doubles (jq, a test's map[string]any), and a
// changed birth time would make every file a new one.
func bornOf(f *os.File) int64 {
	var stx unix.Statx_t
	err := ignoringEINTR(func() error {
		return unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_STATX_SYNC_AS_STAT, unix.STATX_BTIME, &stx)
	})
	if err != nil || stx.Mask&unix.STATX_BTIME == 0 {
		return 0
	}
	return stx.Btime.Sec*1e6 + int64(stx.Btime.Nsec)/1e3
}

// sameBirth reports whether birth times a and b (0: unknown) may be one
// file's.
func sameBirth(a, b int64) bool { return a == 0 || b == 0 || a == b }

// isFile reports whether the open file f (fi) is the file of cp: its
// device, inode and birth time.
func isFile(f *os.File, fi fileInfo, cp checkpoint.Entry) bool {
	return fi.dev == cp.Device && fi.ino == cp.Inode && sameBirth(cp.Born, bornOf(f))
}

// fileSize is the size of the open file.
func (h *harvester) fileSize() (int64, error) {
	var st syscall.Stat_t
	if err := ignoringEINTR(func() error { return syscall.Fstat(h.fd, &st) }); err != nil {
		return 0, &fs.PathError{Op: "fstat", Path: h.f.Name(), Err: err}
	}
	return st.Size, nil
}

func ignoringEINTR(f func() error) error {
	for {
		if err := f(); err != syscall.EINTR {
			return err
		}
	}
}

func (o *Options) fileError(path string, err error) {
	if o.FileError != nil {
		o.FileError(path, err)
	}
}
