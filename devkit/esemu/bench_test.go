package esemu

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// bulkBody builds a realistic bulk request of n log documents (~350 bytes each,
// shaped like the pipeline's records) with deterministic ids.
func bulkBody(batch, n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"index":{"_index":"logs-web-2026.11.21","_id":"%d-%d"}}`+"\n", batch, i)
		fmt.Fprintf(&b, `{"@timestamp":"2026-11-21T10:00:%02d.%03dZ","message":"GET /api/v1/items/%d HTTP/1.1 200 512 \"-\" \"curl/8.5\"",`+
			`"host":{"name":"web-%d","ip":"10.0.0.%d"},"log":{"file":{"path":"/var/log/nginx/access.log","inode":1234,"device":2049},"offset":%d},`+
			`"fields":{"env":"prod"},"event":{"id":"%d-%d"}}`+"\n", i%60, i%1000, i, i%8, i%250, i*350, batch, i)
	}
	return b.Bytes()
}

func benchmarkBulk(b *testing.B, cfg Config) {
	const docs = 1000
	s := startServer(b, cfg)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	bodies := make([][]byte, 8)
	for i := range bodies {
		bodies[i] = bulkBody(i, docs)
	}
	b.SetBytes(int64(len(bodies[0])))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := client.Post(s.URL()+"/_bulk", "application/x-ndjson", bytes.NewReader(bodies[i%len(bodies)]))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(b.N*docs)/b.Elapsed().Seconds(), "docs/s")
}

func BenchmarkBulkBlackhole(b *testing.B) { benchmarkBulk(b, Config{Blackhole: true}) }

// BenchmarkBulkIndexing includes the bleve indexing of every document: the
// periodic refresh applies the batches while bulks keep arriving.
func BenchmarkBulkIndexing(b *testing.B) {
	benchmarkBulk(b, Config{RefreshInterval: 200 * 1e6})
}
