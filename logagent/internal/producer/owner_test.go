package producer

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/logagent/internal/testutil"
)

// lentValues plays a harvester's value buffer: group records share one
// buffer, which is scribbled over as soon as the sink returns the last of
// them (a reused buffer would be written by the next batch).
type lentValues struct {
	mu     sync.Mutex
	acked  map[uint64]bool
	refs   map[*lentBuf]int
	broken []string
}

type lentBuf struct {
	l    *lentValues
	b    []byte
	seqs []uint64
}

func (l *lentValues) AckRun(seq uint64, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range uint64(n) {
		l.acked[seq+i] = true
	}
}

func (v *lentBuf) Release(n int) {
	l := v.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refs[v] -= n
	switch left := l.refs[v]; {
	case left < 0:
		l.broken = append(l.broken, fmt.Sprintf("buffer of %v released %d times too often", v.seqs, -left))
	case left == 0:
		for _, s := range v.seqs {
			if !l.acked[s] {
				l.broken = append(l.broken, fmt.Sprintf("buffer of %v released before record %d was acknowledged", v.seqs, s))
			}
		}
		for i := range v.b {
			v.b[i] = '#'
		}
	}
}

// The sink returns a record's value to its owner only after the record's
// ack (delivered or dead-lettered), once per record, in runs of neighbours:
// scribbling over a returned buffer changes nothing in Kafka.
func TestValuesReturnedAfterAck(t *testing.T) {
	k := testkit.StartKafka(t, testkit.KafkaOptions{AutoCreateTopics: true})
	defer k.Close()
	s := newTestSink(t, k.Addr(), func(c *Config) { c.MaxMessageBytes = 2000 })
	l := &lentValues{acked: map[uint64]bool{}, refs: map[*lentBuf]int{}}
	const groups, per = 40, 10
	var ms []*Message
	for g := range groups {
		v := &lentBuf{l: l, b: make([]byte, 0, per*3100)} // never grown: the values stay where they were lent
		for i := range per {
			seq := uint64(g*per + i)
			val := fmt.Sprintf(`{"message":"v-%d"}`, seq)
			if seq == 155 {
				val = `{"message":"` + strings.Repeat("x", 3000) + `"}` // over max_message_bytes: dead-lettered
			}
			from := len(v.b)
			v.b = append(v.b, val...)
			ms = append(ms, &Message{Topic: "lent", Key: []byte(fmt.Sprint("f", g%3)), Value: v.b[from:len(v.b):len(v.b)],
				Offset: int64(seq), Acker: l, Seq: seq, Owner: v})
			v.seqs = append(v.seqs, seq)
		}
		l.refs[v] = per
	}
	for g := 0; g < groups; g++ {
		if n, err := s.SendBatch(context.Background(), ms[g*per:(g+1)*per]); err != nil || n != per {
			t.Fatalf("SendBatch: %d, %v", n, err)
		}
	}
	closeSink(t, s)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.broken) > 0 {
		t.Fatal(strings.Join(l.broken, "\n"))
	}
	for v, left := range l.refs {
		if left != 0 {
			t.Errorf("buffer of %v: %d records never returned", v.seqs, left)
		}
	}
	rs := testutil.ReadAll(t, k.Addr(), "lent")
	if len(rs) != groups*per-1 {
		t.Fatalf("kafka has %d records, want %d", len(rs), groups*per-1)
	}
	for _, r := range rs {
		if !strings.HasPrefix(r.Message, "v-") {
			t.Fatalf("record %q in kafka: its value was overwritten before it was encoded", r.Message)
		}
	}
}
