package esemu

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"time"
)

// maxAggDocs bounds the documents an aggregation reads: the emulator
// aggregates over the matching sources in memory, not over doc values.
const maxAggDocs = 1_000_000

// aggSpec is one parsed aggregation with its sub-aggregations.
type aggSpec struct {
	name        string
	kind        string
	field       string
	fm          *fieldMapping
	size        int
	minDocCount int
	orderKey    string // "_count" or "_key"
	orderDesc   bool
	interval    float64 // histogram
	calendar    string  // date_histogram calendar unit: m h d w M q y
	fixed       time.Duration
	subs        []*aggSpec
}

var metricAggs = map[string]bool{"avg": true, "min": true, "max": true, "sum": true, "value_count": true, "cardinality": true, "stats": true}

// parseAggs reads an "aggs" object. Aggregations on text fields fail as in ES.
func parseAggs(raw json.RawMessage, m *mappings) ([]*aggSpec, *esError) {
	var named map[string]map[string]json.RawMessage
	if err := decodeJSON(raw, &named); err != nil {
		return nil, errParsing("Expected [START_OBJECT] under [aggs]")
	}
	var out []*aggSpec
	for _, name := range sortedKeys(named) {
		body := named[name]
		a := &aggSpec{name: name}
		for key, v := range body {
			switch key {
			case "aggs", "aggregations":
				subs, e := parseAggs(v, m)
				if e != nil {
					return nil, e
				}
				a.subs = subs
			case "meta":
			default:
				if a.kind != "" {
					return nil, errParsing("Found two aggregation type definitions in [%s]: [%s] and [%s]", name, a.kind, key)
				}
				a.kind = key
				if e := a.parseParams(v, m); e != nil {
					return nil, e
				}
			}
		}
		if a.kind == "" {
			return nil, errParsing("Missing definition for aggregation [%s]", name)
		}
		if metricAggs[a.kind] && len(a.subs) > 0 {
			return nil, errParsing("Aggregator [%s] of type [%s] cannot accept sub-aggregations", name, a.kind)
		}
		out = append(out, a)
	}
	return out, nil
}

func (a *aggSpec) parseParams(raw json.RawMessage, m *mappings) *esError {
	var p struct {
		Field            string          `json:"field"`
		Size             *int            `json:"size"`
		MinDocCount      *int            `json:"min_doc_count"`
		Order            json.RawMessage `json:"order"`
		Interval         any             `json:"interval"`
		CalendarInterval string          `json:"calendar_interval"`
		FixedInterval    string          `json:"fixed_interval"`
	}
	if err := decodeJSON(raw, &p); err != nil {
		return errParsing("[%s] failed to parse aggregation [%s]: %v", a.kind, a.name, err)
	}
	switch a.kind {
	case "terms", "date_histogram", "histogram":
	default:
		if !metricAggs[a.kind] {
			return errBadRequest("aggregation type [%s] is not supported by the emulator", a.kind)
		}
	}
	if p.Field == "" {
		return errBadRequest("Required one of fields [field, script], but none were specified.")
	}
	a.field, a.fm = p.Field, m.lookup(p.Field)
	if a.fm != nil && a.fm.family() == "text" {
		return sortFailure(errBadRequest("Text fields are not optimised for operations that require per-document field data like "+
			"aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. "+
			"Alternatively, set fielddata=true on [%s] in order to load field data by uninverting the inverted index. "+
			"Note that this can use significant memory.", p.Field))
	}
	a.size, a.orderKey, a.orderDesc = 10, "_count", true
	if p.Size != nil {
		a.size = *p.Size
	}
	switch a.kind {
	case "terms":
		a.minDocCount = 1
	case "date_histogram", "histogram":
		a.orderKey, a.orderDesc = "_key", false
	}
	if p.MinDocCount != nil {
		a.minDocCount = *p.MinDocCount
	}
	if len(p.Order) > 0 {
		var order map[string]string
		if err := json.Unmarshal(p.Order, &order); err != nil || len(order) != 1 {
			return errBadRequest("[%s] order must be one of {\"_count\"|\"_key\": \"asc\"|\"desc\"} in the emulator", a.name)
		}
		for k, v := range order {
			if k != "_count" && k != "_key" {
				return errBadRequest("ordering by [%s] is not supported by the emulator", k)
			}
			a.orderKey, a.orderDesc = k, v == "desc"
		}
	}
	switch a.kind {
	case "histogram":
		f, err := json.Number(scalarText(p.Interval)).Float64()
		if err != nil || f <= 0 {
			return errBadRequest("[interval] must be >0 for histogram aggregation [%s]", a.name)
		}
		a.interval = f
	case "date_histogram":
		return a.parseDateInterval(p.CalendarInterval, p.FixedInterval, scalarText(p.Interval))
	}
	return nil
}

