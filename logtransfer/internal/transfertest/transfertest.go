// Package transfertest starts the dev stack pieces logtransfer's tests need
// (Kafka broker, Elasticsearch emulator: devstack child processes), produces
// records and reads back what was committed and indexed.
package transfertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/pkg/record"
)

// Kafka starts a broker with topics (name → partitions); dataDir "" keeps
// it in memory.
func Kafka(t testing.TB, topics map[string]int32, dataDir string) *testkit.Kafka {
	t.Helper()
	k := testkit.StartKafka(t, testkit.KafkaOptions{Topics: topics, AutoCreateTopics: true, DataDir: dataDir})
	return k
}

// ES starts the emulator with a short refresh interval.
func ES(t testing.TB, blackhole bool) *testkit.ES {
	t.Helper()
	return testkit.StartES(t, testkit.ESOptions{RefreshInterval: 100 * time.Millisecond, Blackhole: blackhole})
}

// Records returns n agent records of host as the agent encodes them, one
// second apart from start, with ids unique to (host, i).
func Records(host string, n int, start time.Time) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		r := record.Record{
			Timestamp: start.Add(time.Duration(i) * time.Second),
			Message:   fmt.Sprintf("GET /page/%d 200", i),
			HostName:  host, HostIP: "10.0.0.5",
			Path: "/var/log/nginx/access.log", Device: 2049, Inode: 1234, Offset: int64(i) * 100,
			Fields:  map[string]string{"env": "test"},
			EventID: record.EventID("10.0.0.5", host, int64(i)*100),
		}
		out[i] = r.AppendJSON(nil)
	}
	return out
}

// Produce writes each of values once to topic, spread over the partitions
// in turn. The producer is idempotent: on a loaded machine sarama retries a
// request whose answer came late, and without sequence numbers the broker
// appends that batch again — tests that count committed offsets would then
// see a record the test never meant to send.
func Produce(t testing.TB, brokers string, topic string, values [][]byte) {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_1_0_0
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Partitioner = sarama.NewRoundRobinPartitioner
	p, err := sarama.NewSyncProducer([]string{brokers}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, len(values))
	for i, v := range values {
		msgs[i] = &sarama.ProducerMessage{Topic: topic, Value: sarama.ByteEncoder(v)}
	}
	for start := 0; start < len(msgs); start += 500 {
		if err := p.SendMessages(msgs[start:min(start+500, len(msgs))]); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
}

// Committed returns the group's committed offsets of topic by partition
// (-1: none).
func Committed(t testing.TB, brokers, group, topic string, partitions int32) map[int32]int64 {
	t.Helper()
	admin, err := sarama.NewClusterAdmin([]string{brokers}, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	parts := make([]int32, partitions)
	for i := range parts {
		parts[i] = int32(i)
	}
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for _, p := range parts {
		out[p] = -1
		if b := resp.GetBlock(topic, p); b != nil {
			out[p] = b.Offset
		}
	}
	return out
}

// Sum adds committed offsets, counting -1 as 0: with offsets starting at 0
// it is the number of committed records.
func Sum(offsets map[int32]int64) int64 {
	var n int64
	for _, o := range offsets {
		n += max(o, 0)
	}
	return n
}

// Eventually polls cond until it holds or the deadline passes.
func Eventually(t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		if state != "" {
			last = state
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last: %s)", d, what, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Count polls the emulator's count of pattern.
func Count(t testing.TB, es *testkit.ES, pattern string) int {
	t.Helper()
	n, err := es.Count(pattern)
	if err != nil {
		return -1
	}
	return n
}

// Context returns a context cancelled at the end of the test.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}

// EventID returns the event.id of an agent record.
func EventID(value []byte) string {
	m, ok := record.Peek(value)
	if !ok {
		return ""
	}
	return m.EventID
}

// Buffer holds process or log output read while it is written.
type Buffer = testkit.Buffer
