package harvester

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/metrics"
	"github.com/logcollect/logcollect/logagent/internal/producer"
	"github.com/logcollect/logcollect/pkg/logging"
)

func TestValueClasses(t *testing.T) {
	p := newValuePool()
	for _, tt := range []struct{ size, want int }{
		{0, -1}, {minPooledValues - 1, -1}, {minPooledValues, 4 << 10}, {4<<10 + 1, 6 << 10}, {6 << 10, 6 << 10},
		{6<<10 + 1, 8 << 10}, {300 << 10, 384 << 10}, {maxPooledValues, 512 << 10}, {maxPooledValues + 1, -1},
	} {
		got := -1
		if v := p.get(tt.size, 1); v != nil {
			got = cap(v.b)
		}
		if got != tt.want {
			t.Errorf("buffer for %d bytes: capacity %d, want %d", tt.size, got, tt.want)
		}
	}
}

// A batch's value buffer goes back to the pool only when the sink returned
// every record in it; until then no other batch writes into it (nor into
// its records' event ids), and then the next batch reuses it.
func TestValueBufferReusedOnlyAfterRelease(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.log")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	es, err := collect.Parse([]byte(`[{"path":"` + p + `","topic":"t"}]`))
	if err != nil {
		t.Fatal(err)
	}
	snd := &heldSender{}
	pool := newValuePool()
	h := detached(&Options{Entry: es[0], HostName: "h", Sender: snd, Metrics: metrics.New(nil), Log: logging.Discard(), values: pool}, f, p)
	var off int64
	batch := func(tag string) []*producer.Message { // one full batch of sendBatch records, each a few hundred bytes
		t.Helper()
		before := len(snd.sent())
		now := time.Now()
		for i := range sendBatch {
			line := []byte(fmt.Sprintf("%s line %d %0200d", tag, i, i))
			end := off + int64(len(line)) + 1
			if err := h.emit(h.ctx, h.dec.Add(line, off, end, false, now), now); err != nil {
				t.Fatal(err)
			}
			off = end
		}
		if err := h.flush(h.ctx); err != nil {
			t.Fatal(err)
		}
		ms := snd.sent()[before:]
		if len(ms) != sendBatch || ms[0].Owner == nil {
			t.Fatalf("batch %s: %d records, owner %v; want %d records from a pooled buffer", tag, len(ms), ms[0].Owner, sendBatch)
		}
		return ms
	}
	snapshot := func(ms []*producer.Message) [][]byte {
		out := make([][]byte, len(ms))
		for i, m := range ms {
			out[i] = bytes.Clone(m.Value)
		}
		return out
	}
	unchanged := func(tag string, ms []*producer.Message, was [][]byte) {
		t.Helper()
		for i, m := range ms {
			if !bytes.Equal(m.Value, was[i]) {
				t.Fatalf("batch %s, record %d changed while in flight:\n%s\nwas\n%s", tag, i, m.Value, was[i])
			}
			var v struct{ Message string }
			if err := json.Unmarshal(m.Value, &v); err != nil {
				t.Fatalf("batch %s, record %d: %v", tag, i, err)
			}
			if want := string(h.eventIDs.AppendLineID(nil, m.Offset, []byte(v.Message))); m.EventID != want || !bytes.Contains(m.Value, []byte(want)) {
				t.Fatalf("batch %s, record %d: event id %s, want %s (ids share an allocation: see eventID)", tag, i, m.EventID, want)
			}
		}
	}
	release := func(ms []*producer.Message) { // as the sink does after the acks
		for _, m := range ms {
			m.Acker.AckRun(m.Seq, 1)
			m.Owner.Release(1)
		}
	}
	base := func(ms []*producer.Message) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(ms[0].Value)) }

	a := batch("a")
	aWas := snapshot(a)
	b := batch("b") // a is in flight: b must get another buffer
	if base(a) == base(b) {
		t.Fatal("batch b was written into the buffer of batch a, which is still in flight")
	}
	unchanged("a", a, aWas)
	release(a[:sendBatch-1]) // all but one record of a: still not free
	c := batch("c")
	if base(c) == base(a) {
		t.Fatal("batch c reused the buffer of batch a while one of its records was in flight")
	}
	unchanged("a", a, aWas)
	release(a[sendBatch-1:])
	bWas := snapshot(b)
	d := batch("d") // a's buffer is free now: reused
	if base(d) != base(a) {
		t.Fatal("batch d did not reuse the buffer of batch a, which was released")
	}
	unchanged("b", b, bWas)
}
