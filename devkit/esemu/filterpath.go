package esemu

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// shapeResponse applies the generic response parameters ES honours on every
// API: filter_path (keep only matching keys) and pretty.
func shapeResponse(r *http.Request, body []byte) []byte {
	q := r.URL.Query()
	filter := q.Get("filter_path")
	pretty := q.Has("pretty")
	if filter == "" && !pretty {
		return body
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return body
	}
	if filter != "" {
		var include, exclude [][]string
		for _, p := range strings.Split(filter, ",") {
			p = strings.TrimSpace(p)
			if rest, ok := strings.CutPrefix(p, "-"); ok {
				exclude = append(exclude, strings.Split(rest, "."))
			} else if p != "" {
				include = append(include, strings.Split(p, "."))
			}
		}
		if len(include) > 0 {
			kept, ok := filterInclude(v, include)
			if !ok {
				kept = map[string]any{}
			}
			v = kept
		}
		if len(exclude) > 0 {
			v = filterExclude(v, exclude)
		}
	}
	var out []byte
	var err error
	if pretty {
		out, err = json.MarshalIndent(v, "", "  ")
	} else {
		out, err = json.Marshal(v)
	}
	if err != nil {
		return body
	}
	return append(out, '\n')
}

// advance returns the patterns that remain after matching key; "**" may
// match any number of keys.
func advance(patterns [][]string, key string) (next [][]string, whole bool) {
	for _, p := range patterns {
		if len(p) == 0 {
			continue
		}
		if p[0] == "**" {
			next = append(next, p) // ** keeps matching deeper
			if len(p) > 1 && matchPattern(p[1], key) {
				if len(p) == 2 {
					whole = true
				}
				next = append(next, p[2:])
			}
			continue
		}
		if matchPattern(p[0], key) {
			if len(p) == 1 {
				whole = true
			}
			next = append(next, p[1:])
		}
	}
	return next, whole
}

// filterInclude keeps the parts of v selected by the patterns; arrays are
// transparent, as in ES.
func filterInclude(v any, patterns [][]string) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, sub := range x {
			next, whole := advance(patterns, k)
			if whole {
				out[k] = sub
				continue
			}
			if len(next) == 0 {
				continue
			}
			if kept, ok := filterInclude(sub, next); ok {
				out[k] = kept
			}
		}
		return out, len(out) > 0
	case []any:
		var out []any
		for _, el := range x {
			if kept, ok := filterInclude(el, patterns); ok {
				out = append(out, kept)
			}
		}
		return out, len(out) > 0
	}
	return nil, false
}

func filterExclude(v any, patterns [][]string) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, sub := range x {
			next, whole := advance(patterns, k)
			if whole {
				continue
			}
			if len(next) > 0 {
				sub = filterExclude(sub, next)
			}
			out[k] = sub
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = filterExclude(el, patterns)
		}
		return out
	}
	return v
}
