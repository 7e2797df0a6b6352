package esemu

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
)

// maxResultWindow is ES's default index.max_result_window.
const maxResultWindow = 10000

// searchRequest is a parsed _search or _count request.
type searchRequest struct {
	query          query.Query
	from, size     int
	sort           []sortKey
	source         sourceFilter
	trackTotal     int  // hits counted exactly up to this many; -1 = all
	omitTotal      bool // track_total_hits: false
	totalAsInt     bool // rest_total_hits_as_int
	trackScores    bool
	version        bool
	seqNoPrimary   bool
	explicitScores bool // sorting by _score, or no sort at all
	aggs           []*aggSpec
}

// searchBodyKeys are the request body keys accepted; ES rejects unknown ones.
var searchBodyKeys = map[string]bool{
	"query": true, "from": true, "size": true, "sort": true, "_source": true, "track_total_hits": true,
	"track_scores": true, "version": true, "seq_no_primary_term": true, "timeout": true, "highlight": true,
	"stored_fields": true, "explain": true, "min_score": true, "terminate_after": true, "stats": true,
	"profile": true, "aggs": true, "aggregations": true,
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request, expr string, count bool) {
	s.stats.searches.Add(1)
	start := time.Now()
	body, e := readBody(r)
	if e != nil {
		writeError(w, e)
		return
	}
	indices, e := s.cluster.resolve(expr, s.resolveOpts(r, true))
	if e != nil {
		writeError(w, e)
		return
	}
	merged := mergedMapping(indices)
	req, e := parseSearch(r, body, merged, count)
	if e != nil {
		writeError(w, e)
		return
	}
	res, e := runSearch(r.Context(), indices, req, count)
	if e != nil {
		writeError(w, e)
		return
	}
	if count {
		writeJSON(w, r, http.StatusOK, map[string]any{"count": res.Total, "_shards": shardsHeader(len(indices))})
		return
	}
	out := renderSearch(req, res, indices, merged, time.Since(start))
	if len(req.aggs) > 0 {
		docs, e := aggregationDocs(res.Total, func(size int) ([]string, error) { return matchingSources(r.Context(), indices, req.query, size) })
		if e != nil {
			writeError(w, e)
			return
		}
		out["aggregations"] = computeAggs(req.aggs, docs)
		out["took"] = time.Since(start).Milliseconds()
	}
	writeJSON(w, r, http.StatusOK, out)
}

// matchingSources returns the sources of up to size matching documents.
func matchingSources(ctx context.Context, indices []*esIndex, q query.Query, size int) ([]string, error) {
	if len(indices) == 0 || size == 0 {
		return nil, nil
	}
	idx := make([]bleve.Index, len(indices))
	for i, ix := range indices {
		idx[i] = ix.bi
	}
	sr := bleve.NewSearchRequestOptions(q, size, 0, false)
	sr.Fields = []string{sourceField}
	res, err := bleve.NewIndexAlias(idx...).SearchInContext(ctx, sr)
	if err != nil {
		return nil, fmt.Errorf("search sources: %w", err)
	}
	out := make([]string, 0, len(res.Hits))
	for _, h := range res.Hits {
		if s, ok := h.Fields[sourceField].(string); ok {
			out = append(out, s)
		}
	}
	return out, nil
}

// mergedMapping combines the mappings of the searched indices; when a field
// has different types in different indices the first index (by name) wins.
func mergedMapping(indices []*esIndex) *mappings {
	if len(indices) == 1 {
		return indices[0].currentMapping()
	}
	m := &mappings{Properties: map[string]*fieldMapping{}}
	for i := len(indices) - 1; i >= 0; i-- {
		_ = m.merge(indices[i].currentMapping().clone(), false)
	}
	return m
}

func parseSearch(r *http.Request, body []byte, m *mappings, count bool) (*searchRequest, *esError) {
	q := r.URL.Query()
	req := &searchRequest{size: 10, trackTotal: maxResultWindow, query: query.NewMatchAllQuery(), source: sourceFilter{enabled: true}}
	b := &queryBuilder{m: m, now: time.Now()}
	var raw map[string]json.RawMessage
	if e := decodeBody(body, &raw); e != nil {
		return nil, e
	}
	for k := range raw {
		if count && k != "query" {
			return nil, errParsing("request does not support [%s]", k)
		}
		if !searchBodyKeys[k] {
			return nil, errParsing("Unknown key for a START_OBJECT in [%s].", k)
		}
	}
	for _, k := range []string{"aggs", "aggregations"} {
		if raw[k] != nil && !count {
			aggs, e := parseAggs(raw[k], m)
			if e != nil {
				return nil, e
			}
			req.aggs = aggs
		}
	}
	if qs := q.Get("q"); qs != "" {
		parsed, e := b.luceneQuery(queryStringOptions{Query: qs, DefaultField: q.Get("df"), DefaultOperator: q.Get("default_operator")})
		if e != nil {
			return nil, e
		}
		req.query = parsed
	} else if raw["query"] != nil {
		parsed, e := b.build(raw["query"])
		if e != nil {
			return nil, e
		}
		req.query = parsed
	}
	if count {
		return req, nil
	}
	intParam := func(name string, dst *int) *esError {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return errBadRequest("Failed to parse int parameter [%s] with value [%s]", name, v)
			}
			*dst = n
		} else if rv := raw[name]; rv != nil {
			if err := json.Unmarshal(rv, dst); err != nil {
				return errParsing("[%s] failed to parse field: %v", name, err)
			}
		}
		return nil
	}
	if e := intParam("from", &req.from); e != nil {
		return nil, e
	}
	if e := intParam("size", &req.size); e != nil {
		return nil, e
	}
	if req.from < 0 || req.size < 0 {
		return nil, errBadRequest("[from] and [size] parameters cannot be negative")
	}
	if req.from+req.size > maxResultWindow {
		return nil, newError(http.StatusBadRequest, "search_phase_execution_exception", "all shards failed").causedBy(
			errBadRequest("Result window is too large, from + size must be less than or equal to: [%d] but was [%d]. "+
				"See the scroll api for a more efficient way to request large data sets.", maxResultWindow, req.from+req.size))
	}
	if e := parseTrackTotal(req, q.Get("track_total_hits"), raw["track_total_hits"]); e != nil {
		return nil, e
	}
	req.totalAsInt = q.Get("rest_total_hits_as_int") == "true"
	_ = json.Unmarshal(raw["track_scores"], &req.trackScores)
	_ = json.Unmarshal(raw["version"], &req.version)
	_ = json.Unmarshal(raw["seq_no_primary_term"], &req.seqNoPrimary)
	if q.Get("version") == "true" {
		req.version = true
	}
	var e *esError
	if req.sort, e = parseSort(q.Get("sort"), raw["sort"], m); e != nil {
		return nil, e
	}
	req.explicitScores = len(req.sort) == 0
	for _, k := range req.sort {
		if k.field == "_score" {
			req.explicitScores = true
		}
	}
	if req.source, e = parseSourceFilter(q, raw["_source"]); e != nil {
		return nil, e
	}
	return req, nil
}

