package esemu

import (
	"encoding/json"
	"strings"
)

// dynamicTemplate is one entry of "dynamic_templates". Only the matching
// conditions ES users reach for first are supported.
type dynamicTemplate struct {
	Match            string          `json:"match,omitempty"`
	Unmatch          string          `json:"unmatch,omitempty"`
	PathMatch        string          `json:"path_match,omitempty"`
	PathUnmatch      string          `json:"path_unmatch,omitempty"`
	MatchMappingType string          `json:"match_mapping_type,omitempty"`
	Mapping          json.RawMessage `json:"mapping,omitempty"`
}

// defaultDynamicDateFormats are ES's dynamic_date_formats defaults.
var defaultDynamicDateFormats = []string{"strict_date_optional_time", "yyyy/MM/dd HH:mm:ss Z||yyyy/MM/dd Z"}

// dynamicField chooses the mapping of a field seen for the first time, using
// ES's rules: dynamic templates first, then detection by JSON type.
func (p *docParser) dynamicField(path string, value any) *fieldMapping {
	sample := value
	if arr, ok := value.([]any); ok {
		sample = nil
		for _, el := range arr {
			if el != nil {
				sample = el
				break
			}
		}
	}
	if sample == nil {
		return nil
	}
	m := p.current()
	kind := jsonKind(sample, m)
	if f := m.templateFor(path, kind); f != nil {
		return f
	}
	switch kind {
	case "object":
		return &fieldMapping{Properties: map[string]*fieldMapping{}}
	case "date":
		return &fieldMapping{Type: "date"}
	case "long":
		return &fieldMapping{Type: "long"}
	case "double":
		return &fieldMapping{Type: "float"}
	case "boolean":
		return &fieldMapping{Type: "boolean"}
	}
	return &fieldMapping{Type: "text", Fields: map[string]*fieldMapping{
		"keyword": {Type: "keyword", IgnoreAbove: 256},
	}}
}

// jsonKind names a value the way match_mapping_type does.
func jsonKind(v any, m *mappings) string {
	switch x := v.(type) {
	case map[string]any:
		return "object"
	case bool:
		return "boolean"
	case json.Number:
		if strings.ContainsAny(x.String(), ".eE") {
			return "double"
		}
		return "long"
	case string:
		if m.DateDetection == nil || *m.DateDetection {
			for _, f := range defaultDynamicDateFormats {
				if _, err := parseDate(x, f); err == nil {
					return "date"
				}
			}
		}
		if m.NumericDetection != nil && *m.NumericDetection {
			if _, err := json.Number(x).Int64(); err == nil {
				return "long"
			}
			if _, err := json.Number(x).Float64(); err == nil {
				return "double"
			}
		}
	}
	return "string"
}

// templateFor returns the mapping of the first dynamic template that matches.
func (m *mappings) templateFor(path, kind string) *fieldMapping {
	name := path[strings.LastIndexByte(path, '.')+1:]
	for _, entry := range m.DynamicTemplates {
		for _, t := range entry {
			if t.MatchMappingType != "" && t.MatchMappingType != "*" && t.MatchMappingType != kind {
				continue
			}
			if t.Match != "" && !matchPattern(t.Match, name) || t.Unmatch != "" && matchPattern(t.Unmatch, name) {
				continue
			}
			if t.PathMatch != "" && !matchPattern(t.PathMatch, path) || t.PathUnmatch != "" && matchPattern(t.PathUnmatch, path) {
				continue
			}
			dynType := kind
			if kind == "string" {
				dynType = "text"
			}
			raw := strings.NewReplacer("{dynamic_type}", dynType, "{name}", name).Replace(string(t.Mapping))
			var f fieldMapping
			if err := json.Unmarshal([]byte(raw), &f); err != nil || (!f.isObject() && leafTypes[f.Type] == "") {
				continue
			}
			if f.Type == "" && kind != "object" {
				f.Type = map[string]string{"string": "text", "long": "long", "double": "float", "boolean": "boolean", "date": "date"}[kind]
			}
			return &f
		}
	}
	return nil
}
