package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"
)

// FileResult is the check of one file.
type FileResult struct {
	File       int
	Written    int64
	Indexed    int64 // distinct lines found
	Lost       int64
	Duplicated int64 // extra documents: the same line under another _id
	OutOfOrder int64
	FirstLost  []int64 // up to 10 lost sequence numbers, for the report
	FirstDup   []int64
}

// Result is the check of every file.
type Result struct {
	Files                                  []FileResult
	Written, Indexed, Lost, Duplicated     int64
	OutOfOrder, Docs, DeadLetters, Foreign int64
	ForeignSample                          []string // a few documents that are not sequenced lines
	// Settling: the document count changed while the files were fetched
	// (the emulator refreshes every second): lines reported lost may have
	// arrived meanwhile, and Foreign counts them; check again.
	Settling bool
	Checks   int // checks CheckSettled made
}

// Index is the pattern of the scenario topic's daily indices.
func (c *Cluster) Index() string { return "logcollect-" + c.cfg.Topic + "-*" }

// Refresh makes every write searchable.
func (c *Cluster) Refresh(ctx context.Context) error {
	return c.esDo(ctx, http.MethodPost, "/_emulator/refresh", "", nil)
}

// Count is the number of documents in index (after a refresh); a missing
// index counts 0.
func (c *Cluster) Count(ctx context.Context, index string, query string) (int64, error) {
	if err := c.Refresh(ctx); err != nil {
		return 0, err
	}
	var out struct {
		Count int64 `json:"count"`
	}
	body := `{"query":{"match_all":{}}}`
	if query != "" {
		body = `{"query":` + query + `}`
	}
	err := c.esDo(ctx, http.MethodPost, "/"+index+"/_count?ignore_unavailable=true&allow_no_indices=true", body, &out)
	return out.Count, err
}

// EmulatorStats is the emulator's counters.
func (c *Cluster) EmulatorStats(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	err := c.esDo(ctx, http.MethodGet, "/_emulator/stats", "", &out)
	return out, err
}

type hit struct {
	ID     string `json:"_id"`
	Source struct {
		JSON struct {
			F   int   `json:"f"`
			Seq int64 `json:"seq"`
		} `json:"json"`
		Log struct {
			Offset int64 `json:"offset"`
			File   struct {
				Inode uint64 `json:"inode"`
			} `json:"file"`
		} `json:"log"`
	} `json:"_source"`
}

// fetch returns the documents of file f with lo <= seq < hi.
func (c *Cluster) fetch(ctx context.Context, f int, lo, hi int64) ([]hit, int64, error) {
	q := fmt.Sprintf(`{"query":{"bool":{"filter":[{"term":{"json.f":%d}},{"range":{"json.seq":{"gte":%d,"lt":%d}}}]}},`+
		`"sort":[{"json.seq":"asc"}],"size":10000,"track_total_hits":true,"_source":["json.f","json.seq","log.offset","log.file.inode"]}`, f, lo, hi)
	var out struct {
		Hits struct {
			Total struct {
				Value int64 `json:"value"`
			} `json:"total"`
			Hits []hit `json:"hits"`
		} `json:"hits"`
	}
	err := c.esDo(ctx, http.MethodPost, "/"+c.Index()+"/_search?ignore_unavailable=true&allow_no_indices=true", q, &out)
	return out.Hits.Hits, out.Hits.Total.Value, err
}

// Check compares what w wrote with the documents in the emulator. expect,
// when not nil, overrides how many lines of a file must be indexed (a
// file removed from the config stops being expected where the writer
// stopped).
func (c *Cluster) Check(ctx context.Context, stats []FileStats) (Result, error) {
	var r Result
	docsBefore, err := c.Count(ctx, c.Index(), "")
	if err != nil {
		return r, err
	}
	for _, fs := range stats {
		fr, err := c.checkFile(ctx, fs)
		if err != nil {
			return r, err
		}
		r.Files = append(r.Files, fr)
		r.Written += fr.Written
		r.Indexed += fr.Indexed
		r.Lost += fr.Lost
		r.Duplicated += fr.Duplicated
		r.OutOfOrder += fr.OutOfOrder
	}
	if r.Docs, err = c.Count(ctx, c.Index(), ""); err != nil {
		return r, err
	}
	r.Settling = r.Docs != docsBefore
	if r.DeadLetters, err = c.Count(ctx, "logcollect-dead-letter", ""); err != nil {
		return r, err
	}
	// Documents that are not sequenced lines (bad inputs, or lines beyond
	// what the writer reports): counted, never silently ignored.
	seqDocs := r.Indexed + r.Duplicated
	r.Foreign = r.Docs - seqDocs
	if r.Foreign > 0 {
		var out struct {
			Hits struct {
				Hits []json.RawMessage `json:"hits"`
			} `json:"hits"`
		}
		q := `{"query":{"bool":{"must_not":[{"exists":{"field":"json.seq"}}]}},"size":3}`
		if err := c.esDo(ctx, http.MethodPost, "/"+c.Index()+"/_search", q, &out); err == nil {
			for _, h := range out.Hits.Hits {
				r.ForeignSample = append(r.ForeignSample, string(h))
			}
		}
	}
	return r, nil
}

