package esemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
)

// esError is an Elasticsearch exception as it appears on the wire. Handlers
// return it instead of writing responses themselves so that every failure,
// whether of a whole request or of one bulk item, has the same shape.
type esError struct {
	Status   int
	Type     string
	Reason   string
	Meta     map[string]any // extra keys ES adds, e.g. index, index_uuid, resource.id
	CausedBy *esError
}

func (e *esError) Error() string { return e.Type + ": " + e.Reason }

func newError(status int, typ, format string, args ...any) *esError {
	return &esError{Status: status, Type: typ, Reason: fmt.Sprintf(format, args...)}
}

// with adds a metadata key and returns e for chaining.
func (e *esError) with(key string, value any) *esError {
	if e.Meta == nil {
		e.Meta = map[string]any{}
	}
	e.Meta[key] = value
	return e
}

func (e *esError) causedBy(c *esError) *esError {
	e.CausedBy = c
	return e
}

// forIndex adds the index and index_uuid keys ES attaches to index-scoped errors.
func (e *esError) forIndex(name, uuid string) *esError {
	if uuid == "" {
		uuid = "_na_"
	}
	return e.with("index_uuid", uuid).with("index", name)
}

// MarshalJSON writes type and reason first, as ES does, so that humans reading
// curl output find the familiar layout.
func (e *esError) MarshalJSON() ([]byte, error) {
	return e.marshal(false)
}

func (e *esError) marshal(withRootCause bool) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	if withRootCause {
		root := *e
		root.CausedBy = nil
		rc, err := json.Marshal(&root)
		if err != nil {
			return nil, err
		}
		b.WriteString(`"root_cause":[`)
		b.Write(rc)
		b.WriteString("],")
	}
	writeKV(&b, "type", e.Type)
	b.WriteByte(',')
	writeKV(&b, "reason", e.Reason)
	keys := make([]string, 0, len(e.Meta))
	for k := range e.Meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteByte(',')
		writeKV(&b, k, e.Meta[k])
	}
	if e.CausedBy != nil {
		cb, err := json.Marshal(e.CausedBy)
		if err != nil {
			return nil, err
		}
		b.WriteString(`,"caused_by":`)
		b.Write(cb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func writeKV(b *bytes.Buffer, key string, value any) {
	k, _ := json.Marshal(key)
	v, err := json.Marshal(value)
	if err != nil {
		v = []byte("null")
	}
	b.Write(k)
	b.WriteByte(':')
	b.Write(v)
}

// body renders the top-level error document of a failed request.
func (e *esError) body() []byte {
	inner, err := e.marshal(true)
	if err != nil {
		inner = []byte(`{}`)
	}
	var b bytes.Buffer
	b.WriteString(`{"error":`)
	b.Write(inner)
	fmt.Fprintf(&b, `,"status":%d}`, e.Status)
	return b.Bytes()
}

// Frequently used exceptions, named after their ES type.

func errIndexNotFound(name string) *esError {
	return newError(http.StatusNotFound, "index_not_found_exception", "no such index [%s]", name).
		with("resource.type", "index_or_alias").with("resource.id", name).forIndex(name, "")
}

func errBadRequest(format string, args ...any) *esError {
	return newError(http.StatusBadRequest, "illegal_argument_exception", format, args...)
}

func errParsing(format string, args ...any) *esError {
	return newError(http.StatusBadRequest, "parsing_exception", format, args...)
}
