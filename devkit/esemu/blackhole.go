package esemu

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// blackholeSeq hands out per-index sequence numbers in blackhole mode so
// acknowledgements look like those of a real index.
type blackholeSeq struct {
	mu   sync.Mutex
	next map[string]*atomic.Int64
}

// counter returns index's next sequence number. A bulk keeps the counter of
// the index it last wrote and takes numbers from it without the lock and the
// map lookup, which cost 5 % of the blackhole's CPU when taken per document.
func (b *blackholeSeq) counter(index string) *atomic.Int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.next == nil {
		b.next = map[string]*atomic.Int64{}
	}
	c := b.next[index]
	if c == nil {
		c = new(atomic.Int64)
		b.next[index] = c
	}
	return c
}

// blackholeRun is what a blackhole bulk remembers from item to item.
type blackholeRun struct {
	validIndex string // the last index name found valid
	seqIndex   string // the index whose counter seq is
	seq        *atomic.Int64
}

// blackholeBulk parses a bulk request exactly as the indexing path does and
// acknowledges every action, without storing anything. Sources are only
// checked to be JSON objects, never decoded, to keep the cost per document
// close to the cost of reading it.
func (s *Server) blackholeBulk(w http.ResponseWriter, r *http.Request, defaultIndex string, start time.Time) {
	p := newBulkParser(r.Body, defaultIndex, false)
	defer p.release()
	resp := newBulkResponse(getBulkBuffer(0), int(r.ContentLength/256))
	defer func() { putBulkBuffer(resp.buf) }() // written out by then
	var problems []*bulkAction
	items := 0
	var run blackholeRun
	for {
		a, e := p.next()
		if e != nil {
			s.rejectBulk(w, r, e)
			return
		}
		if a == nil {
			break
		}
		items++
		if len(actionProblems(a)) > 0 {
			kept := *a // the parser reuses a for the next action
			problems = append(problems, &kept)
			continue
		}
		res := s.blackholeItem(a, &run)
		resp.add(&res)
		if res.err != nil {
			s.stats.rejected.Add(1)
		} else {
			s.stats.blackholed.Add(1)
		}
	}
	if items == 0 || len(problems) > 0 {
		s.rejectBulk(w, r, validateActions(problems))
		return
	}
	s.stats.bulkItems.Add(int64(items))
	writeRaw(w, http.StatusOK, shapeResponse(r, resp.finish(time.Since(start).Milliseconds())))
}

func (s *Server) blackholeItem(a *bulkAction, run *blackholeRun) writeResult {
	if status, ok := s.faults.takeItemFault(); ok {
		s.stats.faults.Add(1)
		return writeResult{kind: a.kind, index: a.index, id: a.id, status: status, err: itemFaultError(status, a.index)}
	}
	if a.index != run.validIndex {
		if e := validateIndexName(a.index); e != nil {
			return writeResult{kind: a.kind, index: a.index, id: a.id, status: e.Status, err: e}
		}
		run.validIndex = a.index
	}
	res := writeResult{kind: a.kind, index: a.index, id: a.id, version: 1, shards: 2}
	switch a.kind {
	case "delete":
		res.status, res.result = http.StatusNotFound, "not_found"
	case "update":
		var body struct {
			Upsert      json.RawMessage `json:"upsert"`
			DocAsUpsert bool            `json:"doc_as_upsert"`
		}
		if json.Unmarshal(a.source, &body) != nil || (body.Upsert == nil && !body.DocAsUpsert) {
			e := newError(http.StatusNotFound, "document_missing_exception", "[_doc][%s]: document missing", a.id).
				with("shard", "0").forIndex(a.index, "")
			return writeResult{kind: a.kind, index: a.index, id: a.id, status: e.Status, err: e}
		}
		res.status, res.result = http.StatusCreated, "created"
	default:
		if e := checkObject(a.source); e != nil {
			return writeResult{kind: a.kind, index: a.index, id: a.id, status: e.Status, err: e.forIndex(a.index, "")}
		}
		if res.id == "" {
			res.id = newID()
		}
		res.status, res.result = http.StatusCreated, "created"
	}
	if run.seq == nil || a.index != run.seqIndex {
		run.seq, run.seqIndex = s.bhSeq.counter(a.index), a.index
	}
	res.seqNo = run.seq.Add(1) - 1
	return res
}

// checkObject verifies that a source is one JSON object without decoding it;
// validJSON gives json.Valid's verdict at a fraction of its cost.
func checkObject(src []byte) *esError {
	t := bytes.TrimSpace(src)
	if len(t) == 0 {
		return mapperParsing("failed to parse, document is empty")
	}
	if t[0] != '{' || !validJSON(t) {
		return mapperParsing("failed to parse").causedBy(newError(http.StatusBadRequest, "json_parse_exception", "source is not a JSON object"))
	}
	return nil
}
