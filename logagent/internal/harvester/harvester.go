// Package harvester reads the files of one collect entry and hands each
// event to the sink. The agent owns rotation rather than nxadm/tail (see
// the package's doc in task.go): a file is followed by identity (device,
// inode and a fingerprint of its first bytes) through an open descriptor,
// so a rename never skips the old file's last lines and a new file at the
// path gets its own harvester from offset 0.
package harvester

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/logcollect/logcollect/logagent/internal/ack"
	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/metrics"
	"github.com/logcollect/logcollect/logagent/internal/sink"
	"github.com/logcollect/logcollect/pkg/record"
	"github.com/prometheus/client_golang/prometheus"
)

// Sender is where events go: the Kafka sink, or a fake in tests.
type Sender interface {
	Send(ctx context.Context, m *sink.Message) error
}

var _ Sender = (*sink.Kafka)(nil)

// Options are shared by the harvesters of one task.
type Options struct {
	Entry         collect.Entry
	HostName      string
	HostIP        string
	AllowedPaths  []string
	ScanInterval  time.Duration
	PollInterval  time.Duration // how often timers (partial line, multiline, inactivity) are checked; growth wakes the harvester at once
	CloseInactive time.Duration
	PartialFlush  time.Duration
	StopTimeout   time.Duration // how long a stopping task waits for in-flight lines
	Store         *checkpoint.Store
	Sender        Sender
	Metrics       *metrics.Metrics
	Log           *slog.Logger
}

// FingerprintSize is how many leading bytes identify a file's content.
const FingerprintSize = 1024

// harvester follows one file through an open descriptor.
type harvester struct {
	o    *Options
	key  string
	dev  uint64
	ino  uint64
	path atomic.Pointer[string]
	f    *os.File

	id       string // current generation's id (changes when the file is truncated)
	kafkaKey []byte // id as the records' Kafka key
	eventIDs *record.EventIDs
	tracker  *ack.Tracker
	lr       *lineReader
	dec      *decoder
	k8s      *record.Kubernetes
	fpLen    int64  // bytes the stored fingerprint covers
	fp       string // the fingerprint
	startFor string // the fp that startSum was taken for (see sameStart)
	startSum uint64
	startBuf []byte
	buf      []byte
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
	h.eventIDs = record.NewEventIDs(h.o.HostIP, id)
	h.tracker = ack.New(offset, func(off int64) { store.SetOffset(key, id, off) })
}

