package esemu

import (
	"net/http"
	"time"
)

// routeAdmin serves the emulator's own endpoints under /_emulator:
//
//	GET    /_emulator/stats   counters (Stats)
//	GET    /_emulator/faults  the faults in force
//	POST   /_emulator/faults  inject faults (FaultConfig JSON)
//	DELETE /_emulator/faults  clear injected faults
//	POST   /_emulator/refresh refresh every index
func (s *Server) routeAdmin(w http.ResponseWriter, r *http.Request, rest []string) {
	if len(rest) != 1 {
		s.noHandler(w, r)
		return
	}
	switch rest[0] {
	case "stats":
		s.allow(w, r, []string{"GET"}, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, r, http.StatusOK, s.Stats()) })
	case "refresh":
		s.allow(w, r, []string{"POST"}, func(w http.ResponseWriter, r *http.Request) {
			for _, ix := range s.cluster.all() {
				s.refreshIndex(ix)
			}
			writeJSON(w, r, http.StatusOK, ack)
		})
	case "faults":
		switch r.Method {
		case "GET":
			writeJSON(w, r, http.StatusOK, s.faultView())
		case "POST", "PUT":
			s.postFaults(w, r)
		case "DELETE":
			drain(r)
			s.ClearFaults()
			writeJSON(w, r, http.StatusOK, s.faultView())
		default:
			s.methodNotAllowed(w, r, []string{"GET", "POST", "PUT", "DELETE"})
		}
	default:
		s.noHandler(w, r)
	}
}

// faultView is the state reported by GET /_emulator/faults.
type faultView struct {
	FailNextBulks       int    `json:"fail_next_bulks"`
	FailNextStatus      int    `json:"fail_next_status,omitempty"`
	FailBulksUntil      string `json:"fail_bulks_until,omitempty"`
	FailBulksStatus     int    `json:"fail_bulks_status,omitempty"`
	Latency             string `json:"latency"`
	DropNextConnections int    `json:"drop_next_connections"`
	RejectNextItems     int    `json:"reject_next_items"`
	RejectItemsStatus   int    `json:"reject_items_status,omitempty"`
	Blackhole           bool   `json:"blackhole"`
}

func (s *Server) faultView() faultView {
	f := &s.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	v := faultView{FailNextBulks: f.failNext, Latency: f.latency.String(), DropNextConnections: f.dropNext, Blackhole: s.blackhole.Load()}
	if f.failNext > 0 {
		v.FailNextStatus = f.failNextStatus
	}
	if f.rejectItems > 0 {
		v.RejectNextItems, v.RejectItemsStatus = f.rejectItems, f.rejectStatus
	}
	if time.Now().Before(f.failUntil) {
		v.FailBulksUntil, v.FailBulksStatus = f.failUntil.UTC().Format(time.RFC3339Nano), f.failForStatus
	}
	return v
}

// FaultConfig is the JSON accepted by POST /_emulator/faults. Omitted fields
// leave the corresponding fault as it is.
type FaultConfig struct {
	FailNextBulks       int    `json:"fail_next_bulks,omitempty"`
	FailBulksFor        string `json:"fail_bulks_for,omitempty"` // Go duration, e.g. "2s"
	RejectNextItems     int    `json:"reject_next_items,omitempty"`
	Status              int    `json:"status,omitempty"`  // for the three above: 429 (default) or 503
	Latency             string `json:"latency,omitempty"` // Go duration; "0s" removes it
	DropNextConnections int    `json:"drop_next_connections,omitempty"`
	// DownFor closes the listener for this long (Go duration); it comes back
	// by itself, since a down server cannot receive the request to come back.
	DownFor   string `json:"down_for,omitempty"`
	Blackhole *bool  `json:"blackhole,omitempty"`
}

func (s *Server) postFaults(w http.ResponseWriter, r *http.Request) {
	body, e := readBody(r)
	if e != nil {
		writeError(w, e)
		return
	}
	var fc FaultConfig
	if e := decodeBody(body, &fc); e != nil {
		writeError(w, e)
		return
	}
	dur := func(name, v string) (time.Duration, *esError) {
		if v == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return 0, errBadRequest("invalid duration for [%s]: %q", name, v)
		}
		return d, nil
	}
	failFor, e1 := dur("fail_bulks_for", fc.FailBulksFor)
	latency, e2 := dur("latency", fc.Latency)
	downFor, e3 := dur("down_for", fc.DownFor)
	for _, e := range []*esError{e1, e2, e3} {
		if e != nil {
			writeError(w, e)
			return
		}
	}
	status := fc.Status
	if status == 0 {
		status = http.StatusTooManyRequests
	}
	if status < 400 || status > 599 {
		writeError(w, errBadRequest("[status] must be an HTTP error status, got %d", status))
		return
	}
	if fc.FailNextBulks > 0 {
		s.FailNextBulks(fc.FailNextBulks, status)
	}
	if failFor > 0 {
		s.FailBulksFor(failFor, status)
	}
	if fc.RejectNextItems > 0 {
		s.RejectNextItems(fc.RejectNextItems, status)
	}
	if fc.Latency != "" {
		s.SetLatency(latency)
	}
	if fc.DropNextConnections > 0 {
		s.DropNextConnections(fc.DropNextConnections)
	}
	if fc.Blackhole != nil {
		s.SetBlackhole(*fc.Blackhole)
	}
	view := s.faultView()
	if downFor > 0 {
		// Answer first: the listener closes right after this response.
		w.Header().Set("Connection", "close")
		writeJSON(w, r, http.StatusOK, view)
		s.goBackground(func() {
			time.Sleep(10 * time.Millisecond)
			s.SetDown(true)
			select {
			case <-time.After(downFor):
				s.SetDown(false)
			case <-s.stop:
			}
		})
		return
	}
	writeJSON(w, r, http.StatusOK, view)
}