type seen struct {
	offset int64
	inode  uint64
	ids    int
}

func (c *Cluster) checkFile(ctx context.Context, fs FileStats) (FileResult, error) {
	fr := FileResult{File: fs.File, Written: fs.Written}
	lines := make([]seen, fs.Written)
	const step = 9000
	for lo := int64(0); lo < fs.Written; {
		hi := min(lo+step, fs.Written)
		var hits []hit
		for {
			h, total, err := c.fetch(ctx, fs.File, lo, hi)
			if err != nil {
				return fr, err
			}
			if total <= int64(len(h)) {
				hits = h
				break
			}
			if hi-lo <= 1 {
				return fr, fmt.Errorf("file %d seq %d: %d documents", fs.File, lo, total)
			}
			hi = lo + (hi-lo)/2 // many duplicates: smaller pages
		}
		for _, h := range hits {
			s := h.Source.JSON.Seq
			if s < lo || s >= hi {
				continue
			}
			l := &lines[s]
			l.ids++
			if l.ids == 1 {
				l.offset, l.inode = h.Source.Log.Offset, h.Source.Log.File.Inode
			}
		}
		lo = hi
	}
	for s := range lines {
		switch n := lines[s].ids; {
		case n == 0:
			fr.Lost++
			if len(fr.FirstLost) < 10 {
				fr.FirstLost = append(fr.FirstLost, int64(s))
			}
		default:
			fr.Indexed++
			if n > 1 {
				fr.Duplicated += int64(n - 1)
				if len(fr.FirstDup) < 10 {
					fr.FirstDup = append(fr.FirstDup, int64(s))
				}
			}
		}
	}
	fr.OutOfOrder = outOfOrder(lines, fs.Truncs)
	return fr, nil
}

// outOfOrder counts lines whose recorded file offset does not follow
// their sequence: within one physical file (inode) and one truncation
// generation, sorting by offset must sort by sequence.
func outOfOrder(lines []seen, truncs []int64) int64 {
	type key struct {
		inode uint64
		gen   int
	}
	type pos struct{ offset, seq int64 }
	groups := map[key][]pos{}
	gen := 0
	for s := range lines {
		for gen < len(truncs) && int64(s) >= truncs[gen] {
			gen++
		}
		if lines[s].ids == 0 {
			continue
		}
		k := key{lines[s].inode, gen}
		groups[k] = append(groups[k], pos{lines[s].offset, int64(s)})
	}
	var n int64
	for _, g := range groups {
		sort.Slice(g, func(i, j int) bool {
			if g[i].offset != g[j].offset {
				return g[i].offset < g[j].offset
			}
			return g[i].seq < g[j].seq
		})
		for i := 1; i < len(g); i++ {
			if g[i].seq <= g[i-1].seq || g[i].offset == g[i-1].offset {
				n++
			}
		}
	}
	return n
}

// CheckSettled checks until the result no longer moves: while lines are
// missing it waits for more documents (up to stall without any) and checks
// again, up to timeout. The document count alone cannot tell when every
// line is in: duplicates make it reach the written count early, and a
// check made then reported the last lines lost and, counted after more
// documents arrived, as many documents "not sequenced lines" (the open
// finding of scenario 7 with kills while the data dir was unusable).
func (c *Cluster) CheckSettled(ctx context.Context, stats []FileStats, stall, timeout time.Duration) (Result, error) {
	deadline := time.Now().Add(timeout)
	for checks := 1; ; checks++ {
		r, err := c.Check(ctx, stats)
		r.Checks = checks
		if err != nil || (r.Lost == 0 && !r.Settling) || time.Now().After(deadline) {
			return r, err
		}
		_, n, err := c.WaitIndexed(ctx, r.Docs+r.Lost, stall, time.Until(deadline))
		if err != nil {
			return r, err
		}
		if n <= r.Docs && !r.Settling {
			return r, nil // nothing more arrived within stall: final
		}
	}
}

// WaitIndexed waits until the index holds at least want documents, or
// nothing changed for stall, or timeout passed; it returns how long it
// waited and the last count.
func (c *Cluster) WaitIndexed(ctx context.Context, want int64, stall, timeout time.Duration) (time.Duration, int64, error) {
	start := time.Now()
	last, lastChange := int64(-1), time.Now()
	for {
		n, err := c.Count(ctx, c.Index(), "")
		if err != nil && time.Since(start) > timeout {
			return time.Since(start), n, err
		}
		if err == nil {
			if n >= want {
				return time.Since(start), n, nil
			}
			if n != last {
				last, lastChange = n, time.Now()
			}
		}
		if time.Since(lastChange) > stall || time.Since(start) > timeout {
			return time.Since(start), last, nil
		}
		select {
		case <-ctx.Done():
			return time.Since(start), last, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
