package esemu

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2/search/query"
)

// queryBuilder translates the ES query DSL into bleve queries. It resolves
// every field against the ES mapping, because the right bleve query depends
// on the ES type: a term on a long is a numeric range, on a date a date
// range, on a keyword an exact term.
type queryBuilder struct {
	m   *mappings
	now time.Time
}

func none() query.Query { return query.NewMatchNoneQuery() }

func isNone(q query.Query) bool {
	_, ok := q.(*query.MatchNoneQuery)
	return ok
}

func unknownQuery(name string) *esError {
	return errParsing("unknown query [%s]", name).causedBy(
		newError(http.StatusBadRequest, "named_object_not_found_exception", "[1:1] unknown field [%s]", name))
}

// decodeJSON decodes with numbers kept as json.Number.
func decodeJSON(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}

// build translates one query object such as {"term":{"status":200}}.
func (b *queryBuilder) build(raw json.RawMessage) (query.Query, *esError) {
	var obj map[string]json.RawMessage
	if err := decodeJSON(raw, &obj); err != nil {
		return nil, errParsing("[_na] query malformed, must start with start_object")
	}
	if len(obj) == 0 {
		return query.NewMatchAllQuery(), nil
	}
	if len(obj) > 1 {
		keys := sortedKeys(obj)
		return nil, errParsing("[%s] malformed query, expected [END_OBJECT] but found [FIELD_NAME]", keys[0])
	}
	for name, body := range obj {
		return b.buildNamed(name, body)
	}
	return nil, nil
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (b *queryBuilder) buildNamed(name string, body json.RawMessage) (query.Query, *esError) {
	switch name {
	case "match_all":
		q := query.NewMatchAllQuery()
		if boost, ok := boostOf(body); ok {
			q.SetBoost(boost)
		}
		return q, nil
	case "match_none":
		return none(), nil
	case "bool":
		return b.boolQuery(body)
	case "constant_score":
		var cs struct {
			Filter json.RawMessage `json:"filter"`
			Boost  *float64        `json:"boost"`
		}
		if err := decodeJSON(body, &cs); err != nil || cs.Filter == nil {
			return nil, errParsing("[constant_score] requires a 'filter' element")
		}
		return b.build(cs.Filter)
	case "ids":
		var ids struct {
			Values []string `json:"values"`
		}
		if err := decodeJSON(body, &ids); err != nil {
			return nil, errParsing("[ids] failed to parse field [values]")
		}
		return query.NewDocIDQuery(ids.Values), nil
	case "exists":
		var ex struct {
			Field string `json:"field"`
		}
		if err := decodeJSON(body, &ex); err != nil || ex.Field == "" {
			return nil, errParsing("[exists] must be provided with a [field]")
		}
		return b.exists(ex.Field), nil
	case "term", "match", "match_phrase", "prefix", "wildcard", "regexp", "fuzzy", "range", "terms":
		return b.fieldQuery(name, body)
	case "multi_match":
		return b.multiMatch(body)
	case "query_string", "simple_query_string":
		return b.queryString(name, body)
	}
	return nil, unknownQuery(name)
}

func boostOf(body json.RawMessage) (float64, bool) {
	var v struct {
		Boost *float64 `json:"boost"`
	}
	if json.Unmarshal(body, &v) != nil || v.Boost == nil {
		return 0, false
	}
	return *v.Boost, true
}

// clauses reads a bool clause, which may be one query object or an array.
func (b *queryBuilder) clauses(raw json.RawMessage) ([]query.Query, *esError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []json.RawMessage
	if raw[0] == '[' {
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, errParsing("[bool] failed to parse clause list")
		}
	} else {
		list = []json.RawMessage{raw}
	}
	out := make([]query.Query, 0, len(list))
	for _, item := range list {
		q, e := b.build(item)
		if e != nil {
			return nil, e
		}
		out = append(out, q)
	}
	return out, nil
}

// boolQuery builds an ES bool. Clauses that can match nothing are resolved
// here: bleve ignores a match-none "must", which would turn "must match
// nothing" into "match everything".
func (b *queryBuilder) boolQuery(body json.RawMessage) (query.Query, *esError) {
	var raw map[string]json.RawMessage
	if err := decodeJSON(body, &raw); err != nil {
		return nil, errParsing("[bool] malformed query")
	}
	var must, should, mustNot, filter []query.Query
	var msm json.RawMessage
	for key, v := range raw {
		var e *esError
		switch key {
		case "must":
			must, e = b.clauses(v)
		case "should":
			should, e = b.clauses(v)
		case "must_not":
			mustNot, e = b.clauses(v)
		case "filter":
			filter, e = b.clauses(v)
		case "minimum_should_match":
			msm = v
		case "boost", "_name", "adjust_pure_negative":
		default:
			e = errParsing("[bool] query does not support [%s]", key)
		}
		if e != nil {
			return nil, e
		}
	}
	minShould := -1
	if msm != nil {
		n, e := minimumShouldMatch(msm, len(should))
		if e != nil {
			return nil, e
		}
		minShould = n
	}
	q := combineBool(must, filter, should, mustNot, minShould)
	if boost, ok := boostOf(body); ok {
		if bq, ok := q.(*query.BooleanQuery); ok {
			bq.SetBoost(boost)
		}
	}
	return q, nil
}

