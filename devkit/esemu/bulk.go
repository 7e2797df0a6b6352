package esemu

import (
	"net/http"
	"time"
)

// maxPending bounds the unrefreshed writes of an index. Above it a bulk
// refreshes before answering, which slows writers down to bleve's indexing
// speed instead of letting memory grow (ES pushes back with 429s instead).
const maxPending = 100_000

// refreshParam reads ?refresh: "true", "" (present without value) and
// "wait_for" make the writes searchable before the response; "wait_for"
// is served by an immediate refresh, which a client cannot tell apart.
func refreshParam(r *http.Request) bool {
	q := r.URL.Query()
	if !q.Has("refresh") {
		return false
	}
	v := q.Get("refresh")
	return v == "" || v == "true" || v == "wait_for"
}

func (s *Server) handleBulk(w http.ResponseWriter, r *http.Request, defaultIndex string) {
	s.stats.bulkRequests.Add(1)
	if status, ok := s.faults.takeBulkFault(); ok {
		drain(r)
		s.stats.faults.Add(1)
		writeError(w, faultError(status))
		return
	}
	start := time.Now()
	if s.blackhole.Load() {
		s.blackholeBulk(w, r, defaultIndex, start)
		return
	}
	p := newBulkParser(r.Body, defaultIndex, true)
	defer p.release()
	var actions []*bulkAction
	for {
		a, e := p.next()
		if e != nil {
			s.rejectBulk(w, r, e)
			return
		}
		if a == nil {
			break
		}
		actions = append(actions, a)
	}
	if e := validateActions(actions); e != nil {
		s.rejectBulk(w, r, e)
		return
	}
	if p.droppedTail {
		s.stats.droppedTail.Add(1)
		s.log.Warn("bulk ended with an action without source line; ignored as Elasticsearch does", "line", p.line)
	}
	s.stats.bulkItems.Add(int64(len(actions)))
	forced := refreshParam(r)
	resp := newBulkResponse(nil, len(actions))
	resp.forceRefresh = forced
	touched := map[*esIndex]bool{}
	for _, a := range actions {
		res := s.executeOrFault(a)
		s.stats.record(&res)
		resp.add(&res)
		if ix := s.cluster.index(res.index); ix != nil {
			touched[ix] = true
		}
	}
	for ix := range touched {
		if forced || ix.pendingCount() > maxPending {
			s.refreshIndex(ix)
		} else if err := ix.saveMeta(); err != nil {
			s.log.Error("save index metadata", "index", ix.name, "err", err)
		}
	}
	writeRaw(w, http.StatusOK, shapeResponse(r, resp.finish(time.Since(start).Milliseconds())))
}

func (s *Server) rejectBulk(w http.ResponseWriter, r *http.Request, e *esError) {
	drain(r)
	s.stats.badRequests.Add(1)
	writeError(w, e)
}

// executeOrFault applies an injected per-item rejection, or executes.
func (s *Server) executeOrFault(a *bulkAction) writeResult {
	if status, ok := s.faults.takeItemFault(); ok {
		s.stats.faults.Add(1)
		e := itemFaultError(status, a.index)
		return writeResult{kind: a.kind, index: a.index, id: a.id, status: status, err: e}
	}
	return s.execute(a)
}

// execute runs one write against its index. Index, create and update
// auto-create a missing index; delete does not, as in ES.
func (s *Server) execute(a *bulkAction) writeResult {
	var ix *esIndex
	var e *esError
	if a.kind == "delete" {
		if ix = s.cluster.index(a.index); ix == nil {
			if e = validateIndexName(a.index); e == nil {
				e = errIndexNotFound(a.index)
			}
		}
	} else {
		ix, e = s.cluster.writeIndex(a.index)
	}
	if e != nil {
		return writeResult{kind: a.kind, index: a.index, id: a.id, status: e.Status, err: e}
	}
	return ix.apply(a)
}
