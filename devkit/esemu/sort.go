package esemu

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"strings"

	"github.com/blevesearch/bleve/v2/search"
)

// sortKey is one entry of an ES sort specification.
type sortKey struct {
	field        string // a field path, _score, _doc or _id
	desc         bool
	missingFirst bool
	family       string // mapping family of field, "" for special keys
	format       string // date format, for rendering sort values
}

// parseSort accepts the URL form (sort=a:desc,b) and the body forms: a
// string, an object, or an array of either.
func parseSort(param string, raw json.RawMessage, m *mappings) ([]sortKey, *esError) {
	type spec struct {
		field string
		opts  map[string]any
	}
	var specs []spec
	if param != "" {
		for _, part := range strings.Split(param, ",") {
			f, dir, _ := strings.Cut(part, ":")
			specs = append(specs, spec{f, map[string]any{"order": dir}})
		}
	} else if len(bytes.TrimSpace(raw)) > 0 {
		var items []any
		var one any
		if err := decodeJSON(raw, &one); err != nil {
			return nil, errParsing("[sort] malformed")
		}
		if list, ok := one.([]any); ok {
			items = list
		} else {
			items = []any{one}
		}
		for _, it := range items {
			switch x := it.(type) {
			case string:
				specs = append(specs, spec{x, nil})
			case map[string]any:
				for f, v := range x {
					switch o := v.(type) {
					case string:
						specs = append(specs, spec{f, map[string]any{"order": o}})
					case map[string]any:
						specs = append(specs, spec{f, o})
					default:
						return nil, errParsing("[sort] malformed sort for field [%s]", f)
					}
				}
			default:
				return nil, errParsing("[sort] malformed")
			}
		}
	}
	keys := make([]sortKey, 0, len(specs))
	for _, sp := range specs {
		k := sortKey{field: sp.field, desc: sp.field == "_score"}
		switch order, _ := sp.opts["order"].(string); order {
		case "desc":
			k.desc = true
		case "asc":
			k.desc = false
		case "":
		default:
			return nil, errParsing("[sort] unknown order [%s]", order)
		}
		k.missingFirst = sp.opts["missing"] == "_first"
		switch sp.field {
		case "_score", "_doc", "_id":
		default:
			f := m.lookup(sp.field)
			if f == nil || f.isObject() {
				if _, ok := sp.opts["unmapped_type"]; ok {
					k.family = "unmapped"
					break
				}
				return nil, sortFailure(newError(http.StatusBadRequest, "query_shard_exception", "No mapping found for [%s] in order to sort on", sp.field))
			}
			if f.family() == "text" {
				return nil, sortFailure(errBadRequest("Text fields are not optimised for operations that require per-document field data like "+
					"aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. "+
					"Alternatively, set fielddata=true on [%s] in order to load field data by uninverting the inverted index. "+
					"Note that this can use significant memory.", sp.field))
			}
			k.family, k.format = f.family(), f.Format
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func sortFailure(cause *esError) *esError {
	return newError(http.StatusBadRequest, "search_phase_execution_exception", "all shards failed").causedBy(cause)
}

// bleveSort maps sort keys to bleve's; _doc becomes the stored sequence
// number, which follows indexing order as Lucene's doc ids do. Final _seq_no
// and _id keys make ties deterministic, also across indices.
func bleveSort(keys []sortKey) search.SortOrder {
	var out search.SortOrder
	for _, k := range keys {
		switch k.field {
		case "_score":
			out = append(out, &search.SortScore{Desc: k.desc})
		case "_id":
			out = append(out, &search.SortDocID{Desc: k.desc})
		case "_doc":
			out = append(out, &search.SortField{Field: seqNoField, Desc: k.desc, Type: search.SortFieldAsNumber})
		default:
			sf := &search.SortField{Field: k.field, Desc: k.desc, Mode: search.SortFieldMin}
			if k.desc {
				sf.Mode = search.SortFieldMax // ES sorts multi-valued fields by min ascending, max descending
			}
			if k.missingFirst {
				sf.Missing = search.SortFieldMissingFirst
			}
			switch k.family {
			case "integer", "float":
				sf.Type = search.SortFieldAsNumber
			case "date":
				sf.Type = search.SortFieldAsDate
			default:
				sf.Type = search.SortFieldAsString
			}
			out = append(out, sf)
		}
	}
	if len(keys) == 0 {
		out = append(out, &search.SortScore{Desc: true})
	}
	return append(out, &search.SortField{Field: seqNoField, Type: search.SortFieldAsNumber}, &search.SortDocID{})
}

// sortValues renders a hit's sort values as ES does: dates as epoch
// milliseconds, numbers as numbers, keywords as strings. They are taken from
// the source, which holds exactly what was indexed.
func sortValues(keys []sortKey, h *search.DocumentMatch, src []byte, m *mappings) []any {
	var doc map[string]any
	out := make([]any, len(keys))
	for i, k := range keys {
		switch k.field {
		case "_score":
			out[i] = roundScore(h.Score)
			continue
		case "_id":
			out[i] = h.ID
			continue
		case "_doc":
			out[i] = toInt(h.Fields[seqNoField])
			continue
		}
		if doc == nil {
			doc, _ = decodeObject(src)
		}
		out[i] = sortValue(k, lookupPath(doc, k.field))
	}
	return out
}

func sortValue(k sortKey, vals []any) any {
	var best any
	for _, v := range vals {
		var cur any
		switch k.family {
		case "integer", "float":
			n, e := parseFloat(v, &fieldMapping{Type: "double"})
			if e != nil {
				continue
			}
			if k.family == "integer" {
				cur = int64(n)
			} else {
				cur = n
			}
		case "date":
			t, err := parseDate(scalarText(v), k.format)
			if err != nil {
				continue
			}
			cur = epochMillis(t)
		case "boolean":
			b, e := parseBool(v)
			if e != nil {
				continue
			}
			cur = map[bool]int{true: 1, false: 0}[b]
		default:
			cur = scalarText(v)
		}
		if best == nil || less(cur, best) != k.desc {
			best = cur
		}
	}
	if best != nil {
		return best
	}
	// ES reports a missing value as the extreme of the sort direction.
	switch k.family {
	case "integer", "date", "boolean":
		if k.desc != k.missingFirst {
			return int64(math.MinInt64)
		}
		return int64(math.MaxInt64)
	case "float":
		if k.desc != k.missingFirst {
			return math.Inf(-1)
		}
		return math.Inf(1)
	}
	return nil
}

func less(a, b any) bool {
	switch x := a.(type) {
	case int64:
		return x < b.(int64)
	case int:
		return x < b.(int)
	case float64:
		return x < b.(float64)
	case string:
		return x < b.(string)
	}
	return false
}

// lookupPath collects the values at a dotted path, through arrays and
// dotted keys, flattening arrays as ES does.
func lookupPath(doc map[string]any, path string) []any {
	var out []any
	var walk func(v any, rest string)
	walk = func(v any, rest string) {
		if arr, ok := v.([]any); ok {
			for _, el := range arr {
				walk(el, rest)
			}
			return
		}
		if rest == "" {
			if v != nil {
				out = append(out, v)
			}
			return
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return
		}
		for k, sub := range obj {
			if k == rest {
				walk(sub, "")
			} else if strings.HasPrefix(rest, k+".") {
				walk(sub, rest[len(k)+1:])
			}
		}
	}
	walk(doc, path)
	return out
}
