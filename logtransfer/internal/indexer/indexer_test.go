package indexer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olivere/elastic/v7"

	"github.com/logcollect/logcollect/pkg/logging"

	"github.com/logcollect/logcollect/logtransfer/internal/document"
	"github.com/logcollect/logcollect/logtransfer/internal/metrics"
	"github.com/logcollect/logcollect/pkg/contiguous"
)

// fakeBulk answers each request with respond and records what was sent.
type fakeBulk struct {
	mu      sync.Mutex
	calls   [][]Action
	respond func(call int, actions []Action) ([]Result, error)
}

func (f *fakeBulk) Send(_ context.Context, actions []Action) ([]Result, error) {
	f.mu.Lock()
	call := len(f.calls)
	f.calls = append(f.calls, append([]Action(nil), actions...))
	f.mu.Unlock()
	return f.respond(call, actions)
}

func (f *fakeBulk) sent() [][]Action {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]Action(nil), f.calls...)
}

func ok(actions []Action) []Result {
	out := make([]Result, len(actions))
	for i := range out {
		out[i].Status = 201
	}
	return out
}

type markLog struct {
	mu   sync.Mutex
	last int64
}

func (m *markLog) mark(next int64) { m.mu.Lock(); m.last = next; m.mu.Unlock() }
func (m *markLog) get() int64      { m.mu.Lock(); defer m.mu.Unlock(); return m.last }

func newPool(t *testing.T, bulk Bulk, mod func(*Config)) (*Pool, *metrics.Metrics) {
	t.Helper()
	pat, err := document.CompileIndexPattern(document.DefaultIndexPattern, "lc")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Workers: 1, QueueSize: 100, BulkActions: 100, BulkBytes: 1 << 20, FlushInterval: 20 * time.Millisecond,
		RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, DeadLetterIndex: "lc-dead-letter", Pattern: pat}
	if mod != nil {
		mod(&cfg)
	}
	m := metrics.New(nil)
	p := New(cfg, bulk, m, logging.Discard(), nil)
	p.Start()
	t.Cleanup(p.Close)
	return p, m
}

