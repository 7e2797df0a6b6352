package esemu

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/logcollect/logcollect/pkg/httpshut"
)

// Config configures a Server. The zero value is a usable in-memory server on
// a random local port.
type Config struct {
	Addr               string        // listen address; "" means "127.0.0.1:0"
	DataDir            string        // "" = in memory; else indices, mappings, templates and documents survive a restart
	Username, Password string        // when Username != "", HTTP basic auth is required on every endpoint
	RefreshInterval    time.Duration // default 1s; writes become searchable after it, after _refresh, or with ?refresh
	Blackhole          bool          // acknowledge bulks with correct per-item results without indexing
	Logger             *slog.Logger  // nil = discard
	// MaxContentLength is ES's http.max_content_length: larger request
	// bodies are refused with 413. 0 means ES's default, 100mb.
	MaxContentLength int64
	// TLS, when set, serves HTTPS (ES's xpack.security.http.ssl), for
	// tests of clients' TLS settings.
	TLS *tls.Config
}

// defaultMaxContentLength is ES's default http.max_content_length.
const defaultMaxContentLength = 100 << 20

// Server is a running emulator.
type Server struct {
	cfg     Config
	log     *slog.Logger
	cluster *cluster
	httpSrv *http.Server
	addr    string

	lnMu  sync.Mutex // guards ln, down
	ln    net.Listener
	down  bool
	conns *httpshut.Conns

	faults    faultState
	stats     counters
	blackhole atomic.Bool
	bhSeq     blackholeSeq

	stop      chan struct{}
	bg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Start listens on cfg.Addr and serves in the background until Close.
func Start(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.MaxContentLength <= 0 {
		cfg.MaxContentLength = defaultMaxContentLength
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg: cfg, log: log, conns: httpshut.NewConns(), stop: make(chan struct{}),
		cluster: &cluster{indices: map[string]*esIndex{}, templates: newTemplateStore(), dataDir: cfg.DataDir, uuid: randomUUID(), log: log},
	}
	s.blackhole.Store(cfg.Blackhole)
	if cfg.DataDir != "" {
		if err := s.cluster.load(); err != nil {
			return nil, fmt.Errorf("load emulator state from %s: %w", cfg.DataDir, err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		s.closeIndices()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	s.addr = ln.Addr().String()
	s.httpSrv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ConnState:         s.conns.Track,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	s.serve(ln)
	s.bg.Add(1)
	go s.refreshLoop()
	log.Info("elasticsearch emulator listening", "url", s.URL(), "data_dir", cfg.DataDir, "blackhole", cfg.Blackhole)
	return s, nil
}

// URL is the base URL clients connect to, e.g. "http://127.0.0.1:9200"
// ("https://…" with TLS).
func (s *Server) URL() string {
	if s.cfg.TLS != nil {
		return "https://" + s.addr
	}
	return "http://" + s.addr
}

// Addr is the host:port the server listens on; it stays the same across SetDown.
func (s *Server) Addr() string { return s.addr }

// Stats returns the counters since Start.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

func (s *Server) serve(ln net.Listener) {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if s.closing() {
		_ = ln.Close()
		return
	}
	s.ln = ln
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	// Added under lnMu, which Close takes before waiting, so Close never
	// waits on a group that grows behind its back.
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		// Serve returns when the listener is closed by SetDown or Close.
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.log.Error("serve", "err", err)
		}
	}()
}

// goBackground runs f as part of the server's lifetime unless Close has
// begun; Close waits for it.
func (s *Server) goBackground(f func()) {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if s.closing() {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		f()
	}()
}

// SetDown simulates a node going away: while down the listener is closed,
// so connecting fails with "connection refused", and open connections are
// cut. Coming back listens again on the same port.
func (s *Server) SetDown(down bool) {
	s.lnMu.Lock()
	if s.down == down || s.closing() {
		s.lnMu.Unlock()
		return
	}
	s.down = down
	if down {
		if s.ln != nil {
			_ = s.ln.Close()
			s.ln = nil
		}
		s.conns.CloseAll()
		s.lnMu.Unlock()
		s.log.Info("emulator down", "addr", s.addr)
		return
	}
	s.lnMu.Unlock()
	ln, err := listenAgain(s.addr)
	if err != nil {
		s.log.Error("listen again after down", "addr", s.addr, "err", err)
		return
	}
	s.serve(ln)
	s.log.Info("emulator up again", "addr", s.addr)
}

// listenAgain retries briefly: the port is ours, but the kernel may still
// hold the closed socket for a moment.
func listenAgain(addr string) (net.Listener, error) {
	var lastErr error
	for i := 0; i < 50; i++ {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			return ln, nil
		}
		lastErr = err
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("listen on %s: %w", addr, lastErr)
}

func (s *Server) closing() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// Close stops serving, refreshes and persists every index and closes them.
// It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.lnMu.Lock()
		close(s.stop)
		s.lnMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := httpshut.Shutdown(ctx, s.httpSrv, s.conns)
		s.bg.Wait()
		s.closeErr = errors.Join(err, s.closeIndices())
	})
	return s.closeErr
}

func (s *Server) closeIndices() error {
	var errs []error
	for _, ix := range s.cluster.all() {
		if err := ix.close(); err != nil {
			errs = append(errs, err)
		}
		ix.metaDirty = true
		if err := ix.saveMeta(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.cluster.saveTemplates(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// refreshLoop refreshes each index when its refresh interval has passed.
func (s *Server) refreshLoop() {
	defer s.bg.Done()
	tick := s.cfg.RefreshInterval / 4
	if tick > 100*time.Millisecond {
		tick = 100 * time.Millisecond
	}
	if tick < time.Millisecond {
		tick = time.Millisecond
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		for _, ix := range s.cluster.all() {
			every := ix.refreshInterval(s.cfg.RefreshInterval)
			if every < 0 || time.Since(ix.lastRefresh()) < every {
				continue
			}
			s.refreshIndex(ix)
		}
	}
}

func (s *Server) refreshIndex(ix *esIndex) {
	applied, err := ix.refresh()
	if err != nil {
		s.log.Error("refresh", "index", ix.name, "err", err)
		return
	}
	if applied {
		s.stats.refreshes.Add(1)
	}
	if err := ix.saveMeta(); err != nil {
		s.log.Error("save index metadata", "index", ix.name, "err", err)
	}
}

// drain discards a request body so the connection can be reused.
func drain(r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
}
