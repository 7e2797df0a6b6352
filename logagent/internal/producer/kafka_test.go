package producer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want Class
	}{
		{sarama.ErrMessageSizeTooLarge, ClassPermanent},
		{sarama.ErrInvalidTopic, ClassPermanent},
		{sarama.ConfigurationError("Attempt to produce message larger than configured Producer.MaxMessageBytes"), ClassPermanent},
		{sarama.ErrOutOfBrokers, ClassRetryable},
		{sarama.ErrLeaderNotAvailable, ClassRetryable},
		{sarama.ErrNotLeaderForPartition, ClassRetryable},
		{sarama.ErrRequestTimedOut, ClassRetryable},
		{fmt.Errorf("wrapped: %w", sarama.ErrMessageSizeTooLarge), ClassPermanent},
		{errors.New("connection reset by peer"), ClassRetryable},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

// countAcks counts acknowledgements.
type countAcks struct{ n *atomic.Int64 }

func (c countAcks) AckRun(_ uint64, n int) { c.n.Add(int64(n)) }

func TestDeliverAndDeadLetter(t *testing.T) {
	k := testkit.StartKafka(t, testkit.KafkaOptions{AutoCreateTopics: true})
	defer k.Close()
	dir := t.TempDir()
	dl := filepath.Join(dir, "dead-letter.ndjson")
	s, err := New(Config{Client: kafkaconf.Settings{Brokers: []string{k.Addr()}, Version: "2.8.0"}, ChanMaxSize: 8,
		RequiredAcks: "all", MaxMessageBytes: 2000, DeadLetterPath: dl}, logging.Discard(), metrics.New(nil), obs.NewReadiness("kafka"))
	if err != nil {
		t.Fatal(err)
	}
	var done atomic.Int64
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		v := fmt.Sprintf(`{"message":"line %d"}`, i)
		if i == 25 {
			v = `{"message":"` + strings.Repeat("x", 5000) + `"}` // over max_message_bytes
		}
		if err := s.Send(ctx, &Message{Topic: "t1", Key: []byte("f"), Value: []byte(v), Path: "/p", Offset: int64(i), Acker: countAcks{&done}}); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := s.Close(cctx); err != nil {
		t.Fatal(err)
	}
	if done.Load() != 50 {
		t.Fatalf("done %d of 50", done.Load())
	}
	rs := testutil.ReadAll(t, k.Addr(), "t1")
	if len(rs) != 49 {
		t.Fatalf("kafka has %d records, want 49", len(rs))
	}
	f, err := os.Open(dl)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var lines []deadLetterLine
	for sc.Scan() {
		var l deadLetterLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 1 || lines[0].Offset != 25 || lines[0].Topic != "t1" || !strings.Contains(lines[0].Reason, "max_message_bytes") || len(lines[0].Record) < 5000 {
		t.Fatalf("dead letters %+v", lines)
	}
}
