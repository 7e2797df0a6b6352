package harvester

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/decode"
	"github.com/logcollect/logcollect/logagent/internal/linereader"
	"github.com/logcollect/logcollect/logagent/internal/metrics"
	"github.com/logcollect/logcollect/logagent/internal/podpath"
	"github.com/logcollect/logcollect/logagent/internal/processor"
	"github.com/logcollect/logcollect/logagent/internal/producer"
	"github.com/logcollect/logcollect/pkg/contiguous"
	"github.com/logcollect/logcollect/pkg/logging"
	"github.com/logcollect/logcollect/pkg/record"
)

// SampleLine is what the agent makes of one event of a sample: the record
// value it would send, or, when the processors dropped it, why.
type SampleLine struct {
	Offset  int64  // where the event starts in the sample file
	Value   []byte // the record as sent to Kafka; nil when dropped
	Dropped string // "drop/keep" or "rate_limit" when dropped
	Message string // the line as read, when dropped
}

// SampleHost and SampleFileID stand in for the host and file identity in
// the records of a sample (event.id derives from them).
const (
	SampleHost   = "sample-host"
	SampleFileID = "sample"
)

// Sample reads the first n events of the file at path as entry e's
// harvester would (its format, multiline and max_line_bytes, then its
// processors) and hands each to out in order. It runs the harvester's own
// emit and send, so `logagent validate -sample` prints what the agent
// sends; only the host and the file id are placeholders. A partial last
// line and a held multiline event are flushed at the end of the file.
func Sample(e collect.Entry, path string, n int, out func(SampleLine)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	snd := &sampleSender{out: out, max: n}
	o := &Options{Entry: e, HostName: SampleHost, Sender: snd, Metrics: metrics.New(nil), Log: logging.Discard()}
	var last processor.Stats
	o.dropped = func(ev *decode.Event) {
		why, s := "drop/keep", e.Chain.Stats()
		if s.RateLimited > last.RateLimited {
			why = "rate_limit"
		}
		last = s
		snd.emit(SampleLine{Offset: ev.Start, Dropped: why, Message: string(ev.Msg)})
	}
	h := detached(o, f, path)
	h.lr.SetSize(st.Size())
	now := time.Now()
	emit := func(evs []*decode.Event) error {
		if err := h.emit(h.ctx, evs, now); err != nil {
			return err
		}
		return h.flush(h.ctx)
	}
	for snd.count < n {
		line, start, end, trunc, err := h.lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if err := emit(h.decode(line, start, end, trunc, now)); err != nil {
			return err
		}
	}
	if snd.count < n && h.lr.Pending() {
		line, start, end, trunc := h.lr.Flush()
		evs := h.decode(line, start, end, trunc, now)
		for _, ev := range evs {
			ev.Flag(record.FlagPartial)
		}
		if err := emit(evs); err != nil {
			return err
		}
	}
	if snd.count < n {
		return emit(h.dec.Expire(now.Add(24 * time.Hour)))
	}
	return nil
}

// detached is a harvester of f outside any task, store or scheduler, its
// acknowledgements tracked from 0 and its record ids made of SampleHost and
// SampleFileID: what Sample and the benchmarks run emit and send on.
func detached(o *Options, f *os.File, path string) *harvester {
	e := &o.Entry
	h := &harvester{o: o, f: f, ctx: context.Background(), id: SampleFileID, kafkaKey: []byte(SampleFileID),
		eventIDs: record.NewEventIDs(SampleHost, SampleFileID), tracker: contiguous.New[lineEnd](0, nil),
		lr: linereader.New(f, 0, e.MaxLineBytes), dec: decode.New(e.Format, e.MaxLineBytes, e.Multiline)}
	h.path.Store(&path)
	if e.Format == "docker" || e.Format == "cri" {
		h.k8s = podpath.FromPath(path)
	}
	return h
}

// sampleSender hands the records of a sample to its caller, up to n events
// (kept or dropped) in all.
type sampleSender struct {
	out   func(SampleLine)
	count int
	max   int
}

func (s *sampleSender) emit(l SampleLine) {
	if s.count < s.max {
		s.count++
		s.out(l)
	}
}

func (s *sampleSender) SendBatch(_ context.Context, ms []*producer.Message) (int, error) {
	for _, m := range ms {
		s.emit(SampleLine{Offset: m.Offset, Value: m.Value})
	}
	return len(ms), nil
}
