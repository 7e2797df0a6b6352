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
	"github.com/logcollect/logcollect/pkg/record"
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
// line in the steady state beyond what masking a line needs. The cri cases
// are a container's log (issue 16): the pod as its path says, and with the
// metadata [kubernetes] adds (node, 4 labels), looked up once per file as
// openPodMeta does, so what differs per line is only the records' content.
func BenchmarkEmit(b *testing.B) {
	const chain = `[{"type":"parse","format":"nginx"},{"type":"timestamp","field":"parsed.time","layouts":["nginx"]},{"type":"mask","builtins":["email","secrets","credit_card"]}]`
	line := `203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET /api/v1/items?page=2 HTTP/1.1" 200 5123 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"`
	api := &record.Kubernetes{Namespace: "shop", PodName: "web-7c9f8d6b5-x2k4q", PodUID: "0f3a9c1e-5b7d-4e2a-9c8b-6d1f2e3a4b5c", ContainerName: "app", NodeName: "node-1",
		Labels: []record.KV{{Key: "app", Value: "web"}, {Key: "app_kubernetes_io/name", Value: "web"}, {Key: "team", Value: "checkout"}, {Key: "version", Value: "1.24.3"}}}
	for _, bc := range []struct {
		name, entry, line string
		pod               *record.Kubernetes // nil: what the path says
	}{
		{"raw", ``, line, nil},
		{"nginx-chain", `,"processors":` + chain, line, nil},
		{"cri", `,"format":"cri"`, "2026-12-02T10:00:00.000000001Z stdout F " + line, nil},
		{"cri-pod-metadata", `,"format":"cri"`, "2026-12-02T10:00:00.000000001Z stdout F " + line, api},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dir := filepath.Join(b.TempDir(), "pods", "shop_web-7c9f8d6b5-x2k4q_0f3a9c1e-5b7d-4e2a-9c8b-6d1f2e3a4b5c", "app")
			os.MkdirAll(dir, 0o755)
			p := filepath.Join(dir, "0.log")
			os.WriteFile(p, nil, 0o644)
			f, _ := os.Open(p)
			defer f.Close()
			es, err := collect.Parse([]byte(`[{"path":"` + p + `","topic":"bench"` + bc.entry + `}]`))
			if err != nil {
				b.Fatal(err)
			}
			h := detached(&Options{Entry: es[0], HostName: "h", Sender: ackingSender{}, Metrics: metrics.New(nil), Log: logging.Discard()}, f, p)
			if bc.pod != nil {
				h.k8s = bc.pod
			}
			line := []byte(bc.line)
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
