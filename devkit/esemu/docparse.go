package esemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/document"
	index "github.com/blevesearch/bleve_index_api"
)

// standardAnalyzer mirrors ES's default "standard" analyzer: Unicode text
// segmentation and lowercasing, without stop words (bleve's own "standard"
// analyzer removes English stop words, ES's does not).
var standardAnalyzer analysis.Analyzer = &analysis.DefaultAnalyzer{
	Tokenizer:    unicode.NewUnicodeTokenizer(),
	TokenFilters: []analysis.TokenFilter{lowercase.NewLowerCaseFilter()},
}

const (
	textOptions    = index.IndexField | index.IncludeTermVectors // term vectors make phrase queries work
	exactOptions   = index.IndexField | index.DocValues          // doc values make sorting work
	fieldNamesName = "_field_names"
)

// metadataFields may not appear inside a document, as in ES.
var metadataFields = map[string]bool{
	"_id": true, "_index": true, "_type": true, "_source": true, "_routing": true, "_field_names": true,
	"_ignored": true, "_seq_no": true, "_version": true, "_primary_term": true, "_tier": true,
	"_doc_count": true, "_data_stream_timestamp": true, "_nested_path": true,
}

// docParser turns a JSON source into bleve fields under an ES mapping. New
// fields are added to a private copy of the mapping, which the caller adopts
// only if the whole document parses: a rejected document leaves no trace.
type docParser struct {
	id      string
	base    *mappings
	work    *mappings // nil until the document introduces a field
	fields  []document.Field
	present map[string]bool
}

// parseSource parses a document source. It returns the bleve fields and,
// when dynamic mapping added fields, the new mapping.
func parseSource(id string, source []byte, m *mappings) ([]document.Field, *mappings, *esError) {
	obj, perr := decodeObject(source)
	if perr != nil {
		return nil, nil, perr
	}
	p := &docParser{id: id, base: m, present: map[string]bool{}}
	if e := p.object(obj, "", nil, p.current().Properties, dynamicMode(m.Dynamic, "true")); e != nil {
		return nil, nil, e
	}
	names := make([]string, 0, len(p.present))
	for n := range p.present {
		names = append(names, n)
	}
	sort.Strings(names)
	if joined, ok := joinFieldNames(names); ok {
		p.fields = append(p.fields, document.NewTextFieldCustom(fieldNamesName, nil, joined, index.IndexField, fieldNamesAnalyzer{}))
	} else {
		for _, n := range names {
			p.fields = append(p.fields, document.NewTextFieldWithIndexingOptions(fieldNamesName, nil, []byte(n), index.IndexField))
		}
	}
	return p.fields, p.work, nil
}

// joinFieldNames joins the names with NUL for fieldNamesAnalyzer: one
// _field_names field per document with a term per name, rather than one
// field per name. bleve pays per field of a document (a visit, a field-name
// lookup, a frequency merge when a name repeats) on every segment it
// builds, and this was half of an agent record's fields. The terms, and the
// field length that scores them, are the same. A name containing NUL
// (possible in JSON) keeps the field-per-name form.
func joinFieldNames(names []string) ([]byte, bool) {
	n := 0
	for _, name := range names {
		if strings.IndexByte(name, 0) >= 0 {
			return nil, false
		}
		n += len(name) + 1
	}
	b := make([]byte, 0, n)
	for i, name := range names {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, name...)
	}
	return b, true
}

// fieldNamesAnalyzer splits joinFieldNames' value into one token per name.
type fieldNamesAnalyzer struct{}

func (fieldNamesAnalyzer) Analyze(input []byte) analysis.TokenStream {
	ts := make(analysis.TokenStream, 0, bytes.Count(input, []byte{0})+1)
	for start, pos := 0, 1; ; pos++ {
		end := len(input)
		if i := bytes.IndexByte(input[start:], 0); i >= 0 {
			end = start + i
		}
		ts = append(ts, &analysis.Token{Term: input[start:end], Start: start, End: end, Position: pos, Type: analysis.AlphaNumeric})
		if end == len(input) {
			return ts
		}
		start = end + 1
	}
}

// decodeObject reads a source that must be exactly one JSON object.
func decodeObject(source []byte) (map[string]any, *esError) {
	trimmed := bytes.TrimSpace(source)
	if len(trimmed) == 0 {
		return nil, mapperParsing("failed to parse, document is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, mapperParsing("failed to parse").causedBy(newError(http.StatusBadRequest, "json_parse_exception", "%s", jsonErrText(err)))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, mapperParsing("failed to parse").causedBy(newError(http.StatusBadRequest, "json_parse_exception", "unexpected content after the end of the document"))
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, mapperParsing("failed to parse").causedBy(newError(http.StatusBadRequest, "not_x_content_exception",
			"Compressor detection can only be called on some xcontent bytes or compressed xcontent bytes"))
	}
	return obj, nil
}

func jsonErrText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at offset %d", se.Error(), se.Offset)
	}
	return err.Error()
}

