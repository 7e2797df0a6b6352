package chaos

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/devkit/devstack"
	"github.com/logcollect/logcollect/devkit/esemu"
)

// The open finding of scenario 7 with kills while the data dir was
// unusable ("245 lines at the end lost while 245 documents were not
// sequenced lines") was the checker, not the pipeline: duplicates made the
// document count reach the written count while the last lines were still
// on their way, the check ran then, and the documents that arrived during
// it were counted as "other". CheckSettled checks until the result stops
// moving.
func TestCheckSettledWaitsForLinesBehindDuplicates(t *testing.T) {
	es, err := esemu.Start(esemu.Config{RefreshInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	c := &Cluster{cfg: Config{Topic: "chaos"}, Endpoints: devstack.Endpoints{Elasticsearch: es.URL()}}
	ctx := context.Background()
	const written, late = 1000, 245
	bulk := func(ids string, lo, hi int64) {
		t.Helper()
		var b strings.Builder
		for s := lo; s < hi; s++ {
			fmt.Fprintf(&b, `{"index":{"_index":"logcollect-chaos-2026.11.21","_id":"%s-%d"}}`+"\n", ids, s)
			fmt.Fprintf(&b, `{"json":{"f":0,"seq":%d},"log":{"offset":%d,"file":{"inode":7}}}`+"\n", s, s*100)
		}
		if err := c.esDo(ctx, http.MethodPost, "/_bulk", b.String(), nil); err != nil {
			t.Fatal(err)
		}
	}
	bulk("a", 0, written-late)
	bulk("dup", 0, late) // the same lines again under other ids: the count reaches written
	stats := []FileStats{{File: 0, Written: written}}
	r, err := c.Check(ctx, stats)
	if err != nil {
		t.Fatal(err)
	}
	if r.Docs != written || r.Lost != late {
		t.Fatalf("setup: docs %d lost %d, want %d and %d", r.Docs, r.Lost, written, late)
	}
	go func() {
		time.Sleep(time.Second)
		bulk("a", written-late, written)
	}()
	r, err = c.CheckSettled(ctx, stats, 3*time.Second, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.Lost != 0 || r.Duplicated != late || r.Foreign != 0 || r.Indexed != written {
		t.Fatalf("settled: lost %d dup %d other %d indexed %d; want 0, %d, 0, %d", r.Lost, r.Duplicated, r.Foreign, r.Indexed, late, written)
	}
	if r.Checks < 2 {
		t.Fatalf("checks %d, want at least 2", r.Checks)
	}

	// Nothing more arrives: the lost lines are reported after stall.
	start := time.Now()
	r, err = c.CheckSettled(ctx, []FileStats{{File: 0, Written: written + 5}}, time.Second, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.Lost != 5 || time.Since(start) > 20*time.Second {
		t.Fatalf("lost %d after %v, want 5 within the stall", r.Lost, time.Since(start))
	}
}
