package esemu

import (
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentBulks checks that parallel writers, periodic refreshes and
// searches agree: every id is indexed once, sequence numbers are unique, and
// overwrites count as versions, not documents.
func TestConcurrentBulks(t *testing.T) {
	s := startServer(t, Config{RefreshInterval: 5_000_000}) // 5ms: refreshes race with writes
	const writers, rounds, docs = 4, 10, 50
	var wg sync.WaitGroup
	seqNos := make(chan float64, writers*rounds*docs)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				var lines []string
				for d := 0; d < docs; d++ {
					// Writers share ids, so the same document is overwritten concurrently.
					lines = append(lines, fmt.Sprintf(`{"index":{"_index":"conc-%d","_id":"%d"}}`, d%2, d), fmt.Sprintf(`{"w":%d,"r":%d,"msg":"round %d"}`, w, r, r))
				}
				_, resp := call(t, s, "POST", "/_bulk", ndjson(lines...))
				if resp["errors"] != false {
					t.Errorf("bulk errors: %v", resp)
					return
				}
				for i := range docs {
					seqNos <- dig(resp, "items", i, "index", "_seq_no").(float64)*10 + float64(i%2)
				}
				call(t, s, "GET", "/conc-*/_search?q=msg:round", "")
			}
		}(w)
	}
	wg.Wait()
	close(seqNos)
	seen := map[float64]bool{}
	for n := range seqNos {
		if seen[n] {
			t.Fatalf("sequence number %v assigned twice", n/10)
		}
		seen[n] = true
	}
	if n := mustCount(t, s, "conc-*"); n != docs {
		t.Errorf("count %d, want %d", n, docs)
	}
	_, doc := call(t, s, "GET", "/conc-0/_doc/0", "")
	if doc["_version"] != float64(writers*rounds) {
		t.Errorf("version %v, want %d", doc["_version"], writers*rounds)
	}
	if st := s.Stats(); st.Created != docs || st.Updated != writers*rounds*docs-docs {
		t.Errorf("stats %+v", st)
	}
}