var calendarUnits = map[string]string{
	"minute": "m", "1m": "m", "hour": "h", "1h": "h", "day": "d", "1d": "d", "week": "w", "1w": "w",
	"month": "M", "1M": "M", "quarter": "q", "1q": "q", "year": "y", "1y": "y",
}

func (a *aggSpec) parseDateInterval(calendar, fixed, legacy string) *esError {
	switch {
	case calendar != "":
		unit, ok := calendarUnits[calendar]
		if !ok {
			return errBadRequest("The supplied interval [%s] could not be parsed as a calendar interval.", calendar)
		}
		a.calendar = unit
	case fixed != "":
		d, err := parseTimeValue(fixed)
		if err != nil || d <= 0 {
			return errBadRequest("failed to parse setting [date_histogram.fixedInterval] with value [%s] as a time value", fixed)
		}
		a.fixed = d
	case legacy != "" && legacy != "<nil>":
		if unit, ok := calendarUnits[legacy]; ok {
			a.calendar = unit
		} else if d, err := parseTimeValue(legacy); err == nil && d > 0 {
			a.fixed = d
		} else {
			return errBadRequest("Unable to parse interval [%s]", legacy)
		}
	default:
		return errBadRequest("Invalid interval specified, must be non-null and non-empty")
	}
	return nil
}

// aggValue is one field value of a document, normalised for bucketing.
type aggValue struct {
	num  float64
	str  string
	isNb bool
}

// values extracts a field's values from a source as the aggregation sees
// them: only values the field would index.
func (a *aggSpec) values(doc map[string]any) []aggValue {
	if a.fm == nil {
		return nil
	}
	var out []aggValue
	for _, v := range lookupPath(doc, a.field) {
		switch a.fm.family() {
		case "keyword", "ip":
			s := scalarText(v)
			if a.fm.IgnoreAbove > 0 && len([]rune(s)) > a.fm.IgnoreAbove {
				continue
			}
			out = append(out, aggValue{str: s})
		case "integer", "float":
			n, e := parseFloat(v, a.fm)
			if e == nil {
				if a.fm.family() == "integer" {
					n = math.Trunc(n)
				}
				out = append(out, aggValue{num: n, isNb: true})
			}
		case "date":
			t, err := parseDate(scalarText(v), a.fm.Format)
			if err == nil {
				out = append(out, aggValue{num: float64(t.UnixMilli()), isNb: true})
			}
		case "boolean":
			b, e := parseBool(v)
			if e == nil {
				out = append(out, aggValue{num: map[bool]float64{true: 1, false: 0}[b], isNb: true})
			}
		}
	}
	return out
}

// compute renders the aggregations over docs.
func computeAggs(specs []*aggSpec, docs []map[string]any) map[string]any {
	out := map[string]any{}
	for _, a := range specs {
		if metricAggs[a.kind] {
			out[a.name] = a.metric(docs)
		} else {
			out[a.name] = a.buckets(docs)
		}
	}
	return out
}

func (a *aggSpec) metric(docs []map[string]any) map[string]any {
	var count int
	var sum float64
	lo, hi := math.Inf(1), math.Inf(-1)
	distinct := map[aggValue]bool{}
	for _, d := range docs {
		for _, v := range a.values(d) {
			count++
			distinct[v] = true
			if v.isNb {
				sum += v.num
				lo, hi = math.Min(lo, v.num), math.Max(hi, v.num)
			}
		}
	}
	nullable := func(ok bool, v float64) any {
		if !ok {
			return nil
		}
		return v
	}
	numeric := a.fm != nil && a.fm.family() != "keyword" && a.fm.family() != "ip"
	switch a.kind {
	case "value_count":
		return map[string]any{"value": count}
	case "cardinality":
		return map[string]any{"value": len(distinct)}
	case "sum":
		return map[string]any{"value": sum}
	case "avg":
		return map[string]any{"value": nullable(count > 0 && numeric, sum/float64(count))}
	case "min", "max":
		v := lo
		if a.kind == "max" {
			v = hi
		}
		res := map[string]any{"value": nullable(count > 0 && numeric, v)}
		if count > 0 && a.fm.family() == "date" {
			res["value_as_string"] = formatMillis(int64(v))
		}
		return res
	}
	stats := map[string]any{"count": count, "min": nullable(count > 0, lo), "max": nullable(count > 0, hi),
		"avg": nullable(count > 0, sum/float64(max(count, 1))), "sum": sum}
	return stats
}

