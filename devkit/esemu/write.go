package esemu

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/blevesearch/bleve/v2/document"
)

// writeResult is the outcome of one write, rendered as a bulk item or as the
// response of a single-document API.
type writeResult struct {
	kind    string
	index   string
	id      string
	status  int
	result  string // created, updated, deleted, not_found, noop
	version int64
	seqNo   int64
	shards  int // _shards.total; 0 for noop
	err     *esError
}

func (ix *esIndex) failed(a *bulkAction, e *esError) writeResult {
	if e.Meta == nil || e.Meta["index"] == nil {
		e.forIndex(ix.name, ix.uuid)
	}
	return writeResult{kind: a.kind, index: ix.name, id: a.id, status: e.Status, err: e}
}

func conflict(format string, args ...any) *esError {
	return newError(http.StatusConflict, "version_conflict_engine_exception", format, args...).with("shard", "0")
}

// apply executes one write action. Source parsing happens before the version
// checks, as in ES, so a malformed document is reported as such even when
// its id also conflicts.
func (ix *esIndex) apply(a *bulkAction) writeResult {
	if a.kind == "update" {
		return ix.update(a)
	}
	var fields []document.Field
	var newMapping *mappings
	if a.kind != "delete" {
		snapshot := ix.currentMapping()
		f, nm, e := ix.parse(a.id, a.source, snapshot)
		if e != nil {
			return ix.failed(a, e)
		}
		ix.mu.Lock()
		defer ix.mu.Unlock()
		if nm != nil && ix.mapping != snapshot {
			// Another writer extended the mapping meanwhile; parse against
			// the latest so both documents' new fields agree.
			if f, nm, e = ix.parse(a.id, a.source, ix.mapping); e != nil {
				return ix.failed(a, e)
			}
		}
		fields, newMapping = f, nm
	} else {
		ix.mu.Lock()
		defer ix.mu.Unlock()
	}
	return ix.commit(a, fields, newMapping, a.source)
}

// parse parses a source under m and enforces index.mapping.total_fields.limit
// on the fields it would add, which ES checks before accepting a document.
func (ix *esIndex) parse(id string, source []byte, m *mappings) ([]document.Field, *mappings, *esError) {
	fields, nm, e := parseSource(id, source, m)
	if e != nil || nm == nil {
		return fields, nm, e
	}
	limit := 1000
	if v, err := strconv.Atoi(ix.settings["index.mapping.total_fields.limit"]); err == nil {
		limit = v
	}
	if nm.fieldCount() > limit {
		return nil, nil, errBadRequest("Limit of total fields [%d] has been exceeded", limit)
	}
	return fields, nm, nil
}

// commit runs the version checks and records the write. ix.mu must be held.
func (ix *esIndex) commit(a *bulkAction, fields []document.Field, newMapping *mappings, source []byte) writeResult {
	var cur *docState
	autoID := a.id == ""
	if autoID {
		a.id = newID()
	} else {
		var err error
		if cur, err = ix.lookup(a.id); err != nil {
			return ix.failed(a, newError(http.StatusInternalServerError, "exception", "%v", err))
		}
		if cur != nil && cur.deleted {
			cur = nil
		}
	}
	if e := ix.checkVersion(a, cur); e != nil {
		return ix.failed(a, e)
	}
	version := int64(1)
	if cur != nil {
		version = cur.version + 1
	} else if v := ix.deletedVersion(a.id); v > 0 {
		version = v + 1
	}
	if a.versionType == "external" || a.versionType == "external_gte" {
		version = *a.version
	}
	res := writeResult{kind: a.kind, index: ix.name, id: a.id, version: version, shards: 1 + ix.replicas()}
	if a.kind == "delete" {
		ix.seqNo++
		res.seqNo = ix.seqNo
		ix.tombstones[a.id] = tombstone{version: version, at: time.Now()}
		if cur == nil {
			res.status, res.result = http.StatusNotFound, "not_found"
			return res
		}
		ix.pending[a.id] = &docState{deleted: true, version: version, seqNo: ix.seqNo}
		res.status, res.result = http.StatusOK, "deleted"
		return res
	}
	ix.seqNo++
	res.seqNo = ix.seqNo
	delete(ix.tombstones, a.id)
	ix.pending[a.id] = &docState{source: source, fields: fields, version: version, seqNo: ix.seqNo}
	if newMapping != nil {
		ix.mapping = newMapping
		ix.metaDirty = true
	}
	if cur == nil {
		res.status, res.result = http.StatusCreated, "created"
	} else {
		res.status, res.result = http.StatusOK, "updated"
	}
	return res
}

