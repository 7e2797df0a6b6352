// Package console serves the web console under /ui/ on the transfer's
// http_listen: Fleet, Rollouts, Delivery and Search pages (plain HTML, CSS
// and JavaScript embedded in the binary, no framework, no build step) and
// the JSON endpoints under /ui/api/ the pages call. It only reads, except
// rollout abort (POST, with a header the page sets, so a cross-site form
// cannot trigger it). See docs/console.md.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/pkg/etcdconf"
	"github.com/logcollect/logcollect/pkg/fleet"
)

//go:embed ui
var assets embed.FS

// Searcher posts a search body to path ("<indices>/_search") on
// Elasticsearch and returns the answer; other than 2xx is an error. The
// audit package takes the same interface.
type Searcher interface {
	Search(ctx context.Context, path string, body []byte) ([]byte, error)
}

// Options configure a Console.
type Options struct {
	ES Searcher
	// Indices are the data indices to search ("<index_prefix>-*");
	// DeadLetterIndex is left out of the search and counted apart by the
	// audit.
	Indices, DeadLetterIndex string
	// Etcd is the transfer's [etcd]: no endpoints turn the fleet pages
	// off (they say so). The client is made at the first page that needs
	// it, and again after a failure, so etcd being down never stops the
	// transfer; abort builds the operator's client from it.
	Etcd          etcdconf.Settings
	Keys          fleet.Keys
	StatusPattern string // the agents' status key pattern (one %s)
	// StaleAfter flags an agent whose status was not rewritten for this
	// long although its lease lives (stuck, or its clock is off).
	StaleAfter time.Duration
	// Request bounds each etcd and Elasticsearch call of a page (10s).
	Request time.Duration
	Log     *slog.Logger
}

// Console is the /ui/ handler.
type Console struct {
	o   Options
	mux *http.ServeMux

	mu  sync.Mutex
	cli *clientv3.Client
}

// CSRFHeader must be present on every POST: browsers do not let another
// site's page set it without a CORS preflight, which the console never
// grants.
const CSRFHeader = "X-Logcollect-Console"

// New checks o and builds the handler.
func New(o Options) (*Console, error) {
	if o.ES == nil {
		return nil, errors.New("console: no Elasticsearch searcher")
	}
	if o.Indices == "" {
		return nil, errors.New("console: no indices to search")
	}
	if len(o.Etcd.Endpoints) > 0 && (!fleet.OnePlaceholder(o.Keys.CollectPattern) || !fleet.OnePlaceholder(o.StatusPattern)) {
		return nil, fmt.Errorf("console: key patterns %q, %q need exactly one %%s", o.Keys.CollectPattern, o.StatusPattern)
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 15 * time.Minute // as `logagent agents -stale`
	}
	if o.Request <= 0 {
		o.Request = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	c := &Console{o: o, mux: http.NewServeMux()}
	ui, err := fs.Sub(assets, "ui")
	if err != nil {
		return nil, err
	}
	c.mux.Handle("GET /ui/", http.StripPrefix("/ui/", http.FileServerFS(ui)))
	c.mux.Handle("GET /ui/api/fleet", c.fleetHandler(noEtcd, c.getFleet))
	c.mux.Handle("GET /ui/api/rollouts", c.fleetHandler(noEtcd, c.getRollouts))
	c.mux.HandleFunc("POST /ui/api/rollouts/{group}/abort", c.postAbort)
	c.mux.Handle("GET /ui/api/delivery", c.fleetHandler(noEtcd+" (the audit compares the agents' status documents with Elasticsearch)", c.getDelivery))
	c.mux.HandleFunc("GET /ui/api/search", c.getSearch)
	return c, nil
}

// ServeHTTP serves /ui/ and /ui/api/.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:")
	if r.Method == http.MethodPost && r.Header.Get(CSRFHeader) == "" {
		httpError(w, http.StatusForbidden, fmt.Errorf("missing the %s header: the console's own page sets it", CSRFHeader))
		return
	}
	c.mux.ServeHTTP(w, r)
}

// ctx bounds one request's backend calls.
func (c *Console) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), c.o.Request)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// etcdOff is what the fleet endpoints answer without [etcd].
type etcdOff struct {
	Enabled bool   `json:"enabled"`
	Reason  string `json:"reason"`
}

const noEtcd = "logtransfer has no [etcd] endpoints: set [etcd] endpoints (and a read-only user) in its ini file to see the fleet and its rollouts here"

func hostOnly(remote string) string {
	if i := strings.LastIndexByte(remote, ':'); i > 0 {
		return remote[:i]
	}
	return remote
}

func (c *Console) explain(err error) error { return etcdconf.Explain(err, c.o.Etcd) }

// etcdOn tells whether [etcd] has endpoints.
func (c *Console) etcdOn() bool { return len(c.o.Etcd.Endpoints) > 0 }

// etcd returns the console's client, made now if needed.
func (c *Console) etcd() (*clientv3.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cli == nil {
		cli, err := etcdconf.New(c.o.Etcd)
		if err != nil {
			return nil, c.explain(err)
		}
		c.cli = cli
	}
	return c.cli, nil
}

// Close closes the etcd client; safe to call twice.
func (c *Console) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cli == nil {
		return nil
	}
	err := c.cli.Close()
	c.cli = nil
	return err
}
