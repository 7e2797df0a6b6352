package devstack

import (
	"fmt"
	"net"
	"net/http"
	"time"
)

// serveESControl serves the emulator's down switch on addr ("127.0.0.1:0"
// picks a port), for tests that run the emulator in another process. Its
// fault injections are on the emulator's own /_emulator/faults; only the
// way back up from down needs another port.
//
//	POST   /down  the emulator goes down (SetDown(true)): connections refused
//	DELETE /down  it listens again on the same port
func (s *Stack) serveESControl(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("emulator control listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /down", func(w http.ResponseWriter, r *http.Request) {
		s.ES.SetDown(true)
		writeJSON(w, map[string]any{"ok": true})
	})
	mux.HandleFunc("DELETE /down", func(w http.ResponseWriter, r *http.Request) {
		s.ES.SetDown(false)
		writeJSON(w, map[string]any{"ok": true})
	})
	s.esControl = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.esControl.Serve(ln) }()
	s.esCtlURL = "http://" + ln.Addr().String()
	return nil
}