func parseTrackTotal(req *searchRequest, param string, raw json.RawMessage) *esError {
	v := strings.TrimSpace(param)
	if v == "" && raw != nil {
		v = strings.TrimSpace(string(raw))
	}
	switch v {
	case "":
	case "true":
		req.trackTotal = -1
	case "false":
		req.omitTotal = true
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errBadRequest("[track_total_hits] parameter must be positive or equals to -1, got %s", v)
		}
		req.trackTotal = n
	}
	return nil
}

// runSearch executes the query over the indices' searchable snapshots. One
// bleve alias over all indices merges and sorts their hits, like the fetch
// phase of a multi-index search.
func runSearch(ctx context.Context, indices []*esIndex, req *searchRequest, count bool) (*bleve.SearchResult, *esError) {
	if len(indices) == 0 {
		return &bleve.SearchResult{Status: &bleve.SearchStatus{}}, nil
	}
	idx := make([]bleve.Index, len(indices))
	for i, ix := range indices {
		idx[i] = ix.bi
	}
	alias := bleve.NewIndexAlias(idx...)
	size := req.size
	if count {
		size = 0
	}
	sr := bleve.NewSearchRequestOptions(req.query, size, req.from, false)
	if !count {
		sr.Fields = []string{sourceField, versionField, seqNoField}
		sr.SortByCustom(bleveSort(req.sort))
	}
	res, err := alias.SearchInContext(ctx, sr)
	if err != nil {
		return nil, newError(http.StatusBadRequest, "search_phase_execution_exception", "all shards failed").
			causedBy(newError(http.StatusBadRequest, "query_shard_exception", "%v", err))
	}
	return res, nil
}

// renderSearch shapes a bleve result like an ES 7.17 search response.
func renderSearch(req *searchRequest, res *bleve.SearchResult, indices []*esIndex, m *mappings, took time.Duration) map[string]any {
	byBleveName := map[string]string{}
	for _, ix := range indices {
		byBleveName[ix.bi.Name()] = ix.name
	}
	hits := make([]map[string]any, 0, len(res.Hits))
	var maxScore any
	scored := req.explicitScores || req.trackScores
	if scored && len(res.Hits) > 0 {
		maxScore = res.MaxScore
	}
	for _, h := range res.Hits {
		hits = append(hits, renderHit(req, h, byBleveName, m, scored))
	}
	total := any(nil)
	if !req.omitTotal {
		value, relation := res.Total, "eq"
		if req.trackTotal >= 0 && value > uint64(req.trackTotal) {
			value, relation = uint64(req.trackTotal), "gte"
		}
		if req.totalAsInt {
			total = value
		} else {
			total = map[string]any{"value": value, "relation": relation}
		}
	}
	hitsObj := map[string]any{"max_score": maxScore, "hits": hits}
	if total != nil {
		hitsObj["total"] = total
	}
	return map[string]any{
		"took": took.Milliseconds(), "timed_out": false, "_shards": shardsHeader(len(indices)), "hits": hitsObj,
	}
}

func renderHit(req *searchRequest, h *search.DocumentMatch, byBleveName map[string]string, m *mappings, scored bool) map[string]any {
	src, _ := h.Fields[sourceField].(string)
	hit := map[string]any{"_index": byBleveName[h.Index], "_type": "_doc", "_id": h.ID, "_score": nil}
	if scored {
		hit["_score"] = roundScore(h.Score)
	}
	if req.version {
		hit["_version"] = toInt(h.Fields[versionField])
	}
	if req.seqNoPrimary {
		hit["_seq_no"] = toInt(h.Fields[seqNoField])
		hit["_primary_term"] = 1
	}
	if req.source.enabled {
		hit["_source"] = req.source.apply([]byte(src))
	}
	if len(req.sort) > 0 {
		hit["sort"] = sortValues(req.sort, h, []byte(src), m)
	}
	return hit
}

func toInt(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// roundScore keeps scores readable; they are bleve's, not Lucene's BM25.
func roundScore(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	v, _ := strconv.ParseFloat(fmt.Sprintf("%.6g", f), 64)
	return v
}
