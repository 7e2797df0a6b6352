package esemu

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// nodeName is what GET / reports as the node and cluster name.
const nodeName = "esemu"

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, http.StatusOK, map[string]any{
		"name":         nodeName,
		"cluster_name": "logcollect-esemu",
		"cluster_uuid": s.cluster.uuid,
		"version": map[string]any{
			"number":                              "7.17.0",
			"build_flavor":                        "default",
			"build_type":                          "emulator",
			"build_hash":                          "esemu",
			"build_date":                          "2022-01-28T08:36:04.875279988Z",
			"build_snapshot":                      false,
			"lucene_version":                      "8.11.1",
			"minimum_wire_compatibility_version":  "6.8.0",
			"minimum_index_compatibility_version": "6.0.0-beta1",
		},
		"tagline": "You Know, for Search",
	})
}

// health computes a single node's health: replicas can never be assigned,
// so any index with replicas makes the cluster yellow, as on a real single node.
func (s *Server) health(indices []*esIndex) (string, int, int) {
	status, primaries, unassigned := "green", 0, 0
	for _, ix := range indices {
		primaries++
		if n := ix.replicas(); n > 0 {
			unassigned += n
			status = "yellow"
		}
	}
	return status, primaries, unassigned
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request, target []string) {
	expr := "_all"
	if len(target) == 1 {
		expr = target[0]
	}
	indices, e := s.cluster.resolve(expr, resolveOptions{allowNoIndices: true})
	if e != nil {
		writeError(w, e)
		return
	}
	status, primaries, unassigned := s.health(indices)
	code := http.StatusOK
	timedOut := false
	// A single node never turns green with replicas; ES would wait for the
	// timeout and answer 408, the emulator answers 408 at once.
	if want := r.URL.Query().Get("wait_for_status"); want != "" && rank(status) < rank(want) {
		timedOut, code = true, http.StatusRequestTimeout
	}
	pct := 100.0
	if primaries+unassigned > 0 {
		pct = 100 * float64(primaries) / float64(primaries+unassigned)
	}
	writeJSON(w, r, code, map[string]any{
		"cluster_name": "logcollect-esemu", "status": status, "timed_out": timedOut,
		"number_of_nodes": 1, "number_of_data_nodes": 1,
		"active_primary_shards": primaries, "active_shards": primaries,
		"relocating_shards": 0, "initializing_shards": 0, "unassigned_shards": unassigned,
		"delayed_unassigned_shards": 0, "number_of_pending_tasks": 0, "number_of_in_flight_fetch": 0,
		"task_max_waiting_in_queue_millis": 0, "active_shards_percent_as_number": pct,
	})
}

func rank(status string) int {
	return map[string]int{"red": 0, "yellow": 1, "green": 2}[status]
}

func (s *Server) routeCat(w http.ResponseWriter, r *http.Request, rest []string) {
	if r.Method != http.MethodGet {
		s.methodNotAllowed(w, r, []string{"GET"})
		return
	}
	switch {
	case rest[0] == "indices" && len(rest) <= 2:
		expr := "_all"
		if len(rest) == 2 {
			expr = rest[1]
		}
		s.handleCatIndices(w, r, expr)
	case rest[0] == "health" && len(rest) == 1:
		status, primaries, unassigned := s.health(s.cluster.all())
		s.writeCat(w, r, []string{"cluster", "status", "node.total", "node.data", "shards", "pri", "unassign"},
			[]map[string]string{{"cluster": "logcollect-esemu", "status": status, "node.total": "1", "node.data": "1",
				"shards": strconv.Itoa(primaries), "pri": strconv.Itoa(primaries), "unassign": strconv.Itoa(unassigned)}})
	case rest[0] == "count" && len(rest) <= 2:
		expr := "_all"
		if len(rest) == 2 {
			expr = rest[1]
		}
		indices, e := s.cluster.resolve(expr, resolveOptions{allowNoIndices: true})
		if e != nil {
			writeError(w, e)
			return
		}
		var total uint64
		for _, ix := range indices {
			total += ix.docCount()
		}
		s.writeCat(w, r, []string{"epoch", "timestamp", "count"},
			[]map[string]string{{"epoch": "0", "timestamp": "00:00:00", "count": strconv.FormatUint(total, 10)}})
	default:
		s.noHandler(w, r)
	}
}

func (s *Server) handleCatIndices(w http.ResponseWriter, r *http.Request, expr string) {
	indices, e := s.cluster.resolve(expr, resolveOptions{allowNoIndices: true})
	if e != nil {
		writeError(w, e)
		return
	}
	cols := []string{"health", "status", "index", "uuid", "pri", "rep", "docs.count", "docs.deleted", "store.size", "pri.store.size"}
	rows := make([]map[string]string, 0, len(indices))
	for _, ix := range indices {
		health := "green"
		if ix.replicas() > 0 {
			health = "yellow"
		}
		size := formatBytes(ix.storeSize())
		rows = append(rows, map[string]string{
			"health": health, "status": "open", "index": ix.name, "uuid": ix.uuid,
			"pri": ix.settings["index.number_of_shards"], "rep": strconv.Itoa(ix.replicas()),
			"docs.count": strconv.FormatUint(ix.docCount(), 10), "docs.deleted": "0",
			"store.size": size, "pri.store.size": size,
		})
	}
	s.writeCat(w, r, cols, rows)
}

// writeCat renders a _cat table as JSON (format=json) or aligned text, with
// the h (columns), v (header) and s (sort) parameters.
func (s *Server) writeCat(w http.ResponseWriter, r *http.Request, cols []string, rows []map[string]string) {
	q := r.URL.Query()
	if h := q.Get("h"); h != "" {
		cols = strings.Split(h, ",")
	}
	if sortBy := q.Get("s"); sortBy != "" {
		key, dir, _ := strings.Cut(sortBy, ":")
		sort.SliceStable(rows, func(i, j int) bool {
			if dir == "desc" {
				return rows[i][key] > rows[j][key]
			}
			return rows[i][key] < rows[j][key]
		})
	}
	if q.Get("format") == "json" {
		out := make([]map[string]string, len(rows))
		for i, row := range rows {
			out[i] = map[string]string{}
			for _, c := range cols {
				out[i][c] = row[c]
			}
		}
		writeJSON(w, r, http.StatusOK, out)
		return
	}
	widths := make([]int, len(cols))
	header := q.Has("v")
	for i, c := range cols {
		if header {
			widths[i] = len(c)
		}
		for _, row := range rows {
			widths[i] = max(widths[i], len(row[c]))
		}
	}
	var b strings.Builder
	line := func(get func(string) string) {
		for i, c := range cols {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%-*s", widths[i], get(c))
		}
		b.WriteByte('\n')
	}
	if header {
		line(func(c string) string { return c })
	}
	for _, row := range rows {
		line(func(c string) string { return row[c] })
	}
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	_, _ = w.Write([]byte(b.String()))
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fgb", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fmb", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fkb", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%db", n)
}
