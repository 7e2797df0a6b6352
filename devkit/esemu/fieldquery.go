package esemu

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2/search/query"
)

// fieldQueryParams are the options of the single-field queries; each query
// type reads the ones it knows.
type fieldQueryParams struct {
	Query              any             `json:"query"`
	Value              any             `json:"value"`
	Operator           string          `json:"operator"`
	MinimumShouldMatch json.RawMessage `json:"minimum_should_match"`
	Fuzziness          any             `json:"fuzziness"`
	Lenient            bool            `json:"lenient"`
	ZeroTermsQuery     string          `json:"zero_terms_query"`
	Slop               int             `json:"slop"`
	CaseInsensitive    bool            `json:"case_insensitive"`
	Boost              *float64        `json:"boost"`
	GT                 any             `json:"gt"`
	GTE                any             `json:"gte"`
	LT                 any             `json:"lt"`
	LTE                any             `json:"lte"`
	From               any             `json:"from"`
	To                 any             `json:"to"`
	IncludeLower       *bool           `json:"include_lower"`
	IncludeUpper       *bool           `json:"include_upper"`
	Format             string          `json:"format"`
	TimeZone           string          `json:"time_zone"`
	Analyzer           string          `json:"analyzer"`
}

// fieldQuery handles {"<type>": {"<field>": <value or options>}}.
func (b *queryBuilder) fieldQuery(kind string, body json.RawMessage) (query.Query, *esError) {
	var obj map[string]json.RawMessage
	if err := decodeJSON(body, &obj); err != nil {
		return nil, errParsing("[%s] query malformed, no start_object after query name", kind)
	}
	delete(obj, "boost")
	delete(obj, "_name")
	if kind == "terms" {
		return b.terms(obj)
	}
	if len(obj) != 1 {
		keys := sortedKeys(obj)
		if len(keys) == 0 {
			return nil, errParsing("[%s] query doesn't have a field", kind)
		}
		return nil, errParsing("[%s] query doesn't support multiple fields, found [%s] and [%s]", kind, keys[0], keys[1])
	}
	var field string
	var raw json.RawMessage
	for field, raw = range obj {
	}
	var p fieldQueryParams
	var short any
	if err := decodeJSON(raw, &short); err != nil {
		return nil, errParsing("[%s] malformed query for field [%s]", kind, field)
	}
	if _, isObj := short.(map[string]any); isObj {
		if err := decodeJSON(raw, &p); err != nil {
			return nil, errParsing("[%s] malformed query for field [%s]: %v", kind, field, err)
		}
	} else if kind == "range" {
		return nil, errParsing("[range] query malformed, no start_object after query name")
	} else {
		p.Query, p.Value = short, short
	}
	value := p.Value
	if value == nil {
		value = p.Query
	}
	var q query.Query
	var e *esError
	switch kind {
	case "term":
		q, e = b.term(field, value, p.CaseInsensitive)
	case "match":
		q, e = b.match(field, value, p.Operator, p.MinimumShouldMatch, p.ZeroTermsQuery, p.Lenient)
		if e == nil && p.Fuzziness != nil && !isNone(q) {
			q, e = b.fuzzyMatch(field, scalarText(value), p.Fuzziness, p.Operator)
		}
	case "match_phrase":
		q, e = b.phrase(field, scalarText(value))
	case "prefix", "wildcard", "regexp", "fuzzy":
		q, e = b.pattern(kind, field, scalarText(value), p)
	case "range":
		q, e = b.rangeQuery(field, p)
	}
	if e != nil {
		return nil, e
	}
	if p.Boost != nil {
		if bq, ok := q.(query.BoostableQuery); ok {
			bq.SetBoost(*p.Boost)
		}
	}
	return q, nil
}

func (b *queryBuilder) terms(obj map[string]json.RawMessage) (query.Query, *esError) {
	if len(obj) != 1 {
		return nil, errParsing("[terms] query does not support multiple fields")
	}
	var out []query.Query
	for field, raw := range obj {
		var values []any
		if err := decodeJSON(raw, &values); err != nil {
			return nil, errParsing("[terms] query does not support [%s]", field)
		}
		for _, v := range values {
			q, e := b.term(field, v, false)
			if e != nil {
				return nil, e
			}
			if !isNone(q) {
				out = append(out, q)
			}
		}
	}
	if len(out) == 0 {
		return none(), nil
	}
	return query.NewDisjunctionQuery(out), nil
}

func failedToCreate(format string, args ...any) *esError {
	return newError(http.StatusBadRequest, "query_shard_exception", "failed to create query: "+format, args...)
}

