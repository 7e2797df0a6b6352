package esemu

import (
	"encoding/json"
	"net/url"
	"strings"
)

// sourceFilter is the _source option of a search: on/off, includes, excludes.
type sourceFilter struct {
	enabled  bool
	includes []string
	excludes []string
}

func parseSourceFilter(q url.Values, raw json.RawMessage) (sourceFilter, *esError) {
	f := sourceFilter{enabled: true}
	if v := q.Get("_source"); v != "" {
		switch v {
		case "true":
		case "false":
			f.enabled = false
		default:
			f.includes = strings.Split(v, ",")
		}
	} else if len(raw) > 0 {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return f, errParsing("[_source] malformed")
		}
		switch x := v.(type) {
		case bool:
			f.enabled = x
		case string:
			f.includes = []string{x}
		case []any:
			f.includes = toStrings(x)
		case map[string]any:
			for _, k := range []string{"includes", "include"} {
				f.includes = append(f.includes, anyStrings(x[k])...)
			}
			for _, k := range []string{"excludes", "exclude"} {
				f.excludes = append(f.excludes, anyStrings(x[k])...)
			}
		}
	}
	if v := q.Get("_source_includes"); v != "" {
		f.includes = strings.Split(v, ",")
	}
	if v := q.Get("_source_excludes"); v != "" {
		f.excludes = strings.Split(v, ",")
	}
	return f, nil
}

func anyStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		return toStrings(x)
	}
	return nil
}

func toStrings(xs []any) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// apply returns the source, filtered when includes or excludes are set; the
// original bytes are returned untouched otherwise.
func (f sourceFilter) apply(src []byte) json.RawMessage {
	if len(f.includes) == 0 && len(f.excludes) == 0 {
		return src
	}
	doc, e := decodeObject(src)
	if e != nil {
		return src
	}
	out, err := json.Marshal(f.filter(doc, ""))
	if err != nil {
		return src
	}
	return out
}

func (f sourceFilter) filter(obj map[string]any, prefix string) map[string]any {
	out := map[string]any{}
	for k, v := range obj {
		path := prefix + k
		if anyMatch(f.excludes, path) {
			continue
		}
		if sub, ok := v.(map[string]any); ok && !f.included(path) {
			if inner := f.filter(sub, path+"."); len(inner) > 0 {
				out[k] = inner
			}
			continue
		}
		if f.included(path) {
			out[k] = v
		}
	}
	return out
}

// included reports whether path, or an object above it, is included.
func (f sourceFilter) included(path string) bool {
	if len(f.includes) == 0 {
		return true
	}
	for _, inc := range f.includes {
		if matchPattern(inc, path) || strings.HasPrefix(path, inc+".") {
			return true
		}
	}
	return false
}
