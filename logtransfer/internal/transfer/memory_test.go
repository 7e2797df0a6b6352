package transfer

import (
	"bufio"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/pkg/record"

	tt "github.com/logcollect/logcollect/logtransfer/internal/transfertest"
)

// TestInflightBytesBounded: with Elasticsearch refusing every request, ~1 MB
// records pile up; what the transfer holds (its gauge, and the live heap)
// must stay within max_inflight_bytes plus slack instead of filling the
// record-count queue (chan_max_size 500 here: 500 MB), and once
// Elasticsearch answers again every record is indexed exactly once and
// committed.
func TestInflightBytesBounded(t *testing.T) {
	const (
		n      = 100
		size   = 900 << 10
		budget = 8 << 20
		// sarama's per-partition buffer (16 records), a fetch, two workers'
		// request bodies (bulk_bytes 5 MiB), the allocator's rounding.
		slack = 48 << 20
	)
	k := tt.Kafka(t, map[string]int32{"big": 1}, "")
	es := tt.ES(t, false)
	pad := strings.Repeat("x", size) // fields.* are keywords with ignore_above: kept, not indexed
	start0 := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i += 10 {
		batch := make([][]byte, 0, 10)
		for j := i; j < i+10; j++ {
			r := record.Record{Timestamp: start0.Add(time.Duration(j) * time.Second), Message: fmt.Sprint("big ", j),
				HostName: "web-big", Path: "/var/log/big.log", Offset: int64(j), Fields: map[string]string{"pad": pad},
				EventID: record.EventID("10.0.0.9", "web-big", int64(j))}
			batch = append(batch, r.AppendJSON(nil))
		}
		tt.Produce(t, k.Addr(), "big", batch)
	}
	es.FailBulksFor(time.Hour, http.StatusServiceUnavailable)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc // includes the broker's copy of the records

	cfg := testConfig(k.Addr(), es.URL(), "g-big", "big")
	cfg.Transfer.MaxInflightBytes = budget
	cfg.Transfer.HTTPListen = "127.0.0.1:0"
	r := start(t, cfg)
	tt.Eventually(t, 10*time.Second, "the operational server", func() (bool, string) { return r.httpAddr() != "", "" })
	var maxHeap uint64
	var maxInflight, consumed float64
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		maxHeap = max(maxHeap, ms.HeapAlloc-min(ms.HeapAlloc, base))
		m := scrape(t, "http://"+r.httpAddr()+"/metrics")
		maxInflight = max(maxInflight, m["logtransfer_inflight_bytes"])
		consumed = m["logtransfer_messages_consumed_total"]
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("while blocked: %v records read, in flight at most %.1f MiB, live heap growth at most %.1f MiB",
		consumed, maxInflight/(1<<20), float64(maxHeap)/(1<<20))
	if maxInflight > budget || maxInflight < budget/2 {
		t.Errorf("logtransfer_inflight_bytes reached %.0f, want the budget (%d) filled but never passed", maxInflight, budget)
	}
	if maxHeap > budget+slack {
		t.Errorf("live heap grew by %d bytes, more than max_inflight_bytes %d + slack %d", maxHeap, budget, slack)
	}
	if consumed >= n {
		t.Errorf("all %d records were read while nothing could be indexed: no backpressure", n)
	}

	es.ClearFaults()
	tt.Eventually(t, 120*time.Second, "every record indexed", countIs(t, es, "logcollect-big-*", n))
	tt.Eventually(t, 30*time.Second, "every record committed", committedIs(t, k.Addr(), "g-big", "big", 1, n))
	if m := scrape(t, "http://"+r.httpAddr()+"/metrics"); m["logtransfer_inflight_bytes"] != 0 {
		t.Errorf("logtransfer_inflight_bytes = %v after everything was indexed, want 0 (bytes not given back)", m["logtransfer_inflight_bytes"])
	}
	r.stop(t)
	if c := tt.Count(t, es, "logcollect-big-*"); c != n {
		t.Errorf("%d documents, want %d", c, n)
	}
}

// scrape reads the unlabelled samples of a Prometheus text page.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out
}
