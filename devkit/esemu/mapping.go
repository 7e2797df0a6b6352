package esemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// fieldMapping is one node of an Elasticsearch mapping: a leaf field, or an
// object with properties. It is kept separately from bleve's own mapping
// because ES semantics (coercion, ignore_above, date formats, rejections) are
// enforced by the emulator before a document ever reaches bleve.
type fieldMapping struct {
	Type            string                   `json:"type,omitempty"`
	Properties      map[string]*fieldMapping `json:"properties,omitempty"`
	Fields          map[string]*fieldMapping `json:"fields,omitempty"`
	IgnoreAbove     int                      `json:"ignore_above,omitempty"`
	Index           *bool                    `json:"index,omitempty"`
	Enabled         *bool                    `json:"enabled,omitempty"`
	Dynamic         any                      `json:"dynamic,omitempty"`
	Format          string                   `json:"format,omitempty"`
	IgnoreMalformed *bool                    `json:"ignore_malformed,omitempty"`
	Coerce          *bool                    `json:"coerce,omitempty"`
	NullValue       any                      `json:"null_value,omitempty"`
	// Accepted and echoed back, without effect in the emulator.
	DocValues      *bool   `json:"doc_values,omitempty"`
	Store          *bool   `json:"store,omitempty"`
	Norms          *bool   `json:"norms,omitempty"`
	Analyzer       string  `json:"analyzer,omitempty"`
	SearchAnalyzer string  `json:"search_analyzer,omitempty"`
	Normalizer     string  `json:"normalizer,omitempty"`
	ScalingFactor  float64 `json:"scaling_factor,omitempty"`
}

// mappings is the root of an index mapping ("_doc" level).
type mappings struct {
	Dynamic          any                          `json:"dynamic,omitempty"`
	DateDetection    *bool                        `json:"date_detection,omitempty"`
	NumericDetection *bool                        `json:"numeric_detection,omitempty"`
	DynamicTemplates []map[string]dynamicTemplate `json:"dynamic_templates,omitempty"`
	Meta             map[string]any               `json:"_meta,omitempty"`
	Source           map[string]any               `json:"_source,omitempty"`
	Properties       map[string]*fieldMapping     `json:"properties,omitempty"`
}

// leafTypes are the field types the emulator can index. Keys map to the
// family used for value parsing and querying.
var leafTypes = map[string]string{
	"text": "text", "match_only_text": "text",
	"keyword": "keyword", "constant_keyword": "keyword", "wildcard": "keyword",
	"long": "integer", "integer": "integer", "short": "integer", "byte": "integer", "unsigned_long": "integer",
	"double": "float", "float": "float", "half_float": "float", "scaled_float": "float",
	"boolean": "boolean",
	"date":    "date", "date_nanos": "date",
	"ip": "ip",
}

func (f *fieldMapping) isObject() bool {
	return f.Type == "" || f.Type == "object" || f.Type == "nested"
}

func (f *fieldMapping) family() string { return leafTypes[f.Type] }

func (f *fieldMapping) indexed() bool { return f.Index == nil || *f.Index }

func (f *fieldMapping) enabled() bool { return f.Enabled == nil || *f.Enabled }

// knownFieldParams are the mapping parameters accepted on a field. The first
// group is modelled by fieldMapping; the rest are accepted as ES would but
// change nothing the emulator can observe, so they are not kept.
var knownFieldParams = map[string]bool{
	"type": true, "properties": true, "fields": true, "ignore_above": true, "index": true, "enabled": true,
	"dynamic": true, "format": true, "ignore_malformed": true, "coerce": true, "null_value": true,
	"doc_values": true, "store": true, "norms": true, "analyzer": true, "search_analyzer": true,
	"normalizer": true, "scaling_factor": true,

	"copy_to": true, "eager_global_ordinals": true, "index_options": true, "position_increment_gap": true,
	"similarity": true, "term_vector": true, "boost": true, "locale": true, "meta": true,
	"split_queries_on_whitespace": true, "fielddata": true, "include_in_parent": true, "include_in_root": true,
}

