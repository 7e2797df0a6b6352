package esemu

import (
	"compress/gzip"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// adminPrefix is reserved for the emulator's own endpoints; ES forbids index
// names starting with "_", so it cannot clash with a real index.
const adminPrefix = "_emulator"

// ServeHTTP applies connection faults, latency and authentication, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs := pathSegments(r.URL)
	admin := len(segs) > 0 && segs[0] == adminPrefix
	if !admin {
		s.stats.requests.Add(1)
		if s.faults.takeDrop() {
			s.stats.faults.Add(1)
			s.stats.dropped.Add(1)
			s.dropConnection(w)
			return
		}
		if d := s.faults.currentLatency(); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
	}
	if !s.authorized(w, r) {
		return
	}
	if id := r.Header.Get("X-Opaque-Id"); id != "" {
		w.Header().Set("X-Opaque-Id", id) // ES echoes it for request tracing
	}
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		// ES accepts compressed request bodies; clients enable it with e.g. olivere's SetGzip.
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			drain(r)
			writeError(w, errBadRequest("invalid gzip request body: %v", err))
			return
		}
		defer zr.Close()
		r.Body = zr
		r.ContentLength = -1
	}
	if r.ContentLength > s.cfg.MaxContentLength {
		// ES's HTTP layer answers 413 with an empty body and closes.
		w.Header().Set("Connection", "close")
		writeRaw(w, http.StatusRequestEntityTooLarge, nil)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxContentLength)
	if e := checkContentType(r); e != nil {
		writeRaw(w, http.StatusNotAcceptable, e)
		return
	}
	s.route(w, r, segs)
}

func (s *Server) dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // makes net/http close the connection without a response
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// pathSegments splits the escaped path so that ids containing an encoded "/"
// stay one segment.
func pathSegments(u *url.URL) []string {
	var out []string
	for _, p := range strings.Split(strings.Trim(u.EscapedPath(), "/"), "/") {
		if p == "" {
			continue
		}
		if un, err := url.PathUnescape(p); err == nil {
			p = un
		}
		out = append(out, p)
	}
	return out
}

