// Package httpshut shuts an http.Server down gracefully without waiting on
// connections that never carried a request.
//
// http.Server.Shutdown treats a connection in StateNew as busy for its first
// five seconds. Clients with connection pools dial such connections
// speculatively (two requests race for a connection, one wins, the other
// dial is parked unused), so a plain Shutdown can stall for 5 s and then
// fail with "context deadline exceeded" although no request was in flight.
package httpshut

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// Conns records the state of a server's connections. Install Track as the
// server's ConnState hook.
type Conns struct {
	mu    sync.Mutex
	state map[net.Conn]http.ConnState
}

// NewConns returns an empty tracker.
func NewConns() *Conns { return &Conns{state: map[net.Conn]http.ConnState{}} }

// Track is an http.Server ConnState hook.
func (c *Conns) Track(conn net.Conn, state http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch state {
	case http.StateClosed, http.StateHijacked:
		delete(c.state, conn)
	default:
		c.state[conn] = state
	}
}

// CloseAll cuts every open connection, in-flight requests included.
func (c *Conns) CloseAll() { c.close(func(http.ConnState) bool { return true }) }

// CloseUnused closes the connections that never carried a request.
func (c *Conns) CloseUnused() {
	c.close(func(st http.ConnState) bool { return st == http.StateNew })
}

// Len is the number of open connections.
func (c *Conns) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.state)
}

func (c *Conns) close(match func(http.ConnState) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for conn, st := range c.state {
		if match(st) {
			_ = conn.Close()
		}
	}
}

// Shutdown stops srv: it closes the listeners and unused connections, lets
// in-flight requests finish until ctx is done, then cuts what is left.
// Connections closed by an earlier listener close are not an error.
func Shutdown(ctx context.Context, srv *http.Server, conns *Conns) error {
	// Unused connections are closed for as long as Shutdown waits: one may be
	// accepted just before the listener closes. A request that arrives on
	// one fails like one sent to a server that just went away, which clients
	// already handle; Shutdown itself then only waits for real requests.
	done := make(chan struct{})
	defer close(done)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			conns.CloseUnused()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	err := srv.Shutdown(ctx)
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	if err != nil {
		return errors.Join(err, srv.Close())
	}
	return nil
}