func formatMillis(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

type bucket struct {
	key   aggValue
	docs  []map[string]any
	count int
}

func (a *aggSpec) bucketKey(v aggValue) aggValue {
	switch a.kind {
	case "histogram":
		return aggValue{num: math.Floor(v.num/a.interval) * a.interval, isNb: true}
	case "date_histogram":
		t := time.UnixMilli(int64(v.num)).UTC()
		if a.fixed > 0 {
			ms := a.fixed.Milliseconds()
			return aggValue{num: float64(int64(math.Floor(v.num/float64(ms))) * ms), isNb: true}
		}
		unit := a.calendar
		if unit == "q" {
			t = time.Date(t.Year(), time.Month((int(t.Month())-1)/3*3+1), 1, 0, 0, 0, 0, time.UTC)
			return aggValue{num: float64(t.UnixMilli()), isNb: true}
		}
		start, _ := roundUnit(t, unit[0], false)
		return aggValue{num: float64(start.UnixMilli()), isNb: true}
	}
	return v
}

// nextKey is the key after k, for filling empty histogram buckets.
func (a *aggSpec) nextKey(k float64) float64 {
	if a.kind == "histogram" {
		return k + a.interval
	}
	if a.fixed > 0 {
		return k + float64(a.fixed.Milliseconds())
	}
	t := time.UnixMilli(int64(k)).UTC()
	switch a.calendar {
	case "q":
		t = t.AddDate(0, 3, 0)
	default:
		t, _ = addUnit(t, a.calendar[0], 1)
	}
	return float64(t.UnixMilli())
}

func (a *aggSpec) buckets(docs []map[string]any) map[string]any {
	byKey := map[aggValue]*bucket{}
	for _, d := range docs {
		seen := map[aggValue]bool{}
		for _, v := range a.values(d) {
			k := a.bucketKey(v)
			if seen[k] {
				continue // a document counts once per bucket
			}
			seen[k] = true
			b := byKey[k]
			if b == nil {
				b = &bucket{key: k}
				byKey[k] = b
			}
			b.docs = append(b.docs, d)
			b.count++
		}
	}
	list := make([]*bucket, 0, len(byKey))
	for _, b := range byKey {
		list = append(list, b)
	}
	if a.kind != "terms" && a.minDocCount == 0 && len(list) > 0 {
		list = a.fillGaps(list)
	}
	sort.Slice(list, func(i, j int) bool { return a.less(list[i], list[j]) })
	var kept []*bucket
	other := 0
	for _, b := range list {
		if b.count < a.minDocCount {
			continue
		}
		if a.kind == "terms" && len(kept) >= a.size {
			other += b.count
			continue
		}
		kept = append(kept, b)
	}
	rendered := make([]map[string]any, 0, len(kept))
	for _, b := range kept {
		rendered = append(rendered, a.renderBucket(b))
	}
	res := map[string]any{"buckets": rendered}
	if a.kind == "terms" {
		res["doc_count_error_upper_bound"] = 0
		res["sum_other_doc_count"] = other
	}
	return res
}

func (a *aggSpec) fillGaps(list []*bucket) []*bucket {
	lo, hi := math.Inf(1), math.Inf(-1)
	have := map[float64]bool{}
	for _, b := range list {
		lo, hi = math.Min(lo, b.key.num), math.Max(hi, b.key.num)
		have[b.key.num] = true
	}
	for k := lo; k < hi && len(list) < 100_000; k = a.nextKey(k) {
		if !have[k] {
			list = append(list, &bucket{key: aggValue{num: k, isNb: true}})
		}
	}
	return list
}

func (a *aggSpec) less(x, y *bucket) bool {
	if a.orderKey == "_count" && x.count != y.count {
		return (x.count > y.count) == a.orderDesc
	}
	keyLess := x.key.str < y.key.str
	if x.key.isNb {
		keyLess = x.key.num < y.key.num
	}
	if a.orderKey == "_key" && a.orderDesc {
		return !keyLess && x.key != y.key
	}
	return keyLess
}

func (a *aggSpec) renderBucket(b *bucket) map[string]any {
	out := computeAggs(a.subs, b.docs)
	out["doc_count"] = b.count
	switch {
	case !b.key.isNb:
		out["key"] = b.key.str
	case a.fm.family() == "date":
		out["key"] = int64(b.key.num)
		out["key_as_string"] = formatMillis(int64(b.key.num))
	case a.fm.family() == "boolean":
		out["key"] = int64(b.key.num)
		out["key_as_string"] = fmt.Sprint(b.key.num == 1)
	case a.fm.family() == "integer" && a.kind != "histogram":
		out["key"] = int64(b.key.num)
	default:
		out["key"] = b.key.num
	}
	return out
}

// aggregationDocs loads the sources of every matching document.
func aggregationDocs(total uint64, fetch func(size int) ([]string, error)) ([]map[string]any, *esError) {
	if total > maxAggDocs {
		return nil, errBadRequest("aggregations over more than %d documents are not supported by the emulator", maxAggDocs)
	}
	sources, err := fetch(int(total))
	if err != nil {
		return nil, newError(http.StatusInternalServerError, "exception", "load documents for aggregations: %v", err)
	}
	docs := make([]map[string]any, 0, len(sources))
	for _, s := range sources {
		if d, e := decodeObject([]byte(s)); e == nil {
			docs = append(docs, d)
		}
	}
	return docs, nil
}
