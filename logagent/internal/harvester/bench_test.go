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
