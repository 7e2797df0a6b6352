package esemu

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// handleWriteDoc serves the single-document write APIs (_doc, _create,
// _update, DELETE _doc) through the same path as bulk items.
func (s *Server) handleWriteDoc(w http.ResponseWriter, r *http.Request, indexName, id, kind string) {
	a := &bulkAction{kind: kind, index: indexName, id: id}
	q := r.URL.Query()
	for name, dst := range map[string]**int64{"if_seq_no": &a.ifSeqNo, "if_primary_term": &a.ifPrimaryTerm, "version": &a.version} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				writeError(w, errBadRequest("Failed to parse long parameter [%s] with value [%s]", name, v))
				return
			}
			*dst = &n
		}
	}
	a.versionType = q.Get("version_type")
	if kind != "delete" {
		body, e := readBody(r)
		if e != nil {
			writeError(w, e)
			return
		}
		a.source = body
	}
	if problems := actionProblems(a); len(problems) > 0 {
		writeError(w, validateActions([]*bulkAction{a}))
		return
	}
	res := s.execute(a)
	s.stats.record(&res)
	if res.err != nil {
		writeError(w, res.err)
		return
	}
	forced := refreshParam(r)
	if ix := s.cluster.index(res.index); ix != nil {
		if forced {
			s.refreshIndex(ix)
		} else if err := ix.saveMeta(); err != nil {
			s.log.Error("save index metadata", "index", ix.name, "err", err)
		}
	}
	body := map[string]any{
		"_index": res.index, "_type": "_doc", "_id": res.id, "_version": res.version, "result": res.result,
		"_shards": map[string]int{"total": res.shards, "successful": min(res.shards, 1), "failed": 0},
		"_seq_no": res.seqNo, "_primary_term": 1,
	}
	if forced {
		body["forced_refresh"] = true
	}
	writeJSON(w, r, res.status, body)
}

// realtimeGet reads a document for GET _doc and _source, seeing writes not
// yet refreshed (like ES's GET). A missing index or a read error is
// answered here and ok is false; d is nil when the index has no such id.
func (s *Server) realtimeGet(w http.ResponseWriter, indexName, id string) (d *docState, ok bool) {
	ix := s.cluster.index(indexName)
	if ix == nil {
		writeError(w, errIndexNotFound(indexName))
		return nil, false
	}
	d, err := ix.get(id)
	if err != nil {
		writeError(w, newError(http.StatusInternalServerError, "exception", "%v", err))
		return nil, false
	}
	return d, true
}

// handleGetDoc is realtime, like ES's GET: it sees writes not yet refreshed.
func (s *Server) handleGetDoc(w http.ResponseWriter, r *http.Request, indexName, id string) {
	d, ok := s.realtimeGet(w, indexName, id)
	if !ok {
		return
	}
	if d == nil {
		writeJSON(w, r, http.StatusNotFound, map[string]any{"_index": indexName, "_type": "_doc", "_id": id, "found": false})
		return
	}
	body := map[string]any{
		"_index": indexName, "_type": "_doc", "_id": id, "_version": d.version,
		"_seq_no": d.seqNo, "_primary_term": 1, "found": true,
	}
	if r.URL.Query().Get("_source") != "false" {
		body["_source"] = json.RawMessage(d.source)
	}
	writeJSON(w, r, http.StatusOK, body)
}

func (s *Server) handleGetSource(w http.ResponseWriter, r *http.Request, indexName, id string) {
	d, ok := s.realtimeGet(w, indexName, id)
	if !ok {
		return
	}
	if d == nil {
		writeError(w, newError(http.StatusNotFound, "resource_not_found_exception", "Document not found [%s]/[_doc]/[%s]", indexName, id))
		return
	}
	writeRaw(w, http.StatusOK, d.source)
}

// get returns a live (not deleted) document or nil.
func (ix *esIndex) get(id string) (*docState, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	d, err := ix.lookup(id)
	if err != nil || d == nil || d.deleted {
		return nil, err
	}
	return d, nil
}
