// Package obs serves a service's operational endpoints: Prometheus metrics at
// /metrics, liveness at /healthz and readiness at /readyz, where readiness is
// the state of the named dependencies (etcd, Kafka, Elasticsearch).
package obs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/logcollect/logcollect/pkg/httpshut"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Readiness holds the last known state of each dependency.
type Readiness struct {
	mu    sync.Mutex
	state map[string]error
}

// NewReadiness starts with every named dependency not ready.
func NewReadiness(deps ...string) *Readiness {
	r := &Readiness{state: map[string]error{}}
	for _, d := range deps {
		r.state[d] = errors.New("not connected yet")
	}
	return r
}

// Set records the state of dep: nil means ready.
func (r *Readiness) Set(dep string, err error) {
	r.mu.Lock()
	r.state[dep] = err
	r.mu.Unlock()
}

// Snapshot returns each dependency's state as "ok" or its error text, and
// whether all are ready.
func (r *Readiness) Snapshot() (map[string]string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.state))
	ready := true
	for k, err := range r.state {
		if err != nil {
			out[k], ready = err.Error(), false
		} else {
			out[k] = "ok"
		}
	}
	return out, ready
}

// NewRegistry is a Prometheus registry with the Go runtime and process
// collectors, the usual base for a service's own metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves /metrics, /healthz and /readyz; extra adds more routes
// (a service's /status, say).
func Handler(reg *prometheus.Registry, ready *Readiness, extra map[string]http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		state, ok := ready.Snapshot()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ready": ok, "dependencies": state})
	})
	for path, h := range extra {
		mux.Handle(path, h)
	}
	if PprofEnabled() {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// PprofEnv turns on net/http/pprof under /debug/pprof/ on a service's
// operational server when set to 1 or true. Off by default: profiles reveal
// internals and cost CPU while taken, so they are for benchmarking and
// debugging (devkit/cmd/bench -profile sets it), not for production.
const PprofEnv = "LOGCOLLECT_PPROF"

// PprofEnabled reports whether PprofEnv is set to 1 or true.
func PprofEnabled() bool {
	v := strings.ToLower(os.Getenv(PprofEnv))
	return v == "1" || v == "true"
}

// Server is the operational HTTP server.
type Server struct {
	srv   *http.Server
	conns *httpshut.Conns
	ln    net.Listener
	log   *slog.Logger
}

// Listen binds addr (e.g. "127.0.0.1:9100"); the caller then runs Serve.
// An empty addr disables the server: Listen returns nil, nil.
func Listen(addr string, h http.Handler, log *slog.Logger) (*Server, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	conns := httpshut.NewConns()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ConnState: conns.Track}
	return &Server{srv: srv, conns: conns, ln: ln, log: log}, nil
}

// Addr is the bound address ("127.0.0.1:PORT").
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx is done, then shuts down within 5 s.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve metrics: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return httpshut.Shutdown(sctx, s.srv, s.conns)
	}
}