// run reads until ctx is done or the file was inactive for CloseInactive,
// then waits (up to StopTimeout) for its in-flight lines to be acknowledged
// and releases the descriptor.
func (h *harvester) run(ctx context.Context) {
	m := h.o.Metrics
	m.FilesOpen.Inc()
	defer func() {
		wctx, cancel := context.WithTimeout(context.Background(), h.o.StopTimeout)
		if err := h.tracker.WaitIdle(wctx); err != nil {
			h.o.Log.Warn("stopping a file with lines not yet acknowledged; they are resent after restart", "path", *h.path.Load(), "pending", h.tracker.Pending())
		}
		cancel()
		h.f.Close()
		m.FilesOpen.Dec()
		m.CheckpointLag.DeleteLabelValues(*h.path.Load())
	}()
	w, err := watchDescriptor(h.f, h.lr.readPos())
	if err != nil {
		h.o.Log.Error("watch file; will reopen at the next scan", "path", *h.path.Load(), "err", err)
		return
	}
	defer w.stop()
	// One timer, armed for the next thing to check (see wait below), rather
	// than a ticker: an idle file costs no wake-ups until the watcher sees
	// growth or close_inactive is due.
	timer := time.NewTimer(h.o.PollInterval)
	defer timer.Stop()
	lastData := time.Now()
	partialSince := time.Time{}
	lastSize := int64(-1)
	var hotUntil time.Time // while after now, re-read every hotPoll
	lastWake := time.Now()
	var lag prometheus.Gauge
	var lagPath *string
	for {
		fi, err := h.f.Stat()
		if err != nil {
			h.o.Log.Error("stat open file; will reopen at the next scan", "path", *h.path.Load(), "err", err)
			return
		}
		if size := fi.Size(); size != lastSize {
			// Checked before reading: a file truncated and refilled past
			// our position between two polls must not be read from the
			// middle, so its first bytes are compared too.
			same, err := h.sameStart(size)
			if err != nil {
				h.o.Log.Error("read file start; will reopen at the next scan", "path", *h.path.Load(), "err", err)
				return
			}
			if size < h.lr.readPos() || !same {
				if err := h.truncated(size); err != nil {
					h.o.Log.Error("restart truncated file", "path", *h.path.Load(), "err", err)
					return
				}
				lastData, lastSize = time.Now(), -1
				continue
			}
			if h.fpLen < FingerprintSize && size > h.fpLen {
				// Re-fingerprint a short file as it grows, so a later copy
				// of it (copytruncate) is recognised; the id stays.
				n := min(size, FingerprintSize)
				if fp, err := fingerprint(h.f, n); err == nil {
					h.o.Store.SetFingerprint(h.key, h.id, int(n), fp)
					h.fpLen, h.fp = n, fp
				}
			}
			lastSize = size
		}
		h.lr.size = fi.Size()
		n, err := h.readAvailable(ctx)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				h.o.Log.Error("read file; will reopen at the next scan", "path", *h.path.Load(), "err", err)
			}
			return
		}
		now := time.Now()
		if n > 0 {
			lastData = now
		}
		if n > 0 && float64(n) >= hotRate*now.Sub(lastWake).Seconds() {
			hotUntil = now.Add(time.Second)
		}
		lastWake = now
		if p := h.path.Load(); p != lagPath {
			if lagPath != nil {
				m.CheckpointLag.DeleteLabelValues(*lagPath)
			}
			lag, lagPath = m.CheckpointLag.WithLabelValues(*p), p
		}
		lag.Set(float64(fi.Size() - h.tracker.Offset()))

		// A partial last line is sent after PartialFlush without growth,
		// flagged; the checkpoint then covers it, so it is not resent.
		if h.lr.pending() && n == 0 {
			if partialSince.IsZero() {
				partialSince = now
			} else if now.Sub(partialSince) >= h.o.PartialFlush {
				line, start, end, trunc := h.lr.flush()
				evs := h.dec.add(line, start, end, trunc, now)
				for _, ev := range evs {
					ev.flag(record.FlagPartial)
				}
				if err := h.emit(ctx, evs, now); err != nil {
					return
				}
				partialSince = time.Time{}
			}
		} else {
			partialSince = time.Time{}
		}
		if err := h.emit(ctx, h.dec.expire(now), now); err != nil {
			return
		}
		holding := h.lr.pending() || h.dec.holding()
		inFlight := h.tracker.Pending() > 0
		if n == 0 && !holding && !inFlight && now.Sub(lastData) >= h.o.CloseInactive {
			h.o.Log.Debug("closing inactive file", "path", *h.path.Load())
			return
		}
		var wait time.Duration
		switch {
		case now.Before(hotUntil):
			wait = hotPoll
		case holding:
			// A partial line or a multiline event waits for its timeout.
			wait = h.o.PollInterval
		case inFlight:
			// Look again once the acks are in, for the lag gauge and
			// close_inactive; after the watcher's next round, so a file
			// that keeps growing is woken by the watcher alone.
			wait = 2 * h.o.PollInterval
		default:
			if n == 0 {
				h.lr.shrink()
				h.buf = shrinkBuf(h.buf)
			}
			wait = max(h.o.PollInterval, lastData.Add(h.o.CloseInactive).Sub(now))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-w.changes.Modified:
		case <-w.changes.Truncated:
		case <-w.changes.Deleted:
			// Only when the descriptor itself is gone: see changeWatcher.
			h.o.Log.Error("lost the open file; will reopen at the next scan", "path", *h.path.Load())
			return
		case <-timer.C:
		}
	}
}

// A file that grew by hotRate bytes per second or more since the last look
// is "hot" for a second: it is re-read every hotPoll instead of waiting for
// the watcher's next round. Slow files (1,000 of them at 10 lines/s) never
// are, so they cost one wake-up per poll_interval.
const hotRate = 16 << 10

// shrinkBuf drops an encode buffer a large record grew.
func shrinkBuf(b []byte) []byte {
	if cap(b) > minReadBuf {
		return nil
	}
	return b
}

// sameStart reports whether the file still begins with the fingerprinted
// bytes.
//
// It runs whenever the size changed, i.e. on most wake-ups of a growing
// file, so after the first full comparison it compares a cheap in-process
// hash (maphash) of the same bytes read into a reused buffer; the SHA-256
// fingerprint was a tenth of the agent's CPU with 1,000 slow files.
func (h *harvester) sameStart(size int64) (bool, error) {
	if h.fpLen == 0 {
		return true, nil
	}
	if size < h.fpLen {
		return false, nil
	}
	if cap(h.startBuf) < int(h.fpLen) {
		h.startBuf = make([]byte, h.fpLen)
	}
	buf := h.startBuf[:h.fpLen]
	if _, err := h.f.ReadAt(buf, 0); err != nil {
		if errors.Is(err, io.EOF) {
			return false, nil // shrunk since the stat: truncated
		}
		return false, err
	}
	sum := maphash.Bytes(startSeed, buf)
	if h.startFor != h.fp {
		// First look since the fingerprint was taken: compare in full,
		// from the same bytes.
		if fingerprintOf(buf) != h.fp {
			return false, nil
		}
		h.startFor, h.startSum = h.fp, sum
		return true, nil
	}
	return sum == h.startSum, nil
}

