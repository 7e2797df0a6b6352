package devstack

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
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
	k.ctl = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = k.ctl.Serve(ln) }()
	k.ctlURL = "http://" + ln.Addr().String()
	return k.ctlURL, nil
}

// ControlURL is ServeControl's base URL ("" when not serving).
func (k *Kafka) ControlURL() string { return k.ctlURL }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
