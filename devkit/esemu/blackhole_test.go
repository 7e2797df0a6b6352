package esemu

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestBlackholeAcknowledgesWithoutIndexing(t *testing.T) {
	s := startServer(t, Config{Blackhole: true})
	status, resp := call(t, s, "POST", "/_bulk", ndjson(
		`{"index":{"_index":"bh","_id":"1"}}`, `{"a":1}`,
		`{"create":{"_index":"bh"}}`, `{"b":"x"}`,
		`{"index":{"_index":"bh","_id":"3"}}`, `{"broken":`,
		`{"index":{"_index":"BH","_id":"4"}}`, `{"a":1}`,
	))
	if status != 200 || resp["errors"] != true {
		t.Fatalf("status %d errors %v", status, resp["errors"])
	}
	if dig(resp, "items", 0, "index", "status") != 201.0 || dig(resp, "items", 0, "index", "_version") != 1.0 ||
		dig(resp, "items", 0, "index", "_id") != "1" || dig(resp, "items", 1, "create", "_seq_no") != 1.0 {
		t.Errorf("ack shape: %v", dig(resp, "items"))
	}
	if id, _ := dig(resp, "items", 1, "create", "_id").(string); len(id) != 20 {
		t.Errorf("generated id %q", id)
	}
	if dig(resp, "items", 2, "index", "error", "type") != "mapper_parsing_exception" {
		t.Errorf("invalid source acknowledged: %v", dig(resp, "items", 2))
	}
	if dig(resp, "items", 3, "index", "error", "type") != "invalid_index_name_exception" {
		t.Errorf("invalid index acknowledged: %v", dig(resp, "items", 3))
	}
	if status, _ := call(t, s, "POST", "/_bulk", ndjson(`{"bogus":{}}`, `{}`)); status != 400 {
		t.Errorf("malformed bulk in blackhole: %d", status)
	}
	if n := mustCount(t, s, "*"); n != 0 {
		t.Errorf("blackhole indexed %d docs", n)
	}
	st := s.Stats()
	if st.Blackholed != 2 || st.BulkItems != 4 || st.Rejected != 2 || st.Indexed != 0 {
		t.Errorf("stats %+v", st)
	}
	s.SetBlackhole(false)
	call(t, s, "POST", "/_bulk?refresh=true", ndjson(`{"index":{"_index":"bh","_id":"1"}}`, `{"a":1}`))
	if n := mustCount(t, s, "bh"); n != 1 {
		t.Errorf("after leaving blackhole: count %d", n)
	}
}

// TestBlackholeRejectsInvalidActionsAsIndexingDoes checks that a bulk whose
// actions fail validation gets the same answer in both modes, although the
// blackhole's parser reuses one action.
func TestBlackholeRejectsInvalidActionsAsIndexingDoes(t *testing.T) {
	body := ndjson(
		`{"delete":{"_index":"a"}}`,
		`{"index":{"_index":"a","_id":"1"}}`, `{"a":1}`,
		`{"index":{"_index":"b","_id":""}}`, `{"a":1}`,
		`{"update":{"_index":"c","version":3}}`, `{"doc":{}}`,
	)
	s := startServer(t, Config{})
	wantStatus, want := callRaw(t, s, "POST", "/_bulk", body)
	s.SetBlackhole(true)
	status, got := callRaw(t, s, "POST", "/_bulk", body)
	if status != wantStatus || got != want {
		t.Errorf("blackhole answered %d %s\nindexing answered %d %s", status, got, wantStatus, want)
	}
	if wantStatus != 400 || !strings.Contains(want, "1: id is missing;2: if _id is specified it must not be empty;3: id is missing;") {
		t.Errorf("indexing answered %d %s", wantStatus, want)
	}
}

// TestConcurrentBlackholeBulks checks that parallel bulks, whose parsers and
// responses share recycled buffers, each get their own items back, and that
// an index they share hands out each sequence number once.
func TestConcurrentBlackholeBulks(t *testing.T) {
	s := startServer(t, Config{Blackhole: true})
	const writers, rounds, docs = 4, 20, 300
	index := func(w, d int) string {
		if d%3 == 0 {
			return "bh-shared"
		}
		return fmt.Sprintf("bh-%d", w)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	sharedSeqNos := map[float64]bool{}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				var lines []string
				for d := range docs {
					lines = append(lines, fmt.Sprintf(`{"index":{"_index":"%s","_id":"%d-%d-%d"}}`, index(w, d), w, r, d),
						fmt.Sprintf(`{"msg":"writer %d round %d doc %d %s"}`, w, r, d, strings.Repeat("x", d)))
				}
				_, resp := call(t, s, "POST", "/_bulk", ndjson(lines...))
				for d := range docs {
					item := dig(resp, "items", d, "index")
					if dig(item, "_id") != fmt.Sprintf("%d-%d-%d", w, r, d) || dig(item, "_index") != index(w, d) {
						t.Errorf("writer %d round %d item %d: %v", w, r, d, item)
						return
					}
					if d%3 == 0 {
						mu.Lock()
						sharedSeqNos[dig(item, "_seq_no").(float64)] = true
						mu.Unlock()
					}
				}
			}
		}()
	}
	wg.Wait()
	want := writers * rounds * docs / 3
	for n := range want {
		if !sharedSeqNos[float64(n)] {
			t.Fatalf("shared index: sequence number %d missing (%d distinct of %d)", n, len(sharedSeqNos), want)
		}
	}
}
