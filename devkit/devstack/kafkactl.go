package devstack

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ServeControl serves the broker's fault controls over HTTP on addr
// ("127.0.0.1:0" picks a port), for tests that run the broker as its own
// process (devkit/chaos). It returns the base URL; Close stops it.
//
//	POST   /produce-errors  {"error":"NOT_LEADER_FOR_PARTITION","for":"5s","fraction":1}
//	GET    /produce-errors  {"hits":N}: requests failed by the current or last window
//	DELETE /produce-errors  ends the window now
//	POST   /shuffle-leaders moves every partition's leader now
//	GET    /leaders?topic=T {"leaders":[broker id per partition]}
//	POST   /move-leader     {"topic":"T","partition":0,"node":1} (MoveLeader)
//	POST   /produce-counters       {"id":N}: starts counting produce requests (CountProduce)
//	GET    /produce-counters/{id}  {"count":N}
//	POST   /holds           {"node":N} → {"id":N}: holds produce requests to broker N (HoldProduce)
//	GET    /holds/{id}      {"held":N}
//	DELETE /holds/{id}      releases them
func (k *Kafka) ServeControl(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("kafka control listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /produce-errors", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Error    string  `json:"error"`
			For      string  `json:"for"`
			Fraction float64 `json:"fraction"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "body: want {\"error\":\"NOT_LEADER_FOR_PARTITION\",\"for\":\"5s\",\"fraction\":1}: "+err.Error(), http.StatusBadRequest)
			return
		}
		d, err := time.ParseDuration(req.For)
		if err != nil {
			http.Error(w, fmt.Sprintf("for %q: want a duration like 5s", req.For), http.StatusBadRequest)
			return
		}
		if req.Fraction == 0 {
			req.Fraction = 1
		}
		if err := k.FailProduce(req.Error, d, req.Fraction); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, map[string]any{"ok": true})
	})
	mux.HandleFunc("GET /produce-errors", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]int{"hits": k.ProduceFaultHits()})
	})
	mux.HandleFunc("DELETE /produce-errors", func(w http.ResponseWriter, r *http.Request) {
		k.ClearProduceFault()
		writeJSON(w, map[string]any{"ok": true})
	})
	mux.HandleFunc("POST /shuffle-leaders", func(w http.ResponseWriter, r *http.Request) {
		k.ShuffleLeaders()
		writeJSON(w, map[string]any{"ok": true})
	})
	mux.HandleFunc("GET /leaders", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string][]int32{"leaders": k.Leaders(r.URL.Query().Get("topic"))})
	})
	mux.HandleFunc("POST /move-leader", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Topic     string `json:"topic"`
			Partition int32  `json:"partition"`
			Node      int32  `json:"node"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "body: want {\"topic\":\"T\",\"partition\":0,\"node\":1}: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := k.MoveLeader(req.Topic, req.Partition, req.Node); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, map[string]any{"ok": true})
	})
	counters := &registry[func() int]{}
	mux.HandleFunc("POST /produce-counters", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]int{"id": counters.add(k.CountProduce())})
	})
	mux.HandleFunc("GET /produce-counters/{id}", func(w http.ResponseWriter, r *http.Request) {
		if count, ok := counters.lookup(w, r); ok {
			writeJSON(w, map[string]int{"count": count()})
		}
	})
	holds := &registry[*Hold]{}
	mux.HandleFunc("POST /holds", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Node *int32 `json:"node"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Node == nil {
			http.Error(w, fmt.Sprintf("body: want {\"node\":N} (%v)", err), http.StatusBadRequest)
			return
		}
		writeJSON(w, map[string]int{"id": holds.add(k.HoldProduce(*req.Node))})
	})
	mux.HandleFunc("GET /holds/{id}", func(w http.ResponseWriter, r *http.Request) {
		if h, ok := holds.lookup(w, r); ok {
			writeJSON(w, map[string]int64{"held": h.Held()})
		}
	})
	mux.HandleFunc("DELETE /holds/{id}", func(w http.ResponseWriter, r *http.Request) {
		if h, ok := holds.lookup(w, r); ok {
			h.Release()
			writeJSON(w, map[string]any{"ok": true})
		}
	})
	k.ctl = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = k.ctl.Serve(ln) }()
	k.ctlURL = "http://" + ln.Addr().String()
	return k.ctlURL, nil
}

// ControlURL is ServeControl's base URL ("" when not serving).
func (k *Kafka) ControlURL() string { return k.ctlURL }

// registry numbers what a control request started (a counter, a hold) so
// that later requests can name it.
type registry[T any] struct {
	mu    sync.Mutex
	items []T
}

func (g *registry[T]) add(v T) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.items = append(g.items, v)
	return len(g.items)
}

// lookup answers 404 for an unknown {id}.
func (g *registry[T]) lookup(w http.ResponseWriter, r *http.Request) (T, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 1 || id > len(g.items) {
		var zero T
		http.Error(w, fmt.Sprintf("no %s %q", strings.TrimSuffix(strings.Split(r.URL.Path, "/")[1], "s"), r.PathValue("id")), http.StatusNotFound)
		return zero, false
	}
	return g.items[id-1], true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
