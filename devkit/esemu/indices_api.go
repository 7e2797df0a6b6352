package esemu

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

func readBody(r *http.Request) ([]byte, *esError) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, readError(err)
	}
	return b, nil
}

func (s *Server) handleCreateIndex(w http.ResponseWriter, r *http.Request, name string) {
	body, e := readBody(r)
	if e != nil {
		writeError(w, e)
		return
	}
	var req createRequest
	if e := decodeBody(body, &req); e != nil {
		writeError(w, e)
		return
	}
	if _, e := s.cluster.create(name, &req, false); e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"acknowledged": true, "shards_acknowledged": true, "index": name})
}

// handleGetIndex serves GET and HEAD /<index>.
func (s *Server) handleGetIndex(w http.ResponseWriter, r *http.Request, expr string) {
	indices, e := s.cluster.resolve(expr, s.resolveOpts(r, true))
	if e != nil {
		if r.Method == http.MethodHead {
			writeRaw(w, e.Status, nil)
			return
		}
		writeError(w, e)
		return
	}
	if r.Method == http.MethodHead {
		status := http.StatusOK
		if len(indices) == 0 {
			status = http.StatusNotFound
		}
		writeRaw(w, status, nil)
		return
	}
	out := map[string]any{}
	for _, ix := range indices {
		out[ix.name] = map[string]any{
			"aliases":  map[string]any{},
			"mappings": marshalMapping(ix.currentMapping()),
			"settings": nestSettings(ix.settings),
		}
	}
	writeJSON(w, r, http.StatusOK, out)
}

func (s *Server) handleDeleteIndex(w http.ResponseWriter, r *http.Request, expr string) {
	indices, e := s.cluster.resolve(expr, s.resolveOpts(r, true))
	if e != nil {
		writeError(w, e)
		return
	}
	names := make([]string, len(indices))
	for i, ix := range indices {
		names[i] = ix.name
	}
	if err := s.cluster.remove(names); err != nil {
		writeError(w, newError(http.StatusInternalServerError, "exception", "%v", err))
		return
	}
	writeJSON(w, r, http.StatusOK, ack)
}

func (s *Server) handleGetMapping(w http.ResponseWriter, r *http.Request, expr string) {
	indices, e := s.cluster.resolve(expr, s.resolveOpts(r, true))
	if e != nil {
		writeError(w, e)
		return
	}
	out := map[string]any{}
	for _, ix := range indices {
		out[ix.name] = map[string]any{"mappings": marshalMapping(ix.currentMapping())}
	}
	writeJSON(w, r, http.StatusOK, out)
}

// handlePutMapping adds fields to existing indices; changing a field's type
// is refused, as in ES.
func (s *Server) handlePutMapping(w http.ResponseWriter, r *http.Request, expr string) {
	body, e := readBody(r)
	if e != nil {
		writeError(w, e)
		return
	}
	m, e := parseMappings(body)
	if e != nil {
		writeError(w, e)
		return
	}
	indices, e := s.cluster.resolve(expr, s.resolveOpts(r, false))
	if e != nil {
		writeError(w, e)
		return
	}
	for _, ix := range indices {
		ix.mu.Lock()
		next := ix.mapping.clone()
		if e := next.merge(m.clone(), true); e != nil {
			ix.mu.Unlock()
			writeError(w, e)
			return
		}
		ix.mapping = next
		ix.metaDirty = true
		ix.mu.Unlock()
		if err := ix.saveMeta(); err != nil {
			s.log.Error("save index metadata", "index", ix.name, "err", err)
		}
	}
	writeJSON(w, r, http.StatusOK, ack)
}

func (s *Server) handleGetSettings(w http.ResponseWriter, r *http.Request, expr string) {
	indices, e := s.cluster.resolve(expr, s.resolveOpts(r, true))
	if e != nil {
		writeError(w, e)
		return
	}
	out := map[string]any{}
	for _, ix := range indices {
		out[ix.name] = map[string]any{"settings": nestSettings(ix.settings)}
	}
	writeJSON(w, r, http.StatusOK, out)
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request, expr string) {
	drain(r)
	indices, e := s.cluster.resolve(expr, s.resolveOpts(r, true))
	if e != nil {
		writeError(w, e)
		return
	}
	for _, ix := range indices {
		s.refreshIndex(ix)
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"_shards": map[string]int{"total": 2 * len(indices), "successful": len(indices), "failed": 0}})
}

// resolveOpts reads ignore_unavailable and allow_no_indices; wildcard
// matching nothing is fine by default for read APIs, as in ES.
func (s *Server) resolveOpts(r *http.Request, allowNoIndices bool) resolveOptions {
	q := r.URL.Query()
	o := resolveOptions{allowNoIndices: allowNoIndices}
	if v := q.Get("ignore_unavailable"); v != "" {
		o.ignoreUnavailable = v == "true"
	}
	if v := q.Get("allow_no_indices"); v != "" {
		o.allowNoIndices = v == "true"
	}
	return o
}

// rawJSON re-encodes a value for echoing stored JSON as is.
func rawJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil || strings.TrimSpace(string(b)) == "null" {
		return json.RawMessage(`{}`)
	}
	return b
}
