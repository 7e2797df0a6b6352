package esemu

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
)

// handleTemplate serves /_index_template, /_component_template and the
// legacy /_template endpoints.
func (s *Server) handleTemplate(w http.ResponseWriter, r *http.Request, kind, name string) {
	switch r.Method {
	case "PUT", "POST":
		if name == "" {
			s.methodNotAllowed(w, r, []string{"GET", "HEAD"})
			return
		}
		s.putTemplate(w, r, kind, name)
	case "GET", "HEAD":
		s.getTemplates(w, r, kind, name)
	case "DELETE":
		if name == "" {
			s.methodNotAllowed(w, r, []string{"GET", "HEAD"})
			return
		}
		s.deleteTemplate(w, r, kind, name)
	default:
		s.methodNotAllowed(w, r, []string{"GET", "HEAD", "PUT", "POST", "DELETE"})
	}
}

func (s *Server) putTemplate(w http.ResponseWriter, r *http.Request, kind, name string) {
	body, e := readBody(r)
	if e != nil {
		writeError(w, e)
		return
	}
	create := r.URL.Query().Get("create") == "true"
	c := s.cluster
	c.mu.Lock()
	e = c.putTemplateLocked(kind, name, body, create)
	c.mu.Unlock()
	if e != nil {
		writeError(w, e)
		return
	}
	if err := c.saveTemplatesLocked(); err != nil {
		s.log.Error("save templates", "err", err)
	}
	writeJSON(w, r, http.StatusOK, ack)
}

func (c *cluster) putTemplateLocked(kind, name string, body []byte, create bool) *esError {
	ts := c.templates
	exists := func(found bool) *esError {
		if found && create {
			return errBadRequest("index template [%s] already exists", name)
		}
		return nil
	}
	switch kind {
	case "_index_template":
		var t composableTemplate
		if e := decodeBody(body, &t); e != nil {
			return e
		}
		if e := exists(ts.Composable[name] != nil); e != nil {
			return e
		}
		if e := ts.validateComposable(name, &t); e != nil {
			return e
		}
		ts.Composable[name] = &t
	case "_component_template":
		var t componentTemplate
		if e := decodeBody(body, &t); e != nil {
			return e
		}
		if e := exists(ts.Component[name] != nil); e != nil {
			return e
		}
		if e := validateBody(&t.Template); e != nil {
			return e
		}
		ts.Component[name] = &t
	default:
		var t legacyTemplate
		if e := decodeBody(body, &t); e != nil {
			return e
		}
		if e := exists(ts.Legacy[name] != nil); e != nil {
			return e
		}
		if len(t.IndexPatterns) == 0 {
			return newError(http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: index patterns are missing;")
		}
		if e := validateBody(&templateBody{Settings: t.Settings, Mappings: t.Mappings}); e != nil {
			return e
		}
		ts.Legacy[name] = &t
	}
	return nil
}

// saveTemplatesLocked persists templates under the read lock, so concurrent
// writers are serialised by the write lock taken for the change itself.
func (c *cluster) saveTemplatesLocked() error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.saveTemplates()
}

func (s *Server) deleteTemplate(w http.ResponseWriter, r *http.Request, kind, name string) {
	c := s.cluster
	c.mu.Lock()
	var e *esError
	ts := c.templates
	switch kind {
	case "_index_template":
		if ts.Composable[name] == nil {
			e = newError(http.StatusNotFound, "resource_not_found_exception", "index_template [%s] missing", name)
		}
		delete(ts.Composable, name)
	case "_component_template":
		var users []string
		for n, t := range ts.Composable {
			for _, cn := range t.ComposedOf {
				if cn == name {
					users = append(users, n)
				}
			}
		}
		switch {
		case ts.Component[name] == nil:
			e = newError(http.StatusNotFound, "resource_not_found_exception", "%s", name)
		case len(users) > 0:
			sort.Strings(users)
			e = errBadRequest("component templates [%s] cannot be removed as they are still in use by index templates [%s]", name, strings.Join(users, ", "))
		default:
			delete(ts.Component, name)
		}
	default:
		if ts.Legacy[name] == nil {
			e = newError(http.StatusNotFound, "index_template_missing_exception", "index_template [%s] missing", name)
		}
		delete(ts.Legacy, name)
	}
	c.mu.Unlock()
	if e != nil {
		writeError(w, e)
		return
	}
	if err := c.saveTemplatesLocked(); err != nil {
		s.log.Error("save templates", "err", err)
	}
	writeJSON(w, r, http.StatusOK, ack)
}

// matchNames returns the sorted names matching a comma list of wildcards.
func matchNames[T any](all map[string]T, expr string) []string {
	var out []string
	for n := range all {
		if expr == "" || anyMatch(strings.Split(expr, ","), n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func (s *Server) getTemplates(w http.ResponseWriter, r *http.Request, kind, expr string) {
	c := s.cluster
	c.mu.RLock()
	defer c.mu.RUnlock()
	ts := c.templates
	var out any
	var found int
	switch kind {
	case "_index_template":
		list := []map[string]any{}
		for _, n := range matchNames(ts.Composable, expr) {
			t := *ts.Composable[n]
			if t.Template != nil {
				tb := renderBody(*t.Template)
				t.Template = &tb
			}
			list = append(list, map[string]any{"name": n, "index_template": t})
		}
		found, out = len(list), map[string]any{"index_templates": list}
	case "_component_template":
		list := []map[string]any{}
		for _, n := range matchNames(ts.Component, expr) {
			t := *ts.Component[n]
			t.Template = renderBody(t.Template)
			list = append(list, map[string]any{"name": n, "component_template": t})
		}
		found, out = len(list), map[string]any{"component_templates": list}
	default:
		m := map[string]any{}
		for _, n := range matchNames(ts.Legacy, expr) {
			t := ts.Legacy[n]
			flat, _ := normalizeSettings(t.Settings)
			mp, _ := parseMappings(t.Mappings)
			m[n] = map[string]any{"order": t.Order, "version": t.Version, "index_patterns": t.IndexPatterns,
				"settings": nestSettings(flat), "mappings": marshalMapping(mp), "aliases": rawJSON(t.Aliases)}
		}
		found, out = len(m), m
	}
	// A concrete name that does not exist is a 404; a wildcard matching
	// nothing is an empty answer.
	if found == 0 && expr != "" && !strings.Contains(expr, "*") {
		if r.Method == http.MethodHead {
			writeRaw(w, http.StatusNotFound, nil)
			return
		}
		switch kind {
		case "_template":
			writeJSON(w, r, http.StatusNotFound, map[string]any{})
		case "_index_template":
			writeError(w, newError(http.StatusNotFound, "resource_not_found_exception", "index template matching [%s] not found", expr))
		default:
			writeError(w, newError(http.StatusNotFound, "resource_not_found_exception", "component template matching [%s] not found", expr))
		}
		return
	}
	if r.Method == http.MethodHead {
		writeRaw(w, http.StatusOK, nil)
		return
	}
	writeJSON(w, r, http.StatusOK, out)
}

// renderBody shows settings and mappings the way ES echoes them back.
func renderBody(b templateBody) templateBody {
	flat, _ := normalizeSettings(b.Settings)
	out := templateBody{Aliases: b.Aliases}
	if len(flat) > 0 {
		out.Settings = nestSettings(flat)
	}
	if len(b.Mappings) > 0 {
		mp, _ := parseMappings(b.Mappings)
		out.Mappings = json.RawMessage(marshalMapping(mp))
	}
	return out
}
