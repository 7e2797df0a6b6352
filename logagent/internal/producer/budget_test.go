package producer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/logagent/internal/testutil"
)

// held tracks the value bytes of records the sink took (Send returned) and
// Kafka did not acknowledge yet.
type held struct {
	mu    sync.Mutex
	size  map[uint64]int
	early map[uint64]bool // acknowledged before Send returned
	bytes int
	max   int
	acks  ackSet
}

func (h *held) sent(seq uint64, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.early[seq] {
		delete(h.early, seq)
		return
	}
	h.size[seq] = n
	h.bytes += n
	h.max = max(h.max, h.bytes)
}

func (h *held) AckRun(seq uint64, n int) {
	h.acks.AckRun(seq, n)
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range uint64(n) {
		if sz, ok := h.size[seq+i]; ok {
			h.bytes -= sz
			delete(h.size, seq+i)
		} else {
			h.early[seq+i] = true
		}
	}
}

func (h *held) peak() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.max
}

// With Kafka down, big lines fill max_inflight_bytes long before
// chan_max_size: Send blocks (reading pauses) with the bytes held within the
// budget, a Send whose ctx ends returns, and once the broker is back every
// line is delivered once, in order.
func TestInflightBytesBounded(t *testing.T) {
	dir := t.TempDir()
	port, err := testkit.RestartablePort()
	if err != nil {
		t.Fatal(err)
	}
	k := testkit.StartKafka(t, testkit.KafkaOptions{Topics: map[string]int32{"big": 1}, DataDir: dir, Port: port})
	const (
		budget    = 1 << 20
		lineBytes = 64 << 10
		n         = 150 // 9.6 MB: ten times the budget
	)
	s := newTestSink(t, k.Addr(), func(c *Config) { c.ChanMaxSize = 5000; c.MaxInflightBytes = budget })
	h := &held{size: map[uint64]int{}, early: map[uint64]bool{}}
	pad := strings.Repeat("x", lineBytes)
	send := func(ctx context.Context, i int) error {
		v := fmt.Sprintf(`{"message":"b-%d","pad":"%s"}`, i, pad)
		err := s.Send(ctx, &Message{Topic: "big", Key: []byte("file-b"), Value: []byte(v), Offset: int64(i), Acker: h, Seq: uint64(i)})
		if err == nil {
			h.sent(uint64(i), len(v))
		}
		return err
	}
	for i := range 5 {
		if err := send(context.Background(), i); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if d, _ := h.acks.count(); d == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first records were not acknowledged")
		}
	}
	k.Close()

	done := make(chan struct{})
	var sendErr error
	go func() {
		defer close(done)
		for i := 5; i < n; i++ {
			if sendErr = send(context.Background(), i); sendErr != nil {
				return
			}
		}
	}()
	time.Sleep(2 * time.Second)
	select {
	case <-done:
		t.Fatalf("all %d lines of %d bytes were taken with Kafka down (err %v): nothing bounds the bytes in flight", n, lineBytes, sendErr)
	default:
	}
	if got := h.peak(); got > budget {
		t.Fatalf("%d bytes of values held, more than max_inflight_bytes %d", got, budget)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	err = s.Send(ctx, &Message{Topic: "big", Key: []byte("other"), Value: []byte(pad), Acker: &ackSet{}, Seq: 1})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send on a full budget with an ending ctx returned %v, want context.DeadlineExceeded", err)
	}

	k2 := testkit.StartKafka(t, testkit.KafkaOptions{Topics: map[string]int32{"big": 1}, DataDir: dir, Port: port})
	defer k2.Close()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("sends did not resume after the broker came back")
	}
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	closeSink(t, s)
	if got := h.peak(); got > budget {
		t.Fatalf("%d bytes of values held, more than max_inflight_bytes %d", got, budget)
	}
	if distinct, twice := h.acks.count(); distinct != n || twice != 0 {
		t.Fatalf("acknowledged %d distinct records (%d twice), want %d once each", distinct, twice, n)
	}
	checkInOrder(t, testutil.ReadAll(t, k2.Addr(), "big"), "b", n)
}

// Records larger than max_inflight_bytes pass one at a time instead of
// waiting forever.
func TestRecordLargerThanBudget(t *testing.T) {
	k := testkit.StartKafka(t, testkit.KafkaOptions{Topics: map[string]int32{"huge": 1}})
	defer k.Close()
	s := newTestSink(t, k.Addr(), func(c *Config) { c.MaxInflightBytes = 64 << 10 })
	acks := &ackSet{}
	pad := strings.Repeat("y", 200<<10)
	done := make(chan error, 1)
	go func() {
		for i := range 6 {
			v := fmt.Sprintf(`{"message":"h-%d","pad":"%s"}`, i, pad[:(i%2)*len(pad)])
			if err := s.Send(context.Background(), &Message{Topic: "huge", Key: []byte("f"), Value: []byte(v), Acker: acks, Seq: uint64(i)}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("a record larger than max_inflight_bytes never got through")
	}
	closeSink(t, s)
	if distinct, twice := acks.count(); distinct != 6 || twice != 0 {
		t.Fatalf("acknowledged %d distinct (%d twice), want 6 once each", distinct, twice)
	}
	checkInOrder(t, testutil.ReadAll(t, k.Addr(), "huge"), "h", 6)
}