// feed tracks values as the consumer does: record i is offset i, and
// the partition resumes at i+1 once it is done.
func feed(t *testing.T, p *Pool, part *contiguous.Tracker[int64], values ...string) {
	t.Helper()
	for i, v := range values {
		off := int64(i)
		seq, err := part.Add(off + 1)
		if err != nil {
			t.Fatal(err)
		}
		p.Input() <- []*Item{{Msg: document.Message{Topic: "t", Offset: off, Value: []byte(v), Timestamp: time.Unix(1e9, 0)}, Part: part, Seq: seq}}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPerItemOutcomes(t *testing.T) {
	// Item 0 fails with 503 once, item 1 is accepted, item 2 has a mapping
	// conflict. Nothing may be marked until 0 is indexed and 2 is in the
	// dead-letter index.
	release := make(chan struct{})
	fb := &fakeBulk{respond: func(call int, a []Action) ([]Result, error) {
		switch call {
		case 0:
			return []Result{{Status: 503, Type: "unavailable_shards_exception"}, {Status: 201},
				{Status: 400, Type: "mapper_parsing_exception", Reason: "failed to parse field [n]"}}, nil
		default:
			<-release
			return ok(a), nil
		}
	}}
	var ml markLog
	part := contiguous.New(-1, ml.mark)
	p, m := newPool(t, fb, nil)
	feed(t, p, part, "a", "b", "c")

	waitFor(t, "second request", func() bool { return len(fb.sent()) >= 2 })
	if got := ml.get(); got != 0 {
		t.Fatalf("marked %d while item 0 was failing", got)
	}
	close(release)
	waitFor(t, "all marked", func() bool { return ml.get() == 3 })

	second := fb.sent()[1]
	if len(second) != 2 {
		t.Fatalf("second request has %d actions, want 2 (retry of item 0 + dead letter of item 2): %+v", len(second), second)
	}
	var sawDL, sawRetry bool
	for _, a := range second {
		switch {
		case a.Index == "lc-dead-letter" && a.ID == "t-0-2":
			sawDL = strings.Contains(string(a.Body), "mapper_parsing_exception") && strings.Contains(string(a.Body), `"original":"c"`)
		case a.ID == "t-0-0":
			sawRetry = true
		}
	}
	if !sawDL || !sawRetry {
		t.Errorf("second request = %+v", second)
	}
	if v := counter(m.DeadLettered); v != 1 {
		t.Errorf("dead lettered = %v", v)
	}
	if v := counter(m.Indexed); v != 2 {
		t.Errorf("indexed = %v", v)
	}
	if v := counter(m.Retried); v != 1 {
		t.Errorf("retried = %v", v)
	}
}

func TestWholeRequestFailuresRetryWithoutMarking(t *testing.T) {
	var failing sync.Mutex
	failing.Lock()
	fb := &fakeBulk{respond: func(call int, a []Action) ([]Result, error) {
		if failing.TryLock() {
			failing.Unlock()
			return ok(a), nil
		}
		if call%2 == 0 {
			return nil, &elastic.Error{Status: http.StatusTooManyRequests}
		}
		return nil, errors.New("dial tcp 127.0.0.1:9: connection refused")
	}}
	var ml markLog
	part := contiguous.New(-1, ml.mark)
	p, _ := newPool(t, fb, nil)
	feed(t, p, part, "a", "b")
	waitFor(t, "several failed attempts", func() bool { return len(fb.sent()) >= 4 })
	if got := ml.get(); got != 0 {
		t.Fatalf("marked %d while Elasticsearch was failing", got)
	}
	failing.Unlock()
	waitFor(t, "marked after recovery", func() bool { return ml.get() == 2 })
	for _, c := range fb.sent() {
		if len(c) != 2 {
			t.Errorf("a request had %d actions, want both documents each time", len(c))
		}
	}
}

func TestSplitFindsTheDocumentBreakingTheRequest(t *testing.T) {
	fb := &fakeBulk{respond: func(call int, a []Action) ([]Result, error) {
		for _, x := range a {
			if string(x.Body) != "" && strings.Contains(string(x.Body), "HUGE") && x.Index != "lc-dead-letter" {
				return nil, &elastic.Error{Status: http.StatusRequestEntityTooLarge}
			}
		}
		return ok(a), nil
	}}
	var ml markLog
	part := contiguous.New(-1, ml.mark)
	p, m := newPool(t, fb, nil)
	feed(t, p, part, "a", "b", "HUGE", "d", "e")
	waitFor(t, "all marked", func() bool { return ml.get() == 5 })
	if v := counter(m.DeadLettered); v != 1 {
		t.Errorf("dead lettered = %v, want 1", v)
	}
	if v := counter(m.Indexed); v != 4 {
		t.Errorf("indexed = %v, want 4", v)
	}
}

func TestRevokedPartitionIsAbandonedNotMarked(t *testing.T) {
	fb := &fakeBulk{respond: func(call int, a []Action) ([]Result, error) {
		return nil, &elastic.Error{Status: 503}
	}}
	var ml markLog
	part := contiguous.New(-1, ml.mark)
	p, m := newPool(t, fb, nil)
	feed(t, p, part, "a", "b")
	waitFor(t, "failing", func() bool { return len(fb.sent()) >= 2 })
	part.Close()
	waitFor(t, "abandoned", func() bool { return counter(m.Abandoned) == 2 })
	n := len(fb.sent())
	// The worker is free again: a record of another partition gets through.
	fb.mu.Lock()
	fb.respond = func(_ int, a []Action) ([]Result, error) { return ok(a), nil }
	fb.mu.Unlock()
	var ml2 markLog
	other := contiguous.New(-1, ml2.mark)
	feed(t, p, other, "x")
	waitFor(t, "other partition marked", func() bool { return ml2.get() == 1 })
	if ml.get() != 0 {
		t.Errorf("revoked partition marked %d", ml.get())
	}
	if len(fb.sent()) <= n {
		t.Error("no request after the revocation")
	}
}

func TestBatchingByCountBytesAndInterval(t *testing.T) {
	var sizes []int
	var mu sync.Mutex
	fb := &fakeBulk{respond: func(_ int, a []Action) ([]Result, error) {
		mu.Lock()
		sizes = append(sizes, len(a))
		mu.Unlock()
		return ok(a), nil
	}}
	var ml markLog
	part := contiguous.New(-1, ml.mark)
	p, _ := newPool(t, fb, func(c *Config) { c.BulkActions = 4; c.FlushInterval = time.Hour })
	values := make([]string, 8)
	for i := range values {
		values[i] = fmt.Sprint(i)
	}
	feed(t, p, part, values...)
	waitFor(t, "two full batches", func() bool { return ml.get() == 8 })
	mu.Lock()
	if fmt.Sprint(sizes) != "[4 4]" {
		t.Errorf("batch sizes %v, want [4 4]", sizes)
	}
	mu.Unlock()

	// Bytes: each document is ~100 bytes with its action line; 300 bytes
	// holds at most 2 (the third crosses the limit and flushes).
	fb2 := &fakeBulk{respond: func(_ int, a []Action) ([]Result, error) { return ok(a), nil }}
	var ml2 markLog
	part2 := contiguous.New(-1, ml2.mark)
	p2, _ := newPool(t, fb2, func(c *Config) { c.BulkBytes = 300; c.FlushInterval = time.Hour })
	feed(t, p2, part2, "a", "b", "c", "d", "e", "f")
	waitFor(t, "flushed by size", func() bool { return ml2.get() == 6 })
	for _, c := range fb2.sent() {
		if len(c) > 3 {
			t.Errorf("batch of %d exceeds bulk_bytes", len(c))
		}
	}

	// Interval: one record flushes after flush_interval on its own.
	fb3 := &fakeBulk{respond: func(_ int, a []Action) ([]Result, error) { return ok(a), nil }}
	var ml3 markLog
	part3 := contiguous.New(-1, ml3.mark)
	p3, _ := newPool(t, fb3, func(c *Config) { c.FlushInterval = 30 * time.Millisecond })
	feed(t, p3, part3, "lonely")
	waitFor(t, "flushed by interval", func() bool { return ml3.get() == 1 })
}

func TestClassify(t *testing.T) {
	items := map[int]Class{200: Done, 201: Done, 400: Reject, 404: Reject, 409: Reject, 408: Retry, 429: Retry, 500: Retry, 503: Retry}
	for status, want := range items {
		if got := ClassifyItem(status); got != want {
			t.Errorf("ClassifyItem(%d) = %v, want %v", status, got, want)
		}
	}
	reqs := []struct {
		err  error
		want Class
	}{
		{&elastic.Error{Status: 429}, Retry},
		{fmt.Errorf("bulk: %w", &elastic.Error{Status: 503}), Retry},
		{&elastic.Error{Status: 401}, Retry},
		{&elastic.Error{Status: 413}, Split},
		{&elastic.Error{Status: 400}, Split},
		{errors.New("connection refused"), Retry},
		{elastic.ErrNoClient, Retry},
	}
	for _, r := range reqs {
		if got := ClassifyRequest(r.err); got != r.want {
			t.Errorf("ClassifyRequest(%v) = %v, want %v", r.err, got, r.want)
		}
	}
}

// TestPersistentRequestRefusalBacksOff: a proxy or WAF answering 400 to
// every _bulk request must not make the worker spin (each document turned
// into a dead-letter document, refused, rejected again, the backoff reset
// every time), must not mark anything, must say so to /readyz, and once
// the path heals the documents go to their own index, not the dead-letter
// index.
func TestPersistentRequestRefusalBacksOff(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusForbidden} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			var refusing sync.Mutex
			refusing.Lock()
			fb := &fakeBulk{respond: func(_ int, a []Action) ([]Result, error) {
				if refusing.TryLock() {
					refusing.Unlock()
					return ok(a), nil
				}
				return nil, &elastic.Error{Status: status}
			}}
			var health sync.Mutex
			var lastHealth error
			var ml markLog
			part := contiguous.New(-1, ml.mark)
			pat, err := document.CompileIndexPattern(document.DefaultIndexPattern, "lc")
			if err != nil {
				t.Fatal(err)
			}
			m := metrics.New(nil)
			p := New(Config{Workers: 1, QueueSize: 100, BulkActions: 100, BulkBytes: 1 << 20, FlushInterval: 20 * time.Millisecond,
				RetryMin: 300 * time.Millisecond, RetryMax: 300 * time.Millisecond, DeadLetterIndex: "lc-dead-letter", Pattern: pat},
				fb, m, logging.Discard(), func(err error) { health.Lock(); lastHealth = err; health.Unlock() })
			p.Start()
			t.Cleanup(p.Close)
			feed(t, p, part, "a", "b", "c", "d")

			time.Sleep(1500 * time.Millisecond)
			// Each round: a few halvings, one document alone, its
			// dead-letter document alone, then a backoff of ~300 ms.
			// A hot loop sends thousands in this time.
			if n := len(fb.sent()); n > 100 {
				t.Errorf("%d requests in 1.5 s against a path refusing every request: no backoff", n)
			}
			if got := ml.get(); got != 0 {
				t.Errorf("marked %d while every request was refused", got)
			}
			health.Lock()
			if lastHealth == nil {
				t.Error("readiness not told about the refused requests")
			}
			health.Unlock()
			if v := counter(m.DeadLettered); v != 0 {
				t.Errorf("%v documents dead-lettered because the path refused requests", v)
			}

			refusing.Unlock()
			waitFor(t, "all marked after the path healed", func() bool { return ml.get() == 4 })
			last := fb.sent()
			for _, a := range last[len(last)-1] {
				if a.Index == "lc-dead-letter" {
					t.Errorf("%s went to the dead-letter index after the path healed", a.ID)
				}
			}
			if v := counter(m.Indexed); v != 4 {
				t.Errorf("indexed = %v, want 4", v)
			}
		})
	}
}
