package producer

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/logagent/internal/metrics"
	"github.com/logcollect/logcollect/logagent/internal/testutil"
	"github.com/logcollect/logcollect/pkg/kafkaconf"
	"github.com/logcollect/logcollect/pkg/logging"
	"github.com/logcollect/logcollect/pkg/obs"
)

// ackSet records which sequence numbers were acknowledged.
type ackSet struct {
	mu   sync.Mutex
	seen map[uint64]int
}

func (a *ackSet) AckRun(seq uint64, n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen == nil {
		a.seen = map[uint64]int{}
	}
	for i := range uint64(n) {
		a.seen[seq+i]++
	}
}

func (a *ackSet) count() (distinct, twice int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, n := range a.seen {
		distinct++
		if n > 1 {
			twice++
		}
	}
	return distinct, twice
}

func newTestSink(t *testing.T, addr string, mod func(*Config)) *Kafka {
	t.Helper()
	cfg := Config{Client: kafkaconf.Settings{Brokers: []string{addr}, Version: "2.8.0"}, ChanMaxSize: 500,
		RequiredAcks: "all", DeadLetterPath: t.TempDir() + "/dead-letter.ndjson"}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg, logging.Discard(), metrics.New(nil), obs.NewReadiness("kafka"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sendSeq sends values "<prefix>-<i>" under key for i in [from, to).
func sendSeq(t *testing.T, s *Kafka, topic, key, prefix string, from, to int, acks *ackSet) {
	t.Helper()
	for i := from; i < to; i++ {
		v := fmt.Sprintf(`{"message":"%s-%d"}`, prefix, i)
		if err := s.Send(context.Background(), &Message{Topic: topic, Key: []byte(key), Value: []byte(v), Offset: int64(i), Acker: acks, Seq: uint64(i)}); err != nil {
			t.Fatal(err)
		}
	}
}

// checkInOrder asserts every value prefix-0 … prefix-(n-1) is in rs and that
// their first occurrences are in order (a resent batch may repeat records,
// never reorder them).
func checkInOrder(t *testing.T, rs []testutil.Record, prefix string, n int) {
	t.Helper()
	next := 0
	seen := map[int]bool{}
	for _, r := range rs {
		var i int
		if _, err := fmt.Sscanf(r.Message, prefix+"-%d", &i); err != nil {
			continue
		}
		if seen[i] {
			continue
		}
		seen[i] = true
		if i != next {
			t.Fatalf("record %s-%d arrived where %s-%d was due: out of order", prefix, i, prefix, next)
		}
		next++
	}
	if next != n {
		t.Fatalf("%d of %d records arrived", next, n)
	}
}

func closeSink(t *testing.T, s *Kafka) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// The broker stops mid-stream and comes back on the same port and data: the
// producer resends failed batches before newer ones, so one key's records
// stay in order, every one is acknowledged once, and none is lost.
func TestBrokerRestartKeepsOrder(t *testing.T) {
	dir := t.TempDir()
	port, err := testkit.RestartablePort()
	if err != nil {
		t.Fatal(err)
	}
	k := testkit.StartKafka(t, testkit.KafkaOptions{Topics: map[string]int32{"ord": 3}, DataDir: dir, Port: port})
	s := newTestSink(t, k.Addr(), nil)
	acks := &ackSet{}
	const n = 3000
	sendSeq(t, s, "ord", "file-a", "a", 0, 1000, acks)
	k.Close()
	// Sends go on while the broker is down until chan_max_size (500) is
	// in flight: the rest wait in Send, as the harvester would.
	done := make(chan struct{})
	go func() {
		defer close(done)
		sendSeq(t, s, "ord", "file-a", "a", 1000, n, acks)
	}()
	time.Sleep(1500 * time.Millisecond)
	if got := s.InFlight(); got > 500 {
		t.Fatalf("%d records in flight, more than chan_max_size 500", got)
	}
	k2 := testkit.StartKafka(t, testkit.KafkaOptions{Topics: map[string]int32{"ord": 3}, DataDir: dir, Port: port})
	defer k2.Close()
	<-done
	closeSink(t, s)
	if distinct, twice := acks.count(); distinct != n || twice != 0 {
		t.Fatalf("acknowledged %d distinct records (%d twice), want %d once each", distinct, twice, n)
	}
	rs := testutil.ReadAll(t, k2.Addr(), "ord")
	parts := map[int32]bool{}
	for _, r := range rs {
		parts[r.Partition] = true
	}
	if len(parts) != 1 {
		t.Errorf("one key's records went to partitions %v, want one", parts)
	}
	checkInOrder(t, rs, "a", n)
}

// A broker whose message.max.bytes is below the agent's max_message_bytes
// rejects whole batches; the producer resends them a record at a time, so
// only the record that is really too large is dead-lettered.
func TestRejectedBatchIsSplit(t *testing.T) {
	k := testkit.StartKafka(t, testkit.KafkaOptions{Topics: map[string]int32{"split": 1}, MaxMessageBytes: 4000})
	defer k.Close()
	s := newTestSink(t, k.Addr(), func(c *Config) { c.MaxMessageBytes = 100_000 })
	acks := &ackSet{}
	for i := range 200 {
		v := fmt.Sprintf(`{"message":"s-%d","pad":"%0100d"}`, i, 0)
		if i == 150 {
			v = fmt.Sprintf(`{"message":"s-%d","pad":"%05000d"}`, i, 0) // larger than the broker's 4000
		}
		if err := s.Send(context.Background(), &Message{Topic: "split", Key: []byte("f"), Value: []byte(v), Offset: int64(i), Acker: acks, Seq: uint64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	closeSink(t, s)
	if distinct, _ := acks.count(); distinct != 200 {
		t.Fatalf("acknowledged %d of 200", distinct)
	}
	rs := testutil.ReadAll(t, k.Addr(), "split")
	if len(rs) != 199 {
		t.Fatalf("kafka has %d records, want 199 (all but the oversized one)", len(rs))
	}
	for _, r := range rs {
		if r.Message == "s-150" {
			t.Fatal("the oversized record reached kafka")
		}
	}
}

// With idempotent = true batches carry a producer id and sequence numbers;
// the broker accepts them and order holds.
func TestIdempotentDelivery(t *testing.T) {
	k := testkit.StartKafka(t, testkit.KafkaOptions{Topics: map[string]int32{"idem": 2}})
	defer k.Close()
	s := newTestSink(t, k.Addr(), func(c *Config) { c.Idempotent = true })
	acks := &ackSet{}
	sendSeq(t, s, "idem", "k1", "i", 0, 2000, acks)
	closeSink(t, s)
	if distinct, twice := acks.count(); distinct != 2000 || twice != 0 {
		t.Fatalf("acknowledged %d distinct (%d twice), want 2000 once each", distinct, twice)
	}
	checkInOrder(t, testutil.ReadAll(t, k.Addr(), "idem"), "i", 2000)
}

// keysHeld is how many keys the producer keeps partitions for.
func keysHeld(t *testing.T, s *Kafka) int {
	t.Helper()
	p := s.prod.Load()
	if p == nil {
		t.Fatal("the sink is not connected")
	}
	ch := make(chan int, 1)
	p.post(func() {
		n := 0
		for _, ts := range p.topics {
			n += len(ts.keys)
		}
		ch <- n
	})
	select {
	case n := <-ch:
		return n
	case <-time.After(30 * time.Second):
		t.Fatal("the producer did not answer")
		return 0
	}
}

// waitNoKeys waits until the producer holds no key.
func waitNoKeys(t *testing.T, s *Kafka) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n := keysHeld(t, s)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the producer still holds %d keys with every record acknowledged: it never forgets a file id", n)
		}
	}
}

// A key (a file generation) is forgotten once none of its records is in
// flight, so a long-lived agent's producer does not grow with every file it
// ever read; one key's records stay in order across a broker restart.
func TestKeysForgotten(t *testing.T) {
	dir := t.TempDir()
	port, err := testkit.RestartablePort()
	if err != nil {
		t.Fatal(err)
	}
	k := testkit.StartKafka(t, testkit.KafkaOptions{Topics: map[string]int32{"keys": 3}, DataDir: dir, Port: port})
	s := newTestSink(t, k.Addr(), nil)
	const keys, perKey = 300, 6
	acks := &ackSet{}
	// send the i-th record of every key; seq = key*perKey + i.
	send := func(i int) {
		for j := range keys {
			v := fmt.Sprintf(`{"message":"k%d-%d"}`, j, i)
			seq := uint64(j*perKey + i)
			if err := s.Send(context.Background(), &Message{Topic: "keys", Key: fmt.Appendf(nil, "file-%d", j), Value: []byte(v), Acker: acks, Seq: seq}); err != nil {
				t.Error(err)
				return
			}
		}
	}
	for i := range 2 {
		send(i)
	}
	waitAcked(t, acks, 2*keys)
	waitNoKeys(t, s)

	k.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 2; i < perKey; i++ {
			send(i)
		}
	}()
	time.Sleep(time.Second)
	k2 := testkit.StartKafka(t, testkit.KafkaOptions{Topics: map[string]int32{"keys": 3}, DataDir: dir, Port: port})
	defer k2.Close()
	<-done
	waitAcked(t, acks, keys*perKey)
	waitNoKeys(t, s)
	closeSink(t, s)

	rs := testutil.ReadAll(t, k2.Addr(), "keys")
	byKey := map[string][]testutil.Record{}
	parts := map[string]map[int32]bool{}
	for _, r := range rs {
		key := r.Message[:strings.IndexByte(r.Message, '-')]
		byKey[key] = append(byKey[key], r)
		if parts[key] == nil {
			parts[key] = map[int32]bool{}
		}
		parts[key][r.Partition] = true
	}
	for j := range keys {
		key := fmt.Sprintf("k%d", j)
		if len(parts[key]) != 1 {
			t.Fatalf("key %s went to partitions %v, want one", key, parts[key])
		}
		checkInOrder(t, byKey[key], key, perKey)
	}
}

// Partitions added to a topic while the agent writes to it get records
// within topic_refresh_interval (the producer used to look the partition
// count up once, so added partitions stayed empty until a restart).
func TestAddedPartitionsGetRecords(t *testing.T) {
	k := testkit.StartKafka(t, testkit.KafkaOptions{Topics: map[string]int32{"grow": 1}})
	defer k.Close()
	s := newTestSink(t, k.Addr(), func(c *Config) { c.Client.TopicRefreshInterval = 200 * time.Millisecond })
	acks := &ackSet{}
	send := func(from, to int) {
		for i := from; i < to; i++ {
			m := &Message{Topic: "grow", Key: fmt.Appendf(nil, "file-%d", i), Value: fmt.Appendf(nil, `{"message":"g-%d"}`, i), Acker: acks, Seq: uint64(i)}
			if err := s.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(0, 100)
	// The topic's partition count is known once records were delivered.
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if distinct, _ := acks.count(); distinct == 100 {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatal("the first 100 records were not acknowledged within 30s")
		}
	}
	adm, err := sarama.NewClusterAdmin([]string{k.Addr()}, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if err := adm.CreatePartitions("grow", 4, nil, false); err != nil {
		t.Fatal(err)
	}
	n := 100
	deadline := time.Now().Add(30 * time.Second)
	for added := false; !added; {
		if time.Now().After(deadline) {
			t.Fatalf("no record reached partitions 1-3 within 30s of adding them")
		}
		send(n, n+100)
		n += 100
		time.Sleep(100 * time.Millisecond)
		for _, r := range testutil.ReadAll(t, k.Addr(), "grow") {
			added = added || r.Partition > 0
		}
	}
	closeSink(t, s)
	if distinct, twice := acks.count(); distinct != n || twice != 0 {
		t.Fatalf("acknowledged %d distinct records (%d twice), want %d once each", distinct, twice, n)
	}
}

// A partition's leader moves while a batch is in flight to the old leader,
// which answers it late with NOT_LEADER_FOR_PARTITION. A newer batch must
// not go to the new leader meanwhile: it would be written before the
// refused one is resent (the producer used to send it, and one file's
// records landed out of order). The producer learns the new leader from a
// metadata refresh, which can itself wait behind the held request when
// sarama asks the old leader: hence several rounds.
func TestLeaderMoveWithBatchInFlightKeepsOrder(t *testing.T) {
	k := testkit.StartKafka(t, testkit.KafkaOptions{Topics: map[string]int32{"mv": 1}, Brokers: 2})
	defer k.Close()
	s := newTestSink(t, k.Addr(), func(c *Config) { c.Client.TopicRefreshInterval = 100 * time.Millisecond })
	acks := &ackSet{}
	waitAcked := func(n int) {
		t.Helper()
		for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
			if distinct, _ := acks.count(); distinct >= n {
				return
			}
			if time.Since(start) > 30*time.Second {
				t.Fatalf("%d records not acknowledged within 30s", n)
			}
		}
	}
	sendSeq(t, s, "mv", "file-a", "a", 0, 10, acks)
	waitAcked(10)
	const rounds = 4
	for r := range rounds {
		base := 10 + r*20
		old := k.Leaders("mv")[0]
		hold := k.HoldProduce(old)
		sendSeq(t, s, "mv", "file-a", "a", base, base+10, acks)
		for start := time.Now(); hold.Held() == 0; time.Sleep(10 * time.Millisecond) {
			if time.Since(start) > 30*time.Second {
				t.Fatal("no produce request reached the old leader within 30s")
			}
		}
		if err := k.MoveLeader("mv", 0, 1-old); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // metadata refreshes
		sendSeq(t, s, "mv", "file-a", "a", base+10, base+20, acks)
		time.Sleep(500 * time.Millisecond) // the newer batch goes out (wrongly, to the new leader)
		hold.Release()
		waitAcked(base + 20)
	}
	closeSink(t, s)
	checkInOrder(t, testutil.ReadAll(t, k.Addr(), "mv"), "a", 10+rounds*20)
}

// A record that waited its linger goes out as one request with one batch
// (the producer used to follow each such batch with empty ones, one request
// each, until the partition had max_open_requests in flight).
func TestLingeredRecordIsOneRequest(t *testing.T) {
	k := testkit.StartKafka(t, testkit.KafkaOptions{Topics: map[string]int32{"one": 1}})
	defer k.Close()
	s := newTestSink(t, k.Addr(), nil)
	acks := &ackSet{}
	sendSeq(t, s, "one", "file-a", "a", 0, 1, acks) // connects, looks the topic up
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if distinct, _ := acks.count(); distinct == 1 {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatal("the first record was not acknowledged within 30s")
		}
	}
	requests := k.CountProduce()
	for i := 1; i <= 3; i++ {
		sendSeq(t, s, "one", "file-a", "a", i, i+1, acks)
		for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
			if distinct, _ := acks.count(); distinct == i+1 {
				break
			}
			if time.Since(start) > 30*time.Second {
				t.Fatalf("record %d was not acknowledged within 30s", i)
			}
		}
	}
	time.Sleep(300 * time.Millisecond) // any request that would follow
	closeSink(t, s)
	if n := requests(); n != 3 {
		t.Errorf("3 records sent one after another took %d produce requests, want 3", n)
	}
}
