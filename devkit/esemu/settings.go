package esemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// knownSettingPrefixes are the index settings the emulator accepts. ES
// rejects unknown settings, and so does the emulator, so that a template that
// would fail against ES fails here too.
var knownSettingPrefixes = []string{
	"index.number_of_shards", "index.number_of_replicas", "index.refresh_interval", "index.codec",
	"index.max_result_window", "index.mapping.", "index.lifecycle.", "index.hidden", "index.auto_expand_replicas",
	"index.translog.", "index.query.", "index.blocks.", "index.analysis.", "index.routing.", "index.priority",
	"index.max_inner_result_window", "index.sort.", "index.store.", "index.merge.", "index.search.",
	"index.indexing.", "index.unassigned.", "index.write.", "index.number_of_routing_shards",
	"index.default_pipeline", "index.final_pipeline", "index.format", "index.creation_date", "index.uuid",
	"index.version.", "index.provided_name", "index.gc_deletes", "index.max_terms_count",
	"index.max_docvalue_fields_search", "index.max_script_fields", "index.shard.", "index.similarity.",
	"index.highlight.", "index.requests.", "index.soft_deletes.", "index.frozen", "index.max_refresh_listeners",
}

// normalizeSettings flattens {"index":{"number_of_replicas":0}},
// {"number_of_replicas":"0"} and {"index.number_of_replicas":0} alike into
// "index.number_of_replicas" -> "0", which is how ES stores settings.
func normalizeSettings(raw map[string]any) (map[string]string, *esError) {
	out := map[string]string{}
	var walk func(prefix string, v any) *esError
	walk = func(prefix string, v any) *esError {
		if m, ok := v.(map[string]any); ok {
			for k, sub := range m {
				if e := walk(prefix+k+".", sub); e != nil {
					return e
				}
			}
			return nil
		}
		key := strings.TrimSuffix(prefix, ".")
		if !strings.HasPrefix(key, "index.") {
			key = "index." + key
		}
		if !knownSetting(key) {
			return errBadRequest("unknown setting [%s] please check that any required plugins are installed, "+
				"or check the breaking changes documentation for removed settings", key)
		}
		switch x := v.(type) {
		case string:
			out[key] = x
		case nil:
			delete(out, key)
		default:
			b, _ := json.Marshal(x)
			out[key] = strings.Trim(string(b), `"`)
		}
		return nil
	}
	for k, v := range raw {
		if e := walk(k+".", v); e != nil {
			return nil, e
		}
	}
	for _, k := range []string{"index.number_of_shards", "index.number_of_replicas"} {
		if v, ok := out[k]; ok {
			if n, err := strconv.Atoi(v); err != nil || n < 0 {
				return nil, errBadRequest("Failed to parse value [%s] for setting [%s] must be >= 0", v, k)
			}
		}
	}
	if v, ok := out["index.refresh_interval"]; ok && v != "-1" {
		if _, err := parseTimeValue(v); err != nil {
			return nil, errBadRequest("failed to parse setting [index.refresh_interval] with value [%s] as a time value: %v", v, err)
		}
	}
	return out, nil
}

func knownSetting(key string) bool {
	for _, p := range knownSettingPrefixes {
		if key == p || (strings.HasSuffix(p, ".") && strings.HasPrefix(key, p)) {
			return true
		}
	}
	return false
}

// nestSettings renders flat settings the way GET <index> shows them.
func nestSettings(flat map[string]string) map[string]any {
	out := map[string]any{}
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts := strings.Split(k, ".")
		node := out
		for _, p := range parts[:len(parts)-1] {
			next, ok := node[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[p] = next
			}
			node = next
		}
		node[parts[len(parts)-1]] = flat[k]
	}
	return out
}

// parseTimeValue parses ES time values such as "1s", "500ms", "2m".
func parseTimeValue(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"nanos", time.Nanosecond}, {"micros", time.Microsecond}, {"ms", time.Millisecond},
		{"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("parse time value %q: %w", s, err)
			}
			return time.Duration(n * float64(u.unit)), nil
		}
	}
	return 0, fmt.Errorf("parse time value %q: missing unit", s)
}

// decodeBody decodes a JSON request body into v, answering like ES when it is not JSON.
func decodeBody(body []byte, v any) *esError {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF):
			return newError(http.StatusBadRequest, "json_e_o_f_exception", "Unexpected end-of-input: %s", jsonErrText(err))
		case errors.As(err, &se):
			return newError(http.StatusBadRequest, "json_parse_exception", "%s", jsonErrText(err))
		}
		// Well-formed JSON of the wrong shape, which ES's object parsers report this way.
		return newError(http.StatusBadRequest, "x_content_parse_exception", "[1:1] %s", jsonErrText(err))
	}
	return nil
}
