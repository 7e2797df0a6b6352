package devstack

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/logcollect/logcollect/devkit/testkit"
)

func saramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Group.Heartbeat.Interval = 100 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = 6 * time.Second
	cfg.Consumer.Group.Rebalance.Timeout = 3 * time.Second
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
	return cfg
}

func produceN(t *testing.T, addr, topic string, from, n int) {
	t.Helper()
	p, err := sarama.NewSyncProducer([]string{addr}, saramaConfig())
	if err != nil {
		t.Fatalf("sync producer: %v", err)
	}
	defer p.Close()
	for i := from; i < from+n; i++ {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprint(i)), Value: sarama.StringEncoder(fmt.Sprintf("line-%d", i))}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
}

func highWaterSum(t *testing.T, addr, topic string) int64 {
	t.Helper()
	c, err := sarama.NewClient([]string{addr}, saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	parts, err := c.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, p := range parts {
		off, err := c.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		sum += off
	}
	return sum
}

func TestKafkaSyncAndAsyncProduce(t *testing.T) {
	k, err := StartKafka(KafkaConfig{Topics: map[string]int32{"web_log": 4}})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	produceN(t, k.Addr(), "web_log", 0, 50)

	ap, err := sarama.NewAsyncProducer([]string{k.Addr()}, saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		ap.Input() <- &sarama.ProducerMessage{Topic: "web_log", Value: sarama.StringEncoder(fmt.Sprint(i))}
	}
	for acked := 0; acked < 50; {
		select {
		case <-ap.Successes():
			acked++
		case err := <-ap.Errors():
			t.Fatalf("async produce: %v", err)
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d of 50 async records acknowledged", acked)
		}
	}
	ap.Close()
	if got := highWaterSum(t, k.Addr(), "web_log"); got != 100 {
		t.Errorf("high-water marks sum to %d, want 100", got)
	}
}

// groupHandler records what one group member consumed and commits as it goes.
type groupHandler struct {
	mu     sync.Mutex
	seen   map[string]bool
	claims map[int32]bool
	ready  chan struct{}
	once   sync.Once
}

func (h *groupHandler) Setup(s sarama.ConsumerGroupSession) error {
	h.once.Do(func() { close(h.ready) })
	return nil
}
func (h *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *groupHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	h.mu.Lock()
	h.claims[c.Partition()] = true
	h.mu.Unlock()
	for m := range c.Messages() {
		h.mu.Lock()
		h.seen[string(m.Value)] = true
		h.mu.Unlock()
		s.MarkMessage(m, "")
		s.Commit()
	}
	return nil
}

func (h *groupHandler) count() (int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.seen), len(h.claims)
}

func runMember(ctx context.Context, t *testing.T, addr, group string) (*groupHandler, func()) {
	t.Helper()
	g, err := sarama.NewConsumerGroup([]string{addr}, group, saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	h := &groupHandler{seen: map[string]bool{}, claims: map[int32]bool{}, ready: make(chan struct{})}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := g.Consume(ctx, []string{"web_log"}, h); err != nil && ctx.Err() == nil {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	return h, func() { cancel(); <-done; g.Close() }
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestKafkaGroupSplitsPartitionsAndResumesAfterBrokerRestart(t *testing.T) {
	dir := t.TempDir()
	port, err := testkit.RestartablePort()
	if err != nil {
		t.Fatal(err)
	}
	k, err := StartKafka(KafkaConfig{Topics: map[string]int32{"web_log": 4}, DataDir: dir, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	produceN(t, k.Addr(), "web_log", 0, 200)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, stopA := runMember(ctx, t, k.Addr(), "g1")
	b, stopB := runMember(ctx, t, k.Addr(), "g1")
	waitFor(t, "both members to consume all 200 records between them", 30*time.Second, func() bool {
		na, _ := a.count()
		nb, _ := b.count()
		return na+nb >= 200
	})
	na, pa := a.count()
	nb, pb := b.count()
	if na+nb != 200 || pa == 0 || pb == 0 || pa+pb < 4 {
		t.Errorf("members consumed %d+%d records from %d+%d partitions; want 200 split over both", na, nb, pa, pb)
	}
	stopA()
	stopB()
	k.Close()

	// Same port and data directory: records and the group's committed
	// offsets must survive, so a new member sees only the new records.
	k, err = StartKafka(KafkaConfig{Port: port, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if got := highWaterSum(t, k.Addr(), "web_log"); got != 200 {
		t.Fatalf("after restart the topic holds %d records, want 200", got)
	}
	produceN(t, k.Addr(), "web_log", 200, 20)
	c, stopC := runMember(ctx, t, k.Addr(), "g1")
	defer stopC()
	waitFor(t, "the resumed member to consume the 20 new records", 30*time.Second, func() bool {
		n, _ := c.count()
		return n >= 20
	})
	time.Sleep(300 * time.Millisecond) // let any wrongly re-read old records arrive
	c.mu.Lock()
	defer c.mu.Unlock()
	for v := range c.seen {
		var i int
		fmt.Sscanf(v, "line-%d", &i)
		if i < 200 {
			t.Errorf("resumed member re-read %q: committed offsets were lost", v)
			break
		}
	}
}