// parseMappings decodes a mappings object, accepting the 7.x typeless form and
// the "_doc"-wrapped form, and validates field types and parameters the way
// ES's mapper parsers do.
func parseMappings(raw json.RawMessage) (*mappings, *esError) {
	m := &mappings{}
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return m, nil
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, mapperParsing("Failed to parse mapping: %v", err)
	}
	if inner, ok := probe["_doc"]; ok && len(probe) == 1 {
		raw = inner
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(m); err != nil {
		return nil, mapperParsing("Failed to parse mapping: %v", err)
	}
	if e := validateProperties(raw, m.Properties); e != nil {
		return nil, e
	}
	return m, nil
}

func mapperParsing(format string, args ...any) *esError {
	return newError(http.StatusBadRequest, "mapper_parsing_exception", format, args...)
}

// validateProperties checks types and rejects unknown parameters; raw is the
// JSON of the object holding "properties" so unknown keys can be seen.
func validateProperties(raw json.RawMessage, props map[string]*fieldMapping) *esError {
	var holder struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Fields     map[string]json.RawMessage `json:"fields"`
	}
	if err := json.Unmarshal(raw, &holder); err != nil {
		return mapperParsing("Failed to parse mapping: %v", err)
	}
	for name, f := range props {
		if f == nil {
			return mapperParsing("Expected map for property [fields] on field [%s] but got a class java.lang.String", name)
		}
		if e := validateField(name, holder.Properties[name], f); e != nil {
			return e
		}
	}
	return nil
}

func validateField(name string, raw json.RawMessage, f *fieldMapping) *esError {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return mapperParsing("Expected map for property [fields] on field [%s]", name)
	}
	typ := f.Type
	if typ == "" {
		typ = "object"
	}
	for k := range keys {
		if !knownFieldParams[k] {
			return mapperParsing("unknown parameter [%s] on mapper [%s] of type [%s]", k, name, typ)
		}
	}
	if !f.isObject() && leafTypes[f.Type] == "" {
		return mapperParsing("No handler for type [%s] declared on field [%s]", f.Type, name)
	}
	if f.isObject() && len(f.Fields) > 0 {
		return mapperParsing("unknown parameter [fields] on mapper [%s] of type [%s]", name, typ)
	}
	if len(f.Properties) > 0 {
		if !f.isObject() {
			return mapperParsing("unknown parameter [properties] on mapper [%s] of type [%s]", name, typ)
		}
		var sub struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		_ = json.Unmarshal(raw, &sub)
		for child, cf := range f.Properties {
			if cf == nil {
				return mapperParsing("Expected map for property [%s]", child)
			}
			if e := validateField(name+"."+child, sub.Properties[child], cf); e != nil {
				return e
			}
		}
	}
	if len(f.Fields) > 0 {
		var sub struct {
			Fields map[string]json.RawMessage `json:"fields"`
		}
		_ = json.Unmarshal(raw, &sub)
		for child, cf := range f.Fields {
			if cf == nil || cf.isObject() {
				return mapperParsing("No type specified for field [%s]", child)
			}
			if e := validateField(name+"."+child, sub.Fields[child], cf); e != nil {
				return e
			}
		}
	}
	return nil
}

// clone deep-copies a mapping through JSON; mappings are small and cloned only
// when a document introduces new fields.
func (m *mappings) clone() *mappings {
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("esemu: marshal mapping: %v", err)) // only plain data inside
	}
	c := &mappings{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(c); err != nil {
		panic(fmt.Sprintf("esemu: unmarshal mapping: %v", err))
	}
	return c
}

