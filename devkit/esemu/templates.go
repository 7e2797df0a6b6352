package esemu

import (
	"encoding/json"
	"net/http"
	"sort"
)

// stringList accepts a JSON string or an array of strings, as ES does for
// index_patterns.
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

// templateBody is the part of a template applied to a new index.
type templateBody struct {
	Settings map[string]any  `json:"settings,omitempty"`
	Mappings json.RawMessage `json:"mappings,omitempty"`
	Aliases  map[string]any  `json:"aliases,omitempty"`
}

// composableTemplate is an /_index_template (ES 7.8+).
type composableTemplate struct {
	IndexPatterns   stringList     `json:"index_patterns"`
	Priority        *int64         `json:"priority,omitempty"`
	Version         *int64         `json:"version,omitempty"`
	ComposedOf      []string       `json:"composed_of"`
	Template        *templateBody  `json:"template,omitempty"`
	Meta            map[string]any `json:"_meta,omitempty"`
	DataStream      map[string]any `json:"data_stream,omitempty"`
	AllowAutoCreate *bool          `json:"allow_auto_create,omitempty"`
}

func (t *composableTemplate) priority() int64 {
	if t.Priority == nil {
		return 0
	}
	return *t.Priority
}

// componentTemplate is a /_component_template building block.
type componentTemplate struct {
	Template templateBody   `json:"template"`
	Version  *int64         `json:"version,omitempty"`
	Meta     map[string]any `json:"_meta,omitempty"`
}

// legacyTemplate is a /_template: all matching ones merge, by ascending order.
type legacyTemplate struct {
	Order         int64           `json:"order"`
	Version       *int64          `json:"version,omitempty"`
	IndexPatterns stringList      `json:"index_patterns"`
	Settings      map[string]any  `json:"settings"`
	Mappings      json.RawMessage `json:"mappings"`
	Aliases       map[string]any  `json:"aliases"`
}

// templateStore holds all three kinds; the cluster's lock guards it.
type templateStore struct {
	Composable map[string]*composableTemplate `json:"index_templates"`
	Component  map[string]*componentTemplate  `json:"component_templates"`
	Legacy     map[string]*legacyTemplate     `json:"templates"`
}

func newTemplateStore() *templateStore {
	return &templateStore{
		Composable: map[string]*composableTemplate{},
		Component:  map[string]*componentTemplate{},
		Legacy:     map[string]*legacyTemplate{},
	}
}

// validateComposable rejects what ES rejects: bad mappings or settings,
// missing component templates, and two templates that would both match an
// index with the same priority.
func (ts *templateStore) validateComposable(name string, t *composableTemplate) *esError {
	if len(t.IndexPatterns) == 0 {
		return newError(http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: index patterns are missing;")
	}
	if t.DataStream != nil {
		return errBadRequest("index template [%s]: data streams are not supported by the emulator", name)
	}
	var missing []string
	for _, c := range t.ComposedOf {
		if ts.Component[c] == nil {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return newError(http.StatusBadRequest, "invalid_index_template_exception",
			"index_template [%s] invalid, cause [index template [%s] specifies component templates %v that do not exist]", name, name, missing)
	}
	if t.Template != nil {
		if e := validateBody(t.Template); e != nil {
			return e
		}
	}
	if t.priority() == builtinPriority {
		for other, pattern := range builtinTemplates {
			if other != name && overlap([]string{pattern}, t.IndexPatterns) {
				return samePriorityConflict(name, t, other, []string{pattern})
			}
		}
	}
	for other, o := range ts.Composable {
		if other == name || o.priority() != t.priority() {
			continue
		}
		if overlap(o.IndexPatterns, t.IndexPatterns) {
			return samePriorityConflict(name, t, other, o.IndexPatterns)
		}
	}
	return nil
}

func samePriorityConflict(name string, t *composableTemplate, other string, otherPatterns []string) *esError {
	return errBadRequest("index template [%s] has index patterns %v matching patterns from existing templates [%s] with patterns (%s => %v) "+
		"that have the same priority [%d], multiple index templates may not match during index creation, please use a different priority",
		name, []string(t.IndexPatterns), other, other, otherPatterns, t.priority())
}

func validateBody(b *templateBody) *esError {
	if _, e := parseMappings(b.Mappings); e != nil {
		return e
	}
	if _, e := normalizeSettings(b.Settings); e != nil {
		return e
	}
	return nil
}

// overlap reports whether two pattern lists can match a common index name,
// which is how ES decides that two templates conflict.
func overlap(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if globsIntersect(x, y) {
				return true
			}
		}
	}
	return false
}

// globsIntersect reports whether some string matches both '*'-patterns.
func globsIntersect(p, q string) bool {
	switch {
	case p == "" && q == "":
		return true
	case p != "" && p[0] == '*':
		return globsIntersect(p[1:], q) || (q != "" && globsIntersect(p, q[1:]))
	case q != "" && q[0] == '*':
		return globsIntersect(p, q[1:]) || (p != "" && globsIntersect(p[1:], q))
	case p == "" || q == "":
		return false
	}
	return p[0] == q[0] && globsIntersect(p[1:], q[1:])
}

// resolved is what the templates contribute to a new index.
type resolved struct {
	settings map[string]string
	mappings *mappings
	names    []string // templates applied, for logging
}

// forIndex finds the templates for a new index name: the highest-priority
// matching composable template (with its component templates) or, if none
// matches, all matching legacy templates merged by order, as ES 7.8+ does.
func (ts *templateStore) forIndex(name string) (*resolved, *esError) {
	r := &resolved{settings: map[string]string{}, mappings: &mappings{}}
	var best *composableTemplate
	var bestName string
	for n, t := range ts.Composable {
		if anyMatch(t.IndexPatterns, name) && (best == nil || t.priority() > best.priority()) {
			best, bestName = t, n
		}
	}
	apply := func(b *templateBody, raw json.RawMessage, settings map[string]any) *esError {
		if b != nil {
			raw, settings = b.Mappings, b.Settings
		}
		m, e := parseMappings(raw)
		if e != nil {
			return e
		}
		if e := r.mappings.merge(m, false); e != nil {
			return e
		}
		s, e := normalizeSettings(settings)
		if e != nil {
			return e
		}
		for k, v := range s {
			r.settings[k] = v
		}
		return nil
	}
	if best != nil {
		for _, c := range best.ComposedOf {
			if ct := ts.Component[c]; ct != nil {
				if e := apply(&ct.Template, nil, nil); e != nil {
					return nil, e
				}
			}
		}
		if best.Template != nil {
			if e := apply(best.Template, nil, nil); e != nil {
				return nil, e
			}
		}
		r.names = []string{bestName}
		return r, nil
	}
	var legacy []string
	for n, t := range ts.Legacy {
		if anyMatch(t.IndexPatterns, name) {
			legacy = append(legacy, n)
		}
	}
	sort.Slice(legacy, func(i, j int) bool {
		a, b := ts.Legacy[legacy[i]], ts.Legacy[legacy[j]]
		if a.Order != b.Order {
			return a.Order < b.Order
		}
		return legacy[i] < legacy[j]
	})
	for _, n := range legacy {
		t := ts.Legacy[n]
		if e := apply(nil, t.Mappings, t.Settings); e != nil {
			return nil, e
		}
	}
	r.names = legacy
	return r, nil
}

func anyMatch(patterns []string, name string) bool {
	for _, p := range patterns {
		if matchPattern(p, name) {
			return true
		}
	}
	return false
}
