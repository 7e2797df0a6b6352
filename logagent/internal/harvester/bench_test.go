package harvester

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/metrics"
	"github.com/logcollect/logcollect/logagent/internal/producer"
	"github.com/logcollect/logcollect/pkg/kafkaconf"
	"github.com/logcollect/logcollect/pkg/logging"
	"github.com/logcollect/logcollect/pkg/obs"
)

// BenchmarkTailToKafka measures file → record → sarama → broker → ack →
// checkpoint, with the dev stack broker: lines/s and MB/s of log read.
func BenchmarkTailToKafka(b *testing.B) {
	k := testkit.StartKafka(b, testkit.KafkaOptions{AutoCreateTopics: true})
	dir := b.TempDir()
	store, _ := checkpoint.Open(filepath.Join(dir, "data"), logging.Discard())
	m := metrics.New(nil)
	snd, err := producer.New(producer.Config{Client: kafkaconf.Settings{Brokers: []string{k.Addr()}, Version: "2.8.0"}, ChanMaxSize: 10000,
		RequiredAcks: "all", Compression: "none", MaxMessageBytes: 1 << 20, DeadLetterPath: filepath.Join(dir, "dl")}, logging.Discard(), m, obs.NewReadiness("kafka"))
	if err != nil {
		b.Fatal(err)
	}
	defer snd.Close(context.Background())

	const linesPerFile = 20000
	line := strings.Repeat("x", 180) + "\n" // ~200-byte access-log sized lines
	b.ResetTimer()
	var bytes int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		p := filepath.Join(dir, fmt.Sprintf("bench%d.log", i))
		var sb strings.Builder
		for j := 0; j < linesPerFile; j++ {
			fmt.Fprintf(&sb, "%06d ", j)
			sb.WriteString(line)
		}
		os.WriteFile(p, []byte(sb.String()), 0o644)
		size := int64(sb.Len())
		bytes += size
		es, _ := collect.Parse([]byte(`[{"path":"` + p + `","topic":"bench","start":"beginning"}]`))
		b.StartTimer()
		task := Start(Options{Entry: es[0], HostName: "h", HostIP: "10.0.0.1", HostID: "host-1", AllowedPaths: []string{dir + "/**"}, ScanInterval: 10 * time.Millisecond,
			PollInterval: 10 * time.Millisecond, CloseInactive: time.Minute, PartialFlush: time.Second, StopTimeout: 10 * time.Second,
			Store: store, Sender: snd, Metrics: m, Log: logging.Discard()})
		fi, _ := statFile(p)
		key := checkpoint.FileKey(fi.dev, fi.ino, "bench")
		deadline := time.Now().Add(2 * time.Minute)
		for {
			if cp, ok := store.Get(key); ok && cp.Offset == size {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("not all lines acknowledged in 2 minutes")
			}
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		task.Close()
		b.StartTimer()
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*linesPerFile)/sec, "lines/s")
	b.ReportMetric(float64(bytes)/1e6/sec, "MB/s")
}

// BenchmarkEmit measures the harvester's per-line work on nginx lines
// (record, processors, encoding, tracking, the batch copy), without
// reading or Kafka: plain, and with the realistic chain of BENCHMARKS.md
// (parse nginx + timestamp + mask). The chain must add no allocation per
// line in the steady state beyond what masking a line needs.
func BenchmarkEmit(b *testing.B) {
	const chain = `[{"type":"parse","format":"nginx"},{"type":"timestamp","field":"parsed.time","layouts":["nginx"]},{"type":"mask","builtins":["email","secrets","credit_card"]}]`
	for _, bc := range []struct{ name, processors string }{{"raw", ""}, {"nginx-chain", `,"processors":` + chain}} {
		b.Run(bc.name, func(b *testing.B) {
			dir := b.TempDir()
			p := filepath.Join(dir, "access.log")
			os.WriteFile(p, nil, 0o644)
			f, _ := os.Open(p)
			defer f.Close()
			es, err := collect.Parse([]byte(`[{"path":"` + p + `","topic":"bench"` + bc.processors + `}]`))
			if err != nil {
				b.Fatal(err)
			}
			h := detached(&Options{Entry: es[0], HostName: "h", Sender: ackingSender{}, Metrics: metrics.New(nil), Log: logging.Discard()}, f, p)
			line := []byte(`203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET /api/v1/items?page=2 HTTP/1.1" 200 5123 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"`)
			now := time.Now()
			var off int64
			b.SetBytes(int64(len(line) + 1))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				end := off + int64(len(line)) + 1
				if err := h.emit(h.ctx, h.dec.Add(line, off, end, false, now), now); err != nil {
					b.Fatal(err)
				}
				off = end
			}
			if err := h.flush(h.ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// ackingSender acknowledges every record at once, as a Kafka that is never
// the bottleneck, and returns its value as the producer does.
type ackingSender struct{}

func (ackingSender) SendBatch(_ context.Context, ms []*producer.Message) (int, error) {
	for _, m := range ms {
		m.Acker.AckRun(m.Seq, 1)
		if m.Owner != nil {
			m.Owner.Release(1)
		}
	}
	return len(ms), nil
}
