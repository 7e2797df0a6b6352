package consumer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/logcollect/logcollect/pkg/budget"
	"github.com/logcollect/logcollect/pkg/logging"

	"github.com/logcollect/logcollect/logtransfer/internal/indexer"
	"github.com/logcollect/logcollect/logtransfer/internal/metrics"
)

type fakeSession struct {
	sarama.ConsumerGroupSession // only the methods below are used
	ctx                         context.Context

	mu      sync.Mutex
	marks   []int64
	commits int
}

func (s *fakeSession) Context() context.Context { return s.ctx }
func (s *fakeSession) MarkOffset(_ string, _ int32, off int64, _ string) {
	s.mu.Lock()
	s.marks = append(s.marks, off)
	s.mu.Unlock()
}
func (s *fakeSession) Commit() { s.mu.Lock(); s.commits++; s.mu.Unlock() }
func (s *fakeSession) state() ([]int64, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.marks...), s.commits
}

type fakeClaim struct {
	msgs chan *sarama.ConsumerMessage
}

func (c *fakeClaim) Topic() string                            { return "t" }
func (c *fakeClaim) Partition() int32                         { return 3 }
func (c *fakeClaim) InitialOffset() int64                     { return 0 }
func (c *fakeClaim) HighWaterMarkOffset() int64               { return 10 }
func (c *fakeClaim) Messages() <-chan *sarama.ConsumerMessage { return c.msgs }

func setup(t *testing.T, drain time.Duration) (*Handler, chan []*indexer.Item, *fakeSession, *fakeClaim, chan error) {
	out := make(chan []*indexer.Item, 10)
	h := New(out, nil, drain, metrics.New(nil), logging.Discard(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &fakeSession{ctx: ctx}
	c := &fakeClaim{msgs: make(chan *sarama.ConsumerMessage, 10)}
	done := make(chan error, 1)
	go func() { done <- h.ConsumeClaim(s, c) }()
	for o := int64(0); o < 3; o++ {
		c.msgs <- &sarama.ConsumerMessage{Topic: "t", Partition: 3, Offset: o, Value: []byte("x")}
	}
	return h, out, s, c, done
}

// receive returns the first n records handed out, whatever the runs.
func receive(t *testing.T, out chan []*indexer.Item, n int) []*indexer.Item {
	t.Helper()
	var items []*indexer.Item
	for len(items) < n {
		select {
		case run := <-out:
			if len(run) == 0 || len(run) > indexer.Chunk {
				t.Fatalf("a run of %d records", len(run))
			}
			items = append(items, run...)
		case <-time.After(5 * time.Second):
			t.Fatalf("%d records handed out, want %d", len(items), n)
		}
	}
	return items
}

func TestRevocationWaitsForInFlightThenCommitsOnlyIndexed(t *testing.T) {
	h, out, s, c, done := setup(t, 5*time.Second)
	items := receive(t, out, 3)
	if owned := h.Owned(); len(owned["t"]) != 1 || owned["t"][0] != 3 {
		t.Errorf("owned = %v", owned)
	}
	items[2].Part.Ack(items[2].Seq)
	close(c.msgs) // revoked
	select {
	case <-done:
		t.Fatal("ConsumeClaim returned while records were in flight")
	case <-time.After(100 * time.Millisecond):
	}
	items[0].Part.Ack(items[0].Seq)
	items[1].Part.Ack(items[1].Seq)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("ConsumeClaim did not return after its records were indexed")
	}
	marks, commits := s.state()
	if len(marks) == 0 || marks[len(marks)-1] != 3 || commits == 0 {
		t.Errorf("marks %v commits %d, want last mark 3 and a commit", marks, commits)
	}
	if len(h.Owned()) != 0 {
		t.Errorf("still owns %v", h.Owned())
	}
}

func TestRevocationAbandonsAfterDrainTimeoutWithoutMarking(t *testing.T) {
	_, out, s, c, done := setup(t, 150*time.Millisecond)
	items := receive(t, out, 3)
	items[1].Part.Ack(items[1].Seq)
	items[2].Part.Ack(items[2].Seq) // offset 0 stays stuck (Elasticsearch down)
	close(c.msgs)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("ConsumeClaim did not give up after drain_timeout")
	}
	items[0].Part.Ack(items[0].Seq) // too late: the partition is someone else's now
	marks, commits := s.state()
	if len(marks) != 0 {
		t.Errorf("marked %v, want nothing: offset 0 was never indexed before the release", marks)
	}
	if commits == 0 {
		t.Error("no commit on release")
	}
	if !items[0].Part.Closed() {
		t.Error("partition tracker not closed")
	}
}

