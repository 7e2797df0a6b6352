package transfer

import (
	"testing"
	"time"

	"github.com/logcollect/logcollect/pkg/contiguous"
	"github.com/logcollect/logcollect/pkg/logging"

	"github.com/logcollect/logcollect/logtransfer/internal/document"
	"github.com/logcollect/logcollect/logtransfer/internal/indexer"
	"github.com/logcollect/logcollect/logtransfer/internal/metrics"
	tt "github.com/logcollect/logcollect/logtransfer/internal/transfertest"
)

// BenchmarkDecodeToBulk measures the pipeline from a Kafka record value to
// an acknowledged _bulk item: peek and route (document), batch, encode and
// send over HTTP (olivere), parse per-item results, mark offsets. The
// emulator runs in blackhole mode so Elasticsearch's own cost is left out.
//
//	go test -run '^$' -bench DecodeToBulk -benchtime 200000x ./logtransfer/internal/transfer/
func BenchmarkDecodeToBulk(b *testing.B) {
	es := tt.ES(b, true)
	client, err := indexer.NewClient(indexer.ClientConfig{URLs: []string{es.URL()}, Timeout: 30 * time.Second, MaxConns: 4})
	if err != nil {
		b.Fatal(err)
	}
	pattern, err := document.CompileIndexPattern(document.DefaultIndexPattern, "logcollect")
	if err != nil {
		b.Fatal(err)
	}
	recs := tt.Records("bench", 10000, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var size int64
	for i := 0; i < b.N; i++ {
		size += int64(len(recs[i%len(recs)]))
	}
	pool := indexer.New(indexer.Config{
		Workers: 2, QueueSize: 10000, BulkActions: 1000, BulkBytes: 5 << 20, FlushInterval: 20 * time.Millisecond,
		RetryMin: 10 * time.Millisecond, RetryMax: time.Second, DeadLetterIndex: "logcollect-dead-letter", Pattern: pattern,
	}, &indexer.ElasticBulk{Client: client}, metrics.New(nil), logging.Discard(), nil)
	pool.Start()
	defer pool.Close()
	done := make(chan struct{})
	part := contiguous.New(-1, func(next int64) {
		if next == int64(b.N) {
			close(done)
		}
	})
	b.ResetTimer()
	start := time.Now()
	in := pool.Input()
	var run []*indexer.Item
	for i := 0; i < b.N; i++ {
		seq, err := part.Add(int64(i) + 1)
		if err != nil {
			b.Fatal(err)
		}
		run = append(run, &indexer.Item{Part: part, Seq: seq, Msg: document.Message{Topic: "web_log", Offset: int64(i), Value: recs[i%len(recs)]}})
		if len(run) == indexer.Chunk || i == b.N-1 {
			in <- run
			run = make([]*indexer.Item, 0, indexer.Chunk)
		}
	}
	<-done
	secs := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N)/secs, "docs/s")
	b.ReportMetric(float64(size)/1e6/secs, "MB/s")
}
