package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The search uses query DSL that Elasticsearch 7.17 and the emulator both
// speak: query_string, a range on @timestamp, sort on @timestamp (with
// unmapped_type), and a
// date_histogram with fixed_interval. The time range is resolved here to
// absolute times, and empty buckets are filled here (extended_bounds
// would do it in Elasticsearch), so both answer the same way.

// searchRequest is what the Search page asks.
type searchRequest struct {
	Query    string
	From, To time.Time
	Size     int
}

// Histogram intervals, smallest first: the first that gives at most
// maxBuckets over the range is used.
var intervals = []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute,
	5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

const (
	maxBuckets  = 60
	defaultSize = 50
	maxSize     = 500
)

var relative = regexp.MustCompile(`^now(?:-(\d+)([smhdw]))?$`)

// parseTime reads "now", "now-15m" (s m h d w) or an RFC 3339 time.
func parseTime(s string, now time.Time) (time.Time, error) {
	if m := relative.FindStringSubmatch(s); m != nil {
		if m[1] == "" {
			return now, nil
		}
		n, _ := strconv.Atoi(m[1])
		unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
		return now.Add(-time.Duration(n) * unit), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want now, now-15m (s, m, h, d, w) or an RFC 3339 time like 2026-11-21T10:00:00Z", s)
	}
	return t, nil
}

func parseSearch(r *http.Request, now time.Time) (searchRequest, error) {
	q := r.URL.Query()
	req := searchRequest{Query: strings.TrimSpace(q.Get("q")), Size: defaultSize}
	from, to := q.Get("from"), q.Get("to")
	if from == "" {
		from = "now-15m"
	}
	if to == "" {
		to = "now"
	}
	var err error
	if req.From, err = parseTime(from, now); err != nil {
		return req, fmt.Errorf("from: %w", err)
	}
	if req.To, err = parseTime(to, now); err != nil {
		return req, fmt.Errorf("to: %w", err)
	}
	if !req.From.Before(req.To) {
		return req, fmt.Errorf("from %s is not before to %s", from, to)
	}
	if s := q.Get("size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxSize {
			return req, fmt.Errorf("size %q: want 0 to %d hits", s, maxSize)
		}
		req.Size = n
	}
	return req, nil
}

// interval picks the histogram's bucket width for the range.
func interval(from, to time.Time) time.Duration {
	for _, d := range intervals {
		if to.Sub(from)/d <= maxBuckets {
			return d
		}
	}
	return intervals[len(intervals)-1]
}

// esDuration writes d in Elasticsearch's time units (fixed_interval).
func esDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

type obj = map[string]any

// body is the search request sent to Elasticsearch.
func (s searchRequest) body(iv time.Duration) obj {
	var q obj = obj{"match_all": obj{}}
	if s.Query != "" {
		q = obj{"query_string": obj{"query": s.Query}}
	}
	return obj{
		"size":             s.Size,
		"track_total_hits": true,
		// unmapped_type: an index without @timestamp (or none yet) sorts
		// as empty instead of failing the search.
		"sort": []any{obj{"@timestamp": obj{"order": "desc", "unmapped_type": "date"}}},
		"query": obj{"bool": obj{
			"must":   []any{q},
			"filter": []any{obj{"range": obj{"@timestamp": obj{"gte": s.From.UTC().Format(time.RFC3339Nano), "lte": s.To.UTC().Format(time.RFC3339Nano)}}}},
		}},
		"aggs": obj{"over_time": obj{"date_histogram": obj{"field": "@timestamp", "fixed_interval": esDuration(iv), "min_doc_count": 0}}},
	}
}

// SearchResult is what /ui/api/search answers.
type SearchResult struct {
	Query    string    `json:"query"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Total    int64     `json:"total"`
	Interval string    `json:"interval"`
	Buckets  []Bucket  `json:"buckets"`
	Hits     []Hit     `json:"hits"`
	TookMS   int64     `json:"took_ms"`
}

// Bucket is one bar of the histogram.
type Bucket struct {
	At    time.Time `json:"at"`
	Count int64     `json:"count"`
}

// Hit is one document.
type Hit struct {
	Index  string          `json:"index"`
	ID     string          `json:"id"`
	Source json.RawMessage `json:"source"`
}

type esAnswer struct {
	Took int64 `json:"took"`
	Hits struct {
		Total json.RawMessage `json:"total"` // {"value":n} (7.x) or n (6.x)
		Hits  []struct {
			Index  string          `json:"_index"`
			ID     string          `json:"_id"`
			Source json.RawMessage `json:"_source"`
		} `json:"hits"`
	} `json:"hits"`
	Aggs struct {
		OverTime struct {
			Buckets []struct {
				Key   int64 `json:"key"`
				Count int64 `json:"doc_count"`
			} `json:"buckets"`
		} `json:"over_time"`
	} `json:"aggregations"`
}

func (c *Console) getSearch(w http.ResponseWriter, r *http.Request) {
	req, err := parseSearch(r, time.Now().UTC())
	if err != nil {
		httpError(w, http.StatusBadRequest, err)
		return
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	iv := interval(req.From, req.To)
	body, _ := json.Marshal(req.body(iv))
	targets := c.o.Indices
	if c.o.DeadLetterIndex != "" {
		targets += ",-" + c.o.DeadLetterIndex
	}
	data, err := c.o.ES.Search(ctx, targets+"/_search?ignore_unavailable=true&allow_no_indices=true", body)
	if err != nil {
		httpError(w, http.StatusBadGateway, fmt.Errorf("search: %w", err))
		return
	}
	res, err := decodeSearch(data, req, iv)
	if err != nil {
		httpError(w, http.StatusBadGateway, err)
		return
	}
	writeJSON(w, res)
}

func decodeSearch(data []byte, req searchRequest, iv time.Duration) (SearchResult, error) {
	var a esAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		return SearchResult{}, fmt.Errorf("search answer: %w", err)
	}
	res := SearchResult{Query: req.Query, From: req.From, To: req.To, Interval: esDuration(iv), TookMS: a.Took, Hits: []Hit{}}
	var total struct {
		Value int64 `json:"value"`
	}
	if err := json.Unmarshal(a.Hits.Total, &total); err != nil {
		if err := json.Unmarshal(a.Hits.Total, &total.Value); err != nil {
			return res, errors.New("search answer: hits.total is neither a number nor {\"value\": n}")
		}
	}
	res.Total = total.Value
	for _, h := range a.Hits.Hits {
		res.Hits = append(res.Hits, Hit{Index: h.Index, ID: h.ID, Source: h.Source})
	}
	counts := map[int64]int64{}
	for _, b := range a.Aggs.OverTime.Buckets {
		counts[b.Key] = b.Count
	}
	// Every bucket of the range, empty ones too, keyed as Elasticsearch
	// keys them (multiples of the interval since the epoch).
	step := iv.Milliseconds()
	for k := req.From.UnixMilli() / step * step; k <= req.To.UnixMilli(); k += step {
		res.Buckets = append(res.Buckets, Bucket{At: time.UnixMilli(k).UTC(), Count: counts[k]})
	}
	return res, nil
}
