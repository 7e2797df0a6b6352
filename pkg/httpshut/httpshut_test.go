package httpshut

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestShutdownDoesNotWaitForUnusedConnections(t *testing.T) {
	conns := NewConns()
	release, inHandler := make(chan struct{}), make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(inHandler)
			<-release
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ConnState = conns.Track
	srv.Start()
	defer srv.Close()

	// A connection that never sends a request: plain Shutdown waits 5 s on it.
	idle, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// A request in flight, which Shutdown must let finish.
	slowDone := make(chan int, 1)
	go func() {
		resp, err := http.Get(srv.URL + "/slow")
		if err != nil {
			slowDone <- -1
			return
		}
		resp.Body.Close()
		slowDone <- resp.StatusCode
	}()
	deadline := time.Now().Add(5 * time.Second)
	for conns.Len() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := conns.Len(); n != 2 {
		t.Fatalf("tracked %d connections, want 2", n)
	}
	// Tracked is not yet in flight: until the handler runs, the request's
	// connection may still be new, which Shutdown rightly closes.
	select {
	case <-inHandler:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow request never reached the handler")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	shutDone := make(chan error, 1)
	start := time.Now()
	go func() { shutDone <- Shutdown(ctx, srv.Config, conns) }()
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-shutDone:
		t.Fatalf("Shutdown returned %v while a request was in flight", err)
	default:
	}
	close(release)
	if err := <-shutDone; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Shutdown took %v: it waited on the unused connection", took)
	}
	if code := <-slowDone; code != http.StatusNoContent {
		t.Errorf("in-flight request ended with %d, want 204", code)
	}
}

func TestShutdownCutsRequestsAfterDeadline(t *testing.T) {
	conns := NewConns()
	block := make(chan struct{})
	defer close(block)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	srv.Config.ConnState = conns.Track
	srv.Start()
	go func() {
		if resp, err := http.Get(srv.URL); err == nil {
			resp.Body.Close()
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for conns.Len() < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := Shutdown(ctx, srv.Config, conns); err == nil {
		t.Fatal("Shutdown with a stuck request returned nil, want the deadline error")
	}
}