// term is an exact-value query, typed by the field's mapping.
func (b *queryBuilder) term(field string, value any, caseInsensitive bool) (query.Query, *esError) {
	if field == "_id" {
		return query.NewDocIDQuery([]string{scalarText(value)}), nil
	}
	if field == "_index" {
		return query.NewMatchAllQuery(), nil // the target list already selects indices
	}
	f := b.m.lookup(field)
	if f == nil || f.isObject() {
		return none(), nil
	}
	switch f.family() {
	case "text", "keyword":
		s := scalarText(value)
		if caseInsensitive {
			q := query.NewRegexpQuery("(?i)" + regexpQuote(s))
			q.SetField(field)
			return q, nil
		}
		q := query.NewTermQuery(s)
		q.SetField(field)
		return q, nil
	case "integer", "float":
		n, e := parseFloat(value, f)
		if e != nil {
			return nil, failedToCreate("For input string: %q", scalarText(value))
		}
		if f.family() == "integer" && n != float64(int64(n)) {
			return none(), nil // a long never equals 1.5
		}
		return numericRange(field, &n, &n, true, true), nil
	case "date":
		t, err := parseDateMath(scalarText(value), f.Format, b.now, false, time.UTC)
		if err != nil {
			return nil, failedToCreate("%v", err)
		}
		t = t.Truncate(time.Millisecond)
		return dateRange(field, t, t.Add(time.Millisecond), true, false), nil
	case "boolean":
		v, e := parseBool(value)
		if e != nil {
			return nil, failedToCreate("%s", e.Reason)
		}
		q := query.NewTermQuery(map[bool]string{true: "T", false: "F"}[v])
		q.SetField(field)
		return q, nil
	case "ip":
		s := scalarText(value)
		if !strings.Contains(s, "/") {
			ip := net.ParseIP(s)
			if ip == nil {
				return nil, failedToCreate("'%s' is not an IP string literal.", s)
			}
			if ip.To4() != nil {
				s += "/32"
			} else {
				s += "/128"
			}
		}
		q := query.NewIPRangeQuery(s)
		q.SetField(field)
		return q, nil
	}
	return none(), nil
}

func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func numericRange(field string, lo, hi *float64, incLo, incHi bool) query.Query {
	q := query.NewNumericRangeInclusiveQuery(lo, hi, &incLo, &incHi)
	q.SetField(field)
	return q
}

func dateRange(field string, start, end time.Time, incStart, incEnd bool) query.Query {
	q := query.NewDateRangeInclusiveQuery(start, end, &incStart, &incEnd)
	q.SetField(field)
	return q
}

// analyze runs the standard analyzer, as ES does for text fields at query time.
func analyze(text string) []string {
	tokens := standardAnalyzer.Analyze([]byte(text))
	out := make([]string, len(tokens))
	for i, t := range tokens {
		out[i] = string(t.Term)
	}
	return out
}

// match analyzes the text for text fields and falls back to an exact term
// for every other type, as ES's match query does.
func (b *queryBuilder) match(field string, value any, operator string, msm json.RawMessage, zeroTerms string, lenient bool) (query.Query, *esError) {
	f := b.m.lookup(field)
	if f == nil || f.isObject() {
		return none(), nil
	}
	if f.family() != "text" {
		q, e := b.term(field, value, false)
		if e != nil && lenient {
			return none(), nil
		}
		return q, e
	}
	terms := analyze(scalarText(value))
	if len(terms) == 0 {
		if zeroTerms == "all" {
			return query.NewMatchAllQuery(), nil
		}
		return none(), nil
	}
	qs := make([]query.Query, len(terms))
	for i, t := range terms {
		tq := query.NewTermQuery(t)
		tq.SetField(field)
		qs[i] = tq
	}
	if len(qs) == 1 {
		return qs[0], nil
	}
	if strings.EqualFold(operator, "and") {
		return query.NewConjunctionQuery(qs), nil
	}
	d := query.NewDisjunctionQuery(qs)
	if msm != nil {
		n, e := minimumShouldMatch(msm, len(qs))
		if e != nil {
			return nil, e
		}
		d.SetMin(float64(max(n, 1)))
	}
	return d, nil
}

func (b *queryBuilder) fuzzyMatch(field, text string, fuzziness any, operator string) (query.Query, *esError) {
	var qs []query.Query
	for _, t := range analyze(text) {
		fq := query.NewFuzzyQuery(t)
		fq.SetField(field)
		fq.SetFuzziness(fuzzinessFor(fuzziness, t))
		qs = append(qs, fq)
	}
	if len(qs) == 0 {
		return none(), nil
	}
	if strings.EqualFold(operator, "and") {
		return query.NewConjunctionQuery(qs), nil
	}
	return query.NewDisjunctionQuery(qs), nil
}

// fuzzinessFor implements ES's AUTO (0 edits up to 2 chars, 1 up to 5, else 2).
func fuzzinessFor(f any, term string) int {
	s := strings.ToUpper(scalarText(f))
	if n, err := strconv.Atoi(s); err == nil {
		return min(n, 2)
	}
	switch n := len([]rune(term)); {
	case n <= 2:
		return 0
	case n <= 5:
		return 1
	}
	return 2
}