// combineBool assembles a bool query with ES semantics. minShould < 0 means
// ES's default: 1 when there is no must or filter clause, else 0. Clauses that
// can match nothing are resolved here, because bleve ignores a match-none
// "must", which would turn "must match nothing" into "match everything".
func combineBool(must, filter, should, mustNot []query.Query, minShould int) query.Query {
	for _, q := range append(append([]query.Query{}, must...), filter...) {
		if isNone(q) {
			return none()
		}
	}
	if minShould < 0 {
		minShould = 0
		if len(should) > 0 && len(must) == 0 && len(filter) == 0 {
			minShould = 1
		}
	}
	var liveShould, liveNot []query.Query
	for _, q := range should {
		if !isNone(q) {
			liveShould = append(liveShould, q)
		}
	}
	for _, q := range mustNot {
		if !isNone(q) {
			liveNot = append(liveNot, q)
		}
	}
	if minShould > len(liveShould) {
		return none()
	}
	if len(must)+len(filter)+len(liveShould)+len(liveNot) == 0 {
		return query.NewMatchAllQuery()
	}
	if len(must) == 1 && len(filter)+len(liveShould)+len(liveNot) == 0 {
		return must[0]
	}
	bq := query.NewBooleanQuery(must, liveShould, liveNot)
	if len(liveShould) > 0 {
		bq.SetMinShould(float64(minShould))
	}
	if len(filter) == 1 {
		bq.AddFilter(filter[0])
	} else if len(filter) > 1 {
		bq.AddFilter(query.NewConjunctionQuery(filter))
	}
	return bq
}

// minimumShouldMatch supports integers, negative integers and percentages.
func minimumShouldMatch(raw json.RawMessage, n int) (int, *esError) {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if strings.ContainsAny(s, "< ") {
		return 0, errBadRequest("combined minimum_should_match [%s] is not supported by the emulator", s)
	}
	var v int
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		p, err := strconv.Atoi(pct)
		if err != nil {
			return 0, errBadRequest("Invalid minimum_should_match [%s]", s)
		}
		v = int(math.Floor(float64(n) * float64(abs(p)) / 100))
		if p < 0 {
			v = n - v
		}
	} else {
		i, err := strconv.Atoi(s)
		if err != nil {
			return 0, errBadRequest("Invalid minimum_should_match [%s]", s)
		}
		v = i
		if i < 0 {
			v = n + i
		}
	}
	return max(0, min(v, n)), nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func (b *queryBuilder) multiMatch(body json.RawMessage) (query.Query, *esError) {
	var mm struct {
		Query    any      `json:"query"`
		Fields   []string `json:"fields"`
		Type     string   `json:"type"`
		Operator string   `json:"operator"`
		Lenient  *bool    `json:"lenient"`
	}
	if err := decodeJSON(body, &mm); err != nil || mm.Query == nil {
		return nil, errParsing("[multi_match] requires query value")
	}
	fields := b.expandFields(mm.Fields)
	var out []query.Query
	for _, f := range fields {
		var q query.Query
		var e *esError
		if mm.Type == "phrase" {
			q, e = b.phrase(f, scalarText(mm.Query))
		} else {
			q, e = b.match(f, mm.Query, mm.Operator, nil, "", true)
		}
		if e != nil {
			return nil, e
		}
		if !isNone(q) {
			out = append(out, q)
		}
	}
	if len(out) == 0 {
		return none(), nil
	}
	return query.NewDisjunctionQuery(out), nil
}

// expandFields resolves field patterns ("host.*", "message^2") against the
// mapping; an empty list means every searchable field, ES's default "*".
func (b *queryBuilder) expandFields(patterns []string) []string {
	if len(patterns) == 0 {
		patterns = []string{"*"}
	}
	var out []string
	seen := map[string]bool{}
	leaves := b.m.leafPaths()
	for _, p := range patterns {
		p, _, _ = strings.Cut(p, "^") // boosts are accepted and ignored
		if !strings.Contains(p, "*") {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
			continue
		}
		for _, l := range leaves {
			if matchPattern(p, l) && !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
	}
	return out
}

// exists matches documents with a value in the field, or in any sub-field of
// an object, through the _field_names field the parser fills as ES does.
func (b *queryBuilder) exists(field string) query.Query {
	if !strings.Contains(field, "*") {
		q := query.NewTermQuery(field)
		q.SetField(fieldNamesName)
		return q
	}
	var out []query.Query
	for _, f := range b.expandFields([]string{field}) {
		q := query.NewTermQuery(f)
		q.SetField(fieldNamesName)
		out = append(out, q)
	}
	if len(out) == 0 {
		return none()
	}
	return query.NewDisjunctionQuery(out)
}