// checkContentType enforces ES's strict content-type check for request
// bodies; curl's default form encoding is refused with 406, as by ES.
func checkContentType(r *http.Request) []byte {
	if r.ContentLength == 0 || (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.ContentLength < 0 {
		return nil
	}
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	switch mt {
	case "application/json", "application/x-ndjson", "application/vnd.elasticsearch+json", "application/vnd.elasticsearch+x-ndjson":
		return nil
	}
	return fmt.Appendf(nil, `{"error":"Content-Type header [%s] is not supported","status":406}`, jsonEscape(ct))
}

func jsonEscape(s string) string {
	b := appendJSONString(nil, s)
	return string(b[1 : len(b)-1])
}

// route dispatches like ES's RestController: fixed "_" endpoints first, then
// index-scoped ones.
func (s *Server) route(w http.ResponseWriter, r *http.Request, segs []string) {
	m := r.Method
	if len(segs) == 0 {
		s.allow(w, r, []string{"GET", "HEAD"}, s.handleInfo)
		return
	}
	first := segs[0]
	rest := segs[1:]
	switch {
	case first == adminPrefix:
		s.routeAdmin(w, r, rest)
		return
	case first == "_bulk" && len(rest) == 0:
		s.allow(w, r, []string{"POST", "PUT"}, func(w http.ResponseWriter, r *http.Request) { s.handleBulk(w, r, "") })
		return
	case first == "_refresh" && len(rest) == 0:
		s.allow(w, r, []string{"GET", "POST"}, func(w http.ResponseWriter, r *http.Request) { s.handleRefresh(w, r, "") })
		return
	case (first == "_search" || first == "_count") && len(rest) == 0:
		s.allow(w, r, []string{"GET", "POST"}, func(w http.ResponseWriter, r *http.Request) { s.handleSearch(w, r, "", first == "_count") })
		return
	case first == "_cluster" && len(rest) >= 1 && rest[0] == "health" && len(rest) <= 2:
		s.allow(w, r, []string{"GET"}, func(w http.ResponseWriter, r *http.Request) { s.handleHealth(w, r, rest[1:]) })
		return
	case first == "_cat" && len(rest) >= 1:
		s.routeCat(w, r, rest)
		return
	case first == "_index_template" || first == "_template" || first == "_component_template":
		if len(rest) <= 1 {
			name := ""
			if len(rest) == 1 {
				name = rest[0]
			}
			s.handleTemplate(w, r, first, name)
			return
		}
	case first == "_mapping" && len(rest) == 0:
		s.allow(w, r, []string{"GET"}, func(w http.ResponseWriter, r *http.Request) { s.handleGetMapping(w, r, "_all") })
		return
	case strings.HasPrefix(first, "_") && first != "_all" && len(rest) > 0:
		s.noHandler(w, r)
		return
	}
	// Like ES, a single unknown "/_x" is taken as an index name, which then
	// fails as a missing (GET, HEAD, DELETE) or invalid (PUT) index.
	s.routeIndex(w, r, m, first, rest)
}

func (s *Server) routeIndex(w http.ResponseWriter, r *http.Request, m, target string, rest []string) {
	if len(rest) == 0 {
		switch m {
		case "PUT", "POST":
			if m == "POST" {
				s.methodNotAllowed(w, r, []string{"PUT", "GET", "HEAD", "DELETE"})
				return
			}
			s.handleCreateIndex(w, r, target)
		case "HEAD", "GET":
			s.handleGetIndex(w, r, target)
		case "DELETE":
			s.handleDeleteIndex(w, r, target)
		default:
			s.methodNotAllowed(w, r, []string{"PUT", "GET", "HEAD", "DELETE"})
		}
		return
	}
	op := rest[0]
	switch {
	case op == "_bulk" && len(rest) == 1:
		s.allow(w, r, []string{"POST", "PUT"}, func(w http.ResponseWriter, r *http.Request) { s.handleBulk(w, r, target) })
	case op == "_refresh" && len(rest) == 1, op == "_flush" && len(rest) == 1:
		s.allow(w, r, []string{"GET", "POST"}, func(w http.ResponseWriter, r *http.Request) { s.handleRefresh(w, r, target) })
	case (op == "_search" || op == "_count") && len(rest) == 1:
		s.allow(w, r, []string{"GET", "POST"}, func(w http.ResponseWriter, r *http.Request) { s.handleSearch(w, r, target, op == "_count") })
	case op == "_mapping" && len(rest) == 1:
		switch m {
		case "GET":
			s.handleGetMapping(w, r, target)
		case "PUT", "POST":
			s.handlePutMapping(w, r, target)
		default:
			s.methodNotAllowed(w, r, []string{"GET", "PUT", "POST"})
		}
	case op == "_settings" && len(rest) == 1:
		s.allow(w, r, []string{"GET"}, func(w http.ResponseWriter, r *http.Request) { s.handleGetSettings(w, r, target) })
	case op == "_doc" && len(rest) == 1:
		s.allow(w, r, []string{"POST"}, func(w http.ResponseWriter, r *http.Request) { s.handleWriteDoc(w, r, target, "", "index") })
	case op == "_doc" && len(rest) == 2:
		id := rest[1]
		switch m {
		case "GET", "HEAD":
			s.handleGetDoc(w, r, target, id)
		case "PUT", "POST":
			kind := "index"
			if r.URL.Query().Get("op_type") == "create" {
				kind = "create"
			}
			s.handleWriteDoc(w, r, target, id, kind)
		case "DELETE":
			s.handleWriteDoc(w, r, target, id, "delete")
		default:
			s.methodNotAllowed(w, r, []string{"GET", "HEAD", "PUT", "POST", "DELETE"})
		}
	case op == "_create" && len(rest) == 2:
		s.allow(w, r, []string{"PUT", "POST"}, func(w http.ResponseWriter, r *http.Request) { s.handleWriteDoc(w, r, target, rest[1], "create") })
	case op == "_update" && len(rest) == 2:
		s.allow(w, r, []string{"POST"}, func(w http.ResponseWriter, r *http.Request) { s.handleWriteDoc(w, r, target, rest[1], "update") })
	case op == "_source" && len(rest) == 2:
		s.allow(w, r, []string{"GET", "HEAD"}, func(w http.ResponseWriter, r *http.Request) { s.handleGetSource(w, r, target, rest[1]) })
	default:
		s.noHandler(w, r)
	}
}

func (s *Server) allow(w http.ResponseWriter, r *http.Request, methods []string, h http.HandlerFunc) {
	for _, m := range methods {
		if r.Method == m {
			h(w, r)
			return
		}
	}
	s.methodNotAllowed(w, r, methods)
}

// methodNotAllowed and noHandler answer with the plain-string error bodies ES
// uses for routing failures (no root_cause object).
func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request, methods []string) {
	drain(r)
	w.Header().Set("Allow", strings.Join(methods, ","))
	writeRaw(w, http.StatusMethodNotAllowed, fmt.Appendf(nil, `{"error":"Incorrect HTTP method for uri [%s] and method [%s], allowed: [%s]","status":405}`,
		jsonEscape(r.URL.RequestURI()), r.Method, strings.Join(methods, ", ")))
}

func (s *Server) noHandler(w http.ResponseWriter, r *http.Request) {
	drain(r)
	writeRaw(w, http.StatusBadRequest, fmt.Appendf(nil, `{"error":"no handler found for uri [%s] and method [%s]","status":400}`,
		jsonEscape(r.URL.RequestURI()), r.Method))
}