// startSeed seeds the start hashes; they never leave the process.
var startSeed = maphash.MakeSeed()

// readAvailable sends every complete line up to EOF and returns the bytes
// consumed.
func (h *harvester) readAvailable(ctx context.Context) (int64, error) {
	startPos := h.lr.readPos()
	var now time.Time
	for i := 0; ; i++ {
		// The clock and ctx are read every 64 lines, not per line (5 % of
		// the agent's CPU at full speed): lines that came from the same
		// read, microseconds apart, share their read time.
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			now = time.Now()
		}
		line, start, end, trunc, err := h.lr.next()
		if errors.Is(err, io.EOF) {
			n := h.lr.readPos() - startPos
			h.o.Metrics.BytesRead.Add(float64(n))
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", *h.path.Load(), err)
		}
		if err := h.emit(ctx, h.dec.add(line, start, end, trunc, now), now); err != nil {
			return 0, err
		}
	}
}

// truncated handles size < read position: copytruncate or ": > file". The
// bytes now at the start are new, so they get a new file id: reusing the old
// id would give them the event ids of the old lines at the same offsets and
// overwrite those documents in Elasticsearch.
func (h *harvester) truncated(size int64) error {
	old, _ := h.o.Store.Get(h.key)
	if old.ID == h.id {
		// Keep the old generation's fingerprint so a copy of it
		// (copytruncate's app.log.1) is recognised and continued.
		old.Offset = h.tracker.Offset()
		old.Path = ""
		h.o.Store.Put("retired:"+old.ID+"|"+h.o.Entry.Topic, old)
	}
	h.o.Log.Info("file truncated; reading it again from the start as a new file", "path", *h.path.Load(), "size", size, "read_offset", h.lr.readPos())
	if err := h.lr.reset(0); err != nil {
		return err
	}
	h.dec.reset()
	id := newID()
	// The fingerprint of zero bytes, as identify computes it for an empty
	// file: a restart before the file is re-fingerprinted must find the
	// entry matching (an empty FP never would, and the generation's lines
	// would be sent again under a new id).
	fp0, err := fingerprint(h.f, 0)
	if err != nil {
		return err
	}
	h.o.Store.Put(h.key, checkpoint.Entry{ID: id, Path: *h.path.Load(), Device: h.dev, Inode: h.ino, FP: fp0})
	// The new id on disk before a line is sent under it (see
	// Task.persistNewIDs). If it cannot be saved, this harvester stops and
	// the scan starts the file again, under this id, once a save succeeds.
	if err := h.o.Store.Save(); err != nil {
		return fmt.Errorf("save the new id of the truncated file (it is read again once data_dir is writable): %w", err)
	}
	h.newGeneration(id, 0)
	h.fpLen, h.fp = 0, fp0
	return nil
}

// emit sends events in order; each is tracked before it is sent so its ack
// can never be missed. now is when they were read: the @timestamp of
// events that carry none.
func (h *harvester) emit(ctx context.Context, evs []*event, now time.Time) error {
	for _, ev := range evs {
		checkUTF8(ev)
		path := *h.path.Load()
		ts := ev.ts
		if ts.IsZero() {
			ts = now
		}
		r := record.Record{
			// Message only lives while r is encoded below, and ev.msg is
			// not written meanwhile: no need for a copy.
			Timestamp: ts, Message: unsafe.String(unsafe.SliceData(ev.msg), len(ev.msg)), HostName: h.o.HostName, HostIP: h.o.HostIP,
			Path: path, Device: h.dev, Inode: h.ino, Offset: ev.start, Flags: ev.flags,
			Fields: h.o.Entry.Fields, JSON: ev.json, Stream: ev.stream, Kubernetes: h.k8s,
			EventID: h.eventIDs.ID(ev.start),
		}
		h.buf = r.AppendJSON(h.buf[:0])
		value := append([]byte(nil), h.buf...) // the producer keeps it until acked
		tr := h.tracker
		seq := tr.Add(ev.end)
		msg := &sink.Message{Topic: h.o.Entry.Topic, Key: h.kafkaKey, Value: value, Path: path, Offset: ev.start, EventID: r.EventID,
			Acker: tr, Seq: seq}
		if err := h.o.Sender.Send(ctx, msg); err != nil {
			tr.Cancel(seq)
			return err
		}
		h.o.Metrics.LinesRead.Inc()
	}
	return nil
}

// fileInfo is what a scan learns of a path.
type fileInfo struct {
	path string
	dev  uint64
	ino  uint64
	size int64
}

func statFile(path string) (fileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileInfo{}, err
	}
	if !fi.Mode().IsRegular() {
		return fileInfo{}, fmt.Errorf("%s is not a regular file", path)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileInfo{}, fmt.Errorf("stat %s: no device/inode on this platform", path)
	}
	return fileInfo{path: path, dev: uint64(st.Dev), ino: st.Ino, size: fi.Size()}, nil
}
