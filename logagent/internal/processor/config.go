package processor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/logcollect/logcollect/pkg/rawjson"
)

// The processor types, as written in "type".
const (
	typeDrop      = "drop"
	typeKeep      = "keep"
	typeMask      = "mask"
	typeParse     = "parse"
	typeTimestamp = "timestamp"
	typeRateLimit = "rate_limit"
)

// compiler turns one processor's config (decoded strictly into its struct)
// into a step; its errors are *ConfigError without Index and Type, which
// Parse fills in.
type compiler interface {
	compile(opts Options) (step, error)
}

// configs makes the empty config struct of each type.
var configs = map[string]func() compiler{
	typeDrop:      func() compiler { return &filterConfig{drop: true} },
	typeKeep:      func() compiler { return &filterConfig{} },
	typeMask:      func() compiler { return &maskConfig{} },
	typeParse:     func() compiler { return &parseConfig{} },
	typeTimestamp: func() compiler { return &timestampConfig{} },
	typeRateLimit: func() compiler { return &rateLimitConfig{} },
}

const typeList = "drop, keep, mask, parse, timestamp, rate_limit"

// Options are what a chain takes from its surroundings.
type Options struct {
	// Now is rate_limit's clock; nil means time.Now. Tests inject one.
	Now func() time.Time
}

// ConfigError is a processor config the engine refuses. It names where
// (Index in the entry's processors list, Type), what (Field, Value as JSON)
// and why (Problem), and says what to write instead (Fix).
type ConfigError struct {
	Index   int
	Type    string
	Field   string
	Value   string
	Problem string
	Fix     string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "processors[%d]", e.Index)
	if e.Type != "" {
		fmt.Fprintf(&b, " (%s)", e.Type)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": %s", e.Field)
		if e.Value != "" {
			fmt.Fprintf(&b, " %s", e.Value)
		}
	}
	fmt.Fprintf(&b, ": %s", e.Problem)
	if e.Fix != "" {
		fmt.Fprintf(&b, "; %s", e.Fix)
	}
	return b.String()
}

// badValue is the ConfigError of field holding value.
func badValue(field string, value any, problem, fix string) *ConfigError {
	v, err := json.Marshal(value)
	if err != nil {
		v = []byte(fmt.Sprint(value))
	}
	return &ConfigError{Field: field, Value: string(v), Problem: problem, Fix: fix}
}

// Parse compiles an entry's "processors" value: a JSON array of objects,
// each with a "type". An absent value (empty or null) is an empty chain.
func Parse(raw json.RawMessage, opts Options) (*Chain, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Chain{}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return c, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf(`processors: want a JSON array of processors like [{"type":"drop","pattern":"^DEBUG"}]: %w`, err)
	}
	for i, item := range list {
		typ, s, err := compileOne(item, opts)
		if err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				ce.Index, ce.Type = i, typ
			}
			return nil, err
		}
		c.steps = append(c.steps, s)
		c.types = append(c.types, typ)
	}
	return c, nil
}

func compileOne(item json.RawMessage, opts Options) (string, step, error) {
	var head struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(item, &head); err != nil {
		return "", nil, &ConfigError{Problem: fmt.Sprintf("not a JSON object with a string \"type\" (%v)", err),
			Fix: `write an object like {"type":"drop","pattern":"^DEBUG"}`}
	}
	if head.Type == nil {
		return "", nil, &ConfigError{Field: "type", Problem: "missing", Fix: "write one of " + typeList}
	}
	newConfig, ok := configs[*head.Type]
	if !ok {
		return "", nil, badValue("type", *head.Type, "unknown processor type", "write one of "+typeList)
	}
	typ := *head.Type
	cfg := newConfig()
	dec := json.NewDecoder(bytes.NewReader(item))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		return typ, nil, decodeError(typ, cfg, err)
	}
	s, err := cfg.compile(opts)
	return typ, s, err
}

// decodeError turns encoding/json's error into a ConfigError naming the
// field.
func decodeError(typ string, cfg compiler, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &ConfigError{Field: te.Field, Problem: fmt.Sprintf("is a JSON %s, want %s", te.Value, rawjson.Describe(te.Type)),
			Fix: "see the example of " + typ + " in docs/logagent.md"}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &ConfigError{Field: strings.Trim(name, `"`), Problem: "unknown field",
			Fix: fmt.Sprintf("the fields of %s are %s", typ, strings.Join(fieldNames(cfg), ", "))}
	}
	return &ConfigError{Problem: err.Error(), Fix: "see the example of " + typ + " in docs/logagent.md"}
}

// fieldNames lists the JSON names a config struct accepts.
func fieldNames(cfg compiler) []string {
	t := reflect.TypeOf(cfg).Elem()
	var names []string
	for i := range t.NumField() {
		if tag, ok := t.Field(i).Tag.Lookup("json"); ok {
			names = append(names, strings.Split(tag, ",")[0])
		}
	}
	return names
}