// checkVersion applies create semantics and optimistic concurrency control.
func (ix *esIndex) checkVersion(a *bulkAction, cur *docState) *esError {
	if a.kind == "create" && cur != nil {
		return conflict("[%s]: version conflict, document already exists (current version [%d])", a.id, cur.version)
	}
	if a.ifSeqNo != nil {
		if cur == nil {
			return conflict("[%s]: version conflict, required seqNo [%d], primary term [%d] but no document was found",
				a.id, *a.ifSeqNo, *a.ifPrimaryTerm)
		}
		if cur.seqNo != *a.ifSeqNo || *a.ifPrimaryTerm != 1 {
			return conflict("[%s]: version conflict, required seqNo [%d], primary term [%d]. current document has seqNo [%d] and primary term [1]",
				a.id, *a.ifSeqNo, *a.ifPrimaryTerm, cur.seqNo)
		}
	}
	if cur != nil && a.version != nil {
		switch a.versionType {
		case "external":
			if *a.version <= cur.version {
				return conflict("[%s]: version conflict, current version [%d] is higher or equal to the one provided [%d]", a.id, cur.version, *a.version)
			}
		case "external_gte":
			if *a.version < cur.version {
				return conflict("[%s]: version conflict, current version [%d] is higher than the one provided [%d]", a.id, cur.version, *a.version)
			}
		}
	}
	return nil
}

// updateBody is the body of an update action; scripts are not supported.
type updateBody struct {
	Doc         map[string]any `json:"doc"`
	Upsert      map[string]any `json:"upsert"`
	DocAsUpsert bool           `json:"doc_as_upsert"`
	DetectNoop  *bool          `json:"detect_noop"`
	Script      any            `json:"script"`
}

// update implements partial-document updates (doc, upsert, doc_as_upsert).
func (ix *esIndex) update(a *bulkAction) writeResult {
	var body updateBody
	dec := json.NewDecoder(bytes.NewReader(a.source))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		return ix.failed(a, newError(http.StatusBadRequest, "x_content_parse_exception", "[1:1] failed to parse update request: %s", jsonErrText(err)))
	}
	if body.Script != nil {
		return ix.failed(a, errBadRequest("scripted updates are not supported by the emulator"))
	}
	if body.Doc == nil && body.Upsert == nil {
		return ix.failed(a, newError(http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: script or doc is missing;"))
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	cur, err := ix.lookup(a.id)
	if err != nil {
		return ix.failed(a, newError(http.StatusInternalServerError, "exception", "%v", err))
	}
	if cur != nil && cur.deleted {
		cur = nil
	}
	var merged map[string]any
	switch {
	case cur != nil:
		if e := ix.checkVersion(a, cur); e != nil {
			return ix.failed(a, e)
		}
		old, e := decodeObject(cur.source)
		if e != nil {
			return ix.failed(a, e)
		}
		merged = deepMerge(cloneMap(old), body.Doc)
		if (body.DetectNoop == nil || *body.DetectNoop) && reflect.DeepEqual(merged, old) {
			return writeResult{kind: a.kind, index: ix.name, id: a.id, status: http.StatusOK, result: "noop",
				version: cur.version, seqNo: cur.seqNo}
		}
	case body.Upsert != nil:
		merged = body.Upsert
	case body.DocAsUpsert:
		merged = body.Doc
	default:
		return ix.failed(a, newError(http.StatusNotFound, "document_missing_exception", "[_doc][%s]: document missing", a.id).with("shard", "0"))
	}
	source, err := json.Marshal(merged)
	if err != nil {
		return ix.failed(a, mapperParsing("failed to encode updated document: %v", err))
	}
	fields, nm, e := ix.parse(a.id, source, ix.mapping)
	if e != nil {
		return ix.failed(a, e)
	}
	res := ix.commit(&bulkAction{kind: "index", id: a.id, index: a.index}, fields, nm, source)
	res.kind = "update"
	return res
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = cloneMap(sub)
		}
		out[k] = v
	}
	return out
}

// deepMerge merges objects recursively and replaces everything else, which is
// how ES applies a partial "doc".
func deepMerge(dst, src map[string]any) map[string]any {
	for k, v := range src {
		if sv, ok := v.(map[string]any); ok {
			if dv, ok := dst[k].(map[string]any); ok {
				dst[k] = deepMerge(dv, sv)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}