// current is the mapping being extended: the private copy once one exists.
func (p *docParser) current() *mappings {
	if p.work != nil {
		return p.work
	}
	return p.base
}

// propsAt returns the properties map of the object at path in the working
// copy, cloning the base mapping on first use.
func (p *docParser) propsAt(path string) map[string]*fieldMapping {
	if p.work == nil {
		p.work = p.base.clone()
	}
	if p.work.Properties == nil {
		p.work.Properties = map[string]*fieldMapping{}
	}
	props := p.work.Properties
	if path == "" {
		return props
	}
	for _, part := range strings.Split(path, ".") {
		f := props[part]
		if f.Properties == nil {
			f.Properties = map[string]*fieldMapping{}
		}
		props = f.Properties
	}
	return props
}

func dynamicMode(v any, inherited string) string {
	switch d := v.(type) {
	case bool:
		return strconv.FormatBool(d)
	case string:
		return d
	}
	return inherited
}

func (p *docParser) object(obj map[string]any, prefix string, ap []uint64, props map[string]*fieldMapping, dynamic string) *esError {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic errors; JSON objects are unordered anyway
	for _, key := range keys {
		if e := p.field(key, obj[key], prefix, ap, props, dynamic); e != nil {
			return e
		}
	}
	return nil
}

func (p *docParser) field(key string, value any, prefix string, ap []uint64, props map[string]*fieldMapping, dynamic string) *esError {
	if strings.Trim(key, ".") == "" || strings.Contains(key, "..") || strings.HasPrefix(key, ".") || strings.HasSuffix(key, ".") {
		return mapperParsing("field name cannot be an empty string")
	}
	if prefix == "" && metadataFields[key] {
		return mapperParsing("Field [%s] is a metadata field and cannot be added inside a document. Use the index API request parameters.", key)
	}
	// ES 7 expands dotted names into objects: {"a.b": 1} is {"a": {"b": 1}}.
	if i := strings.IndexByte(key, '.'); i > 0 {
		return p.field(key[:i], map[string]any{key[i+1:]: value}, prefix, ap, props, dynamic)
	}
	path := prefix + key
	if p.work != nil {
		// An earlier field of this document extended the mapping; read the copy.
		props = p.propsAt(strings.TrimSuffix(prefix, "."))
	}
	f := props[key]
	if f == nil {
		if value == nil {
			return nil
		}
		switch dynamic {
		case "strict":
			parent := strings.TrimSuffix(prefix, ".")
			if parent == "" {
				parent = "_doc"
			}
			return newError(http.StatusBadRequest, "strict_dynamic_mapping_exception",
				"mapping set to strict, dynamic introduction of [%s] within [%s] is not allowed", key, parent)
		case "false":
			return nil
		}
		f = p.dynamicField(path, value)
		if f == nil {
			return nil // null or empty array: ES adds no mapping
		}
		p.propsAt(strings.TrimSuffix(prefix, "."))[key] = f
	}
	if f.isObject() {
		if !f.enabled() {
			return nil
		}
		return p.objectValue(path, key, value, ap, f, dynamicMode(f.Dynamic, dynamic))
	}
	return p.leafValues(path, value, ap, f)
}

func (p *docParser) objectValue(path, key string, value any, ap []uint64, f *fieldMapping, dynamic string) *esError {
	switch v := value.(type) {
	case nil:
		return nil
	case map[string]any:
		p.markPresent(path)
		return p.object(v, path+".", ap, f.Properties, dynamic)
	case []any:
		for i, el := range v {
			if e := p.objectValue(path, key, el, append(ap[:len(ap):len(ap)], uint64(i)), f, dynamic); e != nil {
				return e
			}
		}
		return nil
	}
	return mapperParsing("object mapping for [%s] tried to parse field [%s] as object, but found a concrete value", path, key)
}

func (p *docParser) markPresent(path string) {
	for {
		p.present[path] = true
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			return
		}
		path = path[:i]
	}
}

func (p *docParser) leafValues(path string, value any, ap []uint64, f *fieldMapping) *esError {
	if arr, ok := value.([]any); ok {
		for i, el := range arr {
			if e := p.leafValues(path, el, append(ap[:len(ap):len(ap)], uint64(i)), f); e != nil {
				return e
			}
		}
		return nil
	}
	if value == nil {
		if f.NullValue == nil {
			return nil
		}
		value = f.NullValue
	}
	field, e := leafField(path, value, ap, f)
	if e != nil {
		if f.IgnoreMalformed != nil && *f.IgnoreMalformed {
			return nil
		}
		return mapperParsing("failed to parse field [%s] of type [%s] in document with id '%s'. Preview of field's value: '%s'",
			path, f.Type, p.id, preview(value)).causedBy(e)
	}
	if field != nil {
		p.fields = append(p.fields, field)
		p.markPresent(path)
	}
	for sub, sf := range f.Fields {
		if e := p.leafValues(path+"."+sub, value, ap, sf); e != nil {
			return e
		}
	}
	return nil
}