func (b *queryBuilder) phrase(field, text string) (query.Query, *esError) {
	f := b.m.lookup(field)
	if f == nil || f.isObject() {
		return none(), nil
	}
	if f.family() != "text" {
		return b.term(field, text, false)
	}
	terms := analyze(text)
	switch len(terms) {
	case 0:
		return none(), nil
	case 1:
		q := query.NewTermQuery(terms[0])
		q.SetField(field)
		return q, nil
	}
	return query.NewPhraseQuery(terms, field), nil
}

// pattern handles prefix, wildcard, regexp and fuzzy on the raw term, which
// ES does not analyze either.
func (b *queryBuilder) pattern(kind, field, value string, p fieldQueryParams) (query.Query, *esError) {
	f := b.m.lookup(field)
	if f == nil || f.isObject() {
		return none(), nil
	}
	if fam := f.family(); fam != "text" && fam != "keyword" {
		return nil, failedToCreate("Can only use %s queries on keyword and text fields - not on [%s] which is of type [%s]", kind, field, f.Type)
	}
	if p.CaseInsensitive && kind != "fuzzy" {
		re := regexpQuote(value)
		switch kind {
		case "prefix":
			re += ".*"
		case "wildcard":
			re = strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(re)
		case "regexp":
			re = value
		}
		q := query.NewRegexpQuery("(?i)" + re)
		q.SetField(field)
		return q, nil
	}
	switch kind {
	case "prefix":
		q := query.NewPrefixQuery(value)
		q.SetField(field)
		return q, nil
	case "wildcard":
		q := query.NewWildcardQuery(value)
		q.SetField(field)
		return q, nil
	case "regexp":
		q := query.NewRegexpQuery(value)
		q.SetField(field)
		return q, nil
	}
	q := query.NewFuzzyQuery(value)
	q.SetField(field)
	q.SetFuzziness(fuzzinessFor(p.Fuzziness, value))
	return q, nil
}

// rangeQuery supports gt/gte/lt/lte (and the older from/to form) on
// numbers, dates with date math and rounding, and strings.
func (b *queryBuilder) rangeQuery(field string, p fieldQueryParams) (query.Query, *esError) {
	lo, hi := p.GTE, p.LTE
	incLo, incHi := true, true
	if p.GT != nil {
		lo, incLo = p.GT, false
	}
	if p.LT != nil {
		hi, incHi = p.LT, false
	}
	if p.From != nil && lo == nil {
		lo, incLo = p.From, p.IncludeLower == nil || *p.IncludeLower
	}
	if p.To != nil && hi == nil {
		hi, incHi = p.To, p.IncludeUpper == nil || *p.IncludeUpper
	}
	return b.rangeOn(field, lo, hi, incLo, incHi, p.Format, p.TimeZone)
}

func (b *queryBuilder) rangeOn(field string, lo, hi any, incLo, incHi bool, format, tz string) (query.Query, *esError) {
	f := b.m.lookup(field)
	if f == nil || f.isObject() {
		return none(), nil
	}
	if lo == nil && hi == nil {
		return b.exists(field), nil // an unbounded range matches every value
	}
	switch f.family() {
	case "integer", "float":
		var lp, hp *float64
		for _, bound := range []struct {
			v   any
			dst **float64
		}{{lo, &lp}, {hi, &hp}} {
			if bound.v == nil {
				continue
			}
			n, e := parseFloat(bound.v, f)
			if e != nil {
				return nil, failedToCreate("For input string: %q", scalarText(bound.v))
			}
			*bound.dst = &n
		}
		return numericRange(field, lp, hp, incLo, incHi), nil
	case "date":
		loc := time.UTC
		if tz != "" {
			l, err := loadZone(tz)
			if err != nil {
				return nil, errBadRequest("unknown time zone [%s]", tz)
			}
			loc = l
		}
		if format == "" {
			format = f.Format
		}
		var start, end time.Time
		for _, bound := range []struct {
			v       any
			dst     *time.Time
			roundUp bool
		}{{lo, &start, !incLo}, {hi, &end, incHi}} {
			if bound.v == nil {
				continue
			}
			t, err := parseDateMath(scalarText(bound.v), format, b.now, bound.roundUp, loc)
			if err != nil {
				return nil, newError(http.StatusBadRequest, "parse_exception", "%v", err)
			}
			*bound.dst = t
		}
		// bleve treats a zero time as an open bound.
		return dateRange(field, start, end, incLo, incHi), nil
	case "ip", "boolean":
		return nil, failedToCreate("range queries on [%s] fields are not supported by the emulator", f.Type)
	}
	var ls, hs string
	if lo != nil {
		ls = scalarText(lo)
	}
	if hi != nil {
		hs = scalarText(hi)
	}
	q := query.NewTermRangeInclusiveQuery(ls, hs, &incLo, &incHi)
	q.SetField(field)
	return q, nil
}

// loadZone accepts offsets ("+01:00") and IANA names ("Europe/Paris").
func loadZone(tz string) (*time.Location, error) {
	if t, err := time.Parse("-07:00", tz); err == nil {
		_, off := t.Zone()
		return time.FixedZone(tz, off), nil
	}
	return time.LoadLocation(tz)
}