// merge overlays src onto m. With strict set (put-mapping), changing the type
// of an existing field is an error, as in ES; templates merge without it,
// later templates replacing earlier definitions.
func (m *mappings) merge(src *mappings, strict bool) *esError {
	if src == nil {
		return nil
	}
	if src.Dynamic != nil {
		m.Dynamic = src.Dynamic
	}
	if src.DateDetection != nil {
		m.DateDetection = src.DateDetection
	}
	if src.NumericDetection != nil {
		m.NumericDetection = src.NumericDetection
	}
	if src.DynamicTemplates != nil {
		m.DynamicTemplates = append(m.DynamicTemplates[:0:0], src.DynamicTemplates...)
	}
	if src.Meta != nil {
		m.Meta = src.Meta
	}
	if src.Source != nil {
		m.Source = src.Source
	}
	if m.Properties == nil && len(src.Properties) > 0 {
		m.Properties = map[string]*fieldMapping{}
	}
	return mergeProps(m.Properties, src.Properties, "", strict)
}

func mergeProps(dst, src map[string]*fieldMapping, prefix string, strict bool) *esError {
	for name, sf := range src {
		df, ok := dst[name]
		if !ok {
			dst[name] = sf
			continue
		}
		full := prefix + name
		if df.isObject() && sf.isObject() {
			if sf.Enabled != nil {
				df.Enabled = sf.Enabled
			}
			if sf.Dynamic != nil {
				df.Dynamic = sf.Dynamic
			}
			if df.Properties == nil && len(sf.Properties) > 0 {
				df.Properties = map[string]*fieldMapping{}
			}
			if e := mergeProps(df.Properties, sf.Properties, full+".", strict); e != nil {
				return e
			}
			continue
		}
		if strict && df.Type != sf.Type {
			return errBadRequest("mapper [%s] cannot be changed from type [%s] to [%s]", full, typeName(df), typeName(sf))
		}
		if strict && len(df.Fields) > 0 {
			merged := *sf
			merged.Fields = map[string]*fieldMapping{}
			for k, v := range df.Fields {
				merged.Fields[k] = v
			}
			for k, v := range sf.Fields {
				merged.Fields[k] = v
			}
			dst[name] = &merged
			continue
		}
		dst[name] = sf
	}
	return nil
}

func typeName(f *fieldMapping) string {
	if f.Type == "" {
		return "object"
	}
	return f.Type
}

// lookup returns the mapping of a dotted path ("host.name", or a multi-field
// "message.keyword"), or nil when the path is not mapped.
func (m *mappings) lookup(path string) *fieldMapping {
	props := m.Properties
	parts := strings.Split(path, ".")
	for i, p := range parts {
		f, ok := props[p]
		if !ok {
			return nil
		}
		if i == len(parts)-1 {
			return f
		}
		if !f.isObject() {
			// A multi-field hangs off a leaf: message.keyword.
			if i == len(parts)-2 {
				return f.Fields[parts[i+1]]
			}
			return nil
		}
		props = f.Properties
	}
	return nil
}

// fieldCount counts fields the way ES's total fields limit does: objects,
// leaves and multi-fields, without metadata fields.
func (m *mappings) fieldCount() int {
	var count func(props map[string]*fieldMapping) int
	count = func(props map[string]*fieldMapping) int {
		n := 0
		for _, f := range props {
			n += 1 + len(f.Fields) + count(f.Properties)
		}
		return n
	}
	return count(m.Properties)
}

// leafPaths lists every indexable leaf path with its mapping, sub-fields
// included, sorted for deterministic query expansion.
func (m *mappings) leafPaths() []string {
	var out []string
	var walk func(prefix string, props map[string]*fieldMapping)
	walk = func(prefix string, props map[string]*fieldMapping) {
		for name, f := range props {
			full := prefix + name
			if f.isObject() {
				if f.enabled() {
					walk(full+".", f.Properties)
				}
				continue
			}
			out = append(out, full)
			for sub := range f.Fields {
				out = append(out, full+"."+sub)
			}
		}
	}
	walk("", m.Properties)
	sort.Strings(out)
	return out
}