func TestBlockedOnFullQueueStopsWithSession(t *testing.T) {
	out := make(chan []*indexer.Item) // no room: every send blocks
	h := New(out, nil, 100*time.Millisecond, metrics.New(nil), logging.Discard(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	s := &fakeSession{ctx: ctx}
	c := &fakeClaim{msgs: make(chan *sarama.ConsumerMessage, 1)}
	c.msgs <- &sarama.ConsumerMessage{Topic: "t", Partition: 3, Offset: 0}
	done := make(chan error, 1)
	go func() { done <- h.ConsumeClaim(s, c) }()
	time.Sleep(50 * time.Millisecond) // let it block on the send
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("ConsumeClaim blocked on a full queue ignored the end of the session")
	}
	if marks, _ := s.state(); len(marks) != 0 {
		t.Errorf("marks %v", marks)
	}
}

// TestRunsInOrderAndBounded: a partition's records go out in runs of at
// most indexer.Chunk, in offset order, and every one is marked once acked.
func TestRunsInOrderAndBounded(t *testing.T) {
	const n = 1000
	out := make(chan []*indexer.Item, 4)
	h := New(out, nil, time.Second, metrics.New(nil), logging.Discard(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &fakeSession{ctx: ctx}
	c := &fakeClaim{msgs: make(chan *sarama.ConsumerMessage, 256)}
	done := make(chan error, 1)
	go func() { done <- h.ConsumeClaim(s, c) }()
	go func() {
		for o := int64(0); o < n; o++ {
			c.msgs <- &sarama.ConsumerMessage{Topic: "t", Partition: 3, Offset: o, Value: []byte("x")}
		}
	}()
	items := receive(t, out, n)
	for i, it := range items {
		if it.Msg.Offset != int64(i) {
			t.Fatalf("record %d has offset %d", i, it.Msg.Offset)
		}
		it.Part.Ack(it.Seq)
	}
	close(c.msgs)
	<-done
	if marks, _ := s.state(); len(marks) == 0 || marks[len(marks)-1] != n {
		t.Errorf("last mark %v, want %d", marks, n)
	}
}

// TestRunGoesBeforeWaitingForBytes: with the byte budget full, the records
// collected so far go to the workers before the consumer waits for bytes
// (only the workers give bytes back): nothing deadlocks, and no more than
// the budget is held.
func TestRunGoesBeforeWaitingForBytes(t *testing.T) {
	const n = 20
	per := int64(1) + indexer.ItemOverhead
	b := budget.New(3 * per) // three records at a time
	out := make(chan []*indexer.Item, 100)
	h := New(out, b, time.Second, metrics.New(nil), logging.Discard(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &fakeSession{ctx: ctx}
	c := &fakeClaim{msgs: make(chan *sarama.ConsumerMessage, n)}
	for o := int64(0); o < n; o++ {
		c.msgs <- &sarama.ConsumerMessage{Topic: "t", Partition: 3, Offset: o, Value: []byte("x")}
	}
	close(c.msgs)
	done := make(chan error, 1)
	go func() { done <- h.ConsumeClaim(s, c) }()
	got := 0
	for got < n {
		select {
		case run := <-out:
			if held := b.InUse(); held > 3*per {
				t.Fatalf("%d bytes held, budget %d", held, 3*per)
			}
			for _, it := range run {
				it.Part.Ack(it.Seq)
				it.Release()
			}
			got += len(run)
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of %d records handed out, then nothing: the consumer waits for bytes its own run holds", got, n)
		}
	}
	<-done
	if marks, _ := s.state(); len(marks) == 0 || marks[len(marks)-1] != n {
		t.Errorf("last mark %v, want %d", marks, n)
	}
}
