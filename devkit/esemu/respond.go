package esemu

import (
	"encoding/json"
	"net/http"
	"strconv"
)

const contentTypeJSON = "application/json; charset=UTF-8"

// writeRaw sends an already encoded JSON body with the headers every ES
// response carries. X-Elastic-Product is checked by the 7.14+ official clients.
func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentTypeJSON)
	h.Set("X-Elastic-Product", "Elasticsearch")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, newError(http.StatusInternalServerError, "exception", "encode response: %v", err))
		return
	}
	writeRaw(w, status, shapeResponse(r, append(body, '\n')))
}

func writeError(w http.ResponseWriter, e *esError) {
	writeRaw(w, e.Status, e.body())
}

// ack is the body of every successful administrative change.
var ack = map[string]any{"acknowledged": true}

// shardsHeader is the _shards object of search and count responses; the
// emulator has exactly one shard per index and it never fails.
func shardsHeader(n int) map[string]int {
	return map[string]int{"total": n, "successful": n, "skipped": 0, "failed": 0}
}