// leafField converts one value to a bleve field, or explains in ES's words
// why the value does not fit the mapped type. A nil field with a nil error
// means the value is valid but not indexed (index:false, ignore_above).
func leafField(path string, value any, ap []uint64, f *fieldMapping) (document.Field, *esError) {
	if _, isObj := value.(map[string]any); isObj && f.family() != "" {
		return nil, newError(http.StatusBadRequest, "illegal_state_exception", "Can't get text on a START_OBJECT")
	}
	switch f.family() {
	case "text":
		s := scalarText(value)
		if !f.indexed() {
			return nil, nil
		}
		return document.NewTextFieldCustom(path, ap, []byte(s), textOptions, standardAnalyzer), nil
	case "keyword":
		s := scalarText(value)
		if !f.indexed() || (f.IgnoreAbove > 0 && len([]rune(s)) > f.IgnoreAbove) {
			return nil, nil
		}
		return document.NewTextFieldWithIndexingOptions(path, ap, []byte(s), exactOptions), nil
	case "integer":
		n, e := parseInteger(value, f)
		if e != nil || !f.indexed() {
			return nil, e
		}
		return document.NewNumericFieldWithIndexingOptions(path, ap, n, exactOptions), nil
	case "float":
		n, e := parseFloat(value, f)
		if e != nil || !f.indexed() {
			return nil, e
		}
		return document.NewNumericFieldWithIndexingOptions(path, ap, n, exactOptions), nil
	case "boolean":
		b, e := parseBool(value)
		if e != nil || !f.indexed() {
			return nil, e
		}
		return document.NewBooleanFieldWithIndexingOptions(path, ap, b, exactOptions), nil
	case "date":
		s := scalarText(value)
		format := f.Format
		if format == "" {
			format = defaultDateFormat
		}
		t, err := parseDate(s, format)
		if err != nil {
			return nil, errBadRequest("failed to parse date field [%s] with format [%s]", s, format).
				causedBy(newError(http.StatusBadRequest, "date_time_parse_exception", "Failed to parse with all enclosed parsers"))
		}
		if !f.indexed() {
			return nil, nil
		}
		if f.Type == "date" {
			t = t.Truncate(time.Millisecond) // ES's date type keeps milliseconds; date_nanos keeps all
		}
		df, err := document.NewDateTimeFieldWithIndexingOptions(path, ap, t, "", exactOptions)
		if err != nil {
			return nil, errBadRequest("date [%s] is outside the range the emulator can index (years 1677-2262)", s)
		}
		return df, nil
	case "ip":
		s := scalarText(value)
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, errBadRequest("'%s' is not an IP string literal.", s)
		}
		if !f.indexed() {
			return nil, nil
		}
		return document.NewIPFieldWithIndexingOptions(path, ap, ip, exactOptions), nil
	}
	return nil, errBadRequest("unsupported field type [%s]", f.Type)
}

// scalarText is how ES reads a scalar as text: numbers and booleans keep
// their JSON spelling.
func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

var integerRanges = map[string][2]float64{
	"byte": {math.MinInt8, math.MaxInt8}, "short": {math.MinInt16, math.MaxInt16},
	"integer": {math.MinInt32, math.MaxInt32}, "long": {math.MinInt64, math.MaxInt64},
	"unsigned_long": {0, math.MaxUint64},
}

func parseInteger(v any, f *fieldMapping) (float64, *esError) {
	n, e := parseFloat(v, f)
	if e != nil {
		return 0, e
	}
	if r, ok := integerRanges[f.Type]; ok && (n < r[0] || n > r[1]) {
		name := f.Type
		if name == "long" {
			return 0, errBadRequest("Value [%s] is out of range for a long", scalarText(v))
		}
		return 0, errBadRequest("Value [%s] is out of range for %s %s", scalarText(v), article(name), name)
	}
	return math.Trunc(n), nil // coercion truncates, as ES does for 12.7 into a long
}

func article(typ string) string {
	if strings.IndexByte("aeiou", typ[0]) >= 0 {
		return "an"
	}
	return "a"
}

func parseFloat(v any, f *fieldMapping) (float64, *esError) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		if f.Coerce != nil && !*f.Coerce {
			return 0, errBadRequest("[coerce] is false, strings are not accepted for [%s]", f.Type)
		}
		s = strings.TrimSpace(x)
	case bool:
		return 0, newError(http.StatusBadRequest, "json_parse_exception",
			"Current token (VALUE_%s) not numeric, can not use numeric value accessors", strings.ToUpper(strconv.FormatBool(x)))
	default:
		return 0, errBadRequest("For input string: %q", scalarText(v))
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, errBadRequest("For input string: %q", s)
	}
	return n, nil
}

func parseBool(v any) (bool, *esError) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch x {
		case "true":
			return true, nil
		case "false", "":
			return false, nil
		}
	}
	return false, errBadRequest("Failed to parse value [%s] as only [true] or [false] are allowed.", scalarText(v))
}

// preview renders a value the way ES's error message does (Java toString).
func preview(v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + preview(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, el := range x {
			parts[i] = preview(el)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case nil:
		return "null"
	}
	return scalarText(v)
}
