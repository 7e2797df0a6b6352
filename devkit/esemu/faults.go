package esemu

import (
	"net/http"
	"sync"
	"time"
)

// faultState holds the injected faults. Admin endpoints are exempt from all
// of them, so a test can always inspect and clear the server.
type faultState struct {
	mu             sync.Mutex
	failNext       int
	failNextStatus int
	failUntil      time.Time
	failForStatus  int
	latency        time.Duration
	dropNext       int
	rejectItems    int
	rejectStatus   int
}

// FailNextBulks answers the next n _bulk requests with status (429 or 503
// get ES's bodies for those conditions) without executing them.
func (s *Server) FailNextBulks(n int, status int) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.failNext, s.faults.failNextStatus = n, status
}

// FailBulksFor answers every _bulk request with status until d has passed.
func (s *Server) FailBulksFor(d time.Duration, status int) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.failUntil, s.faults.failForStatus = time.Now().Add(d), status
}

// RejectNextItems fails the next n bulk items (across requests) with status
// inside an otherwise successful 200 response, as ES does when its write
// thread pool queue is full (429 es_rejected_execution_exception). The
// items are not indexed; clients must retry exactly those items.
func (s *Server) RejectNextItems(n int, status int) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.rejectItems, s.faults.rejectStatus = n, status
}

// SetLatency delays every request by d before it is handled.
func (s *Server) SetLatency(d time.Duration) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.latency = d
}

// DropNextConnections makes the next n requests close their connection
// without any response, as a crashing or partitioned node would.
func (s *Server) DropNextConnections(n int) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.dropNext = n
}

// SetBlackhole switches blackhole mode: bulks are parsed and acknowledged
// with ES-shaped per-item results but nothing is indexed.
func (s *Server) SetBlackhole(on bool) { s.blackhole.Store(on) }

// ClearFaults removes every injected fault (not the down state nor blackhole
// mode, which have their own switches).
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.failNext, s.faults.failUntil, s.faults.latency, s.faults.dropNext = 0, time.Time{}, 0, 0
	s.faults.rejectItems = 0
}

func (f *faultState) takeBulkFault() (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failNext > 0 {
		f.failNext--
		return f.failNextStatus, true
	}
	if time.Now().Before(f.failUntil) {
		return f.failForStatus, true
	}
	return 0, false
}

func (f *faultState) takeItemFault() (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rejectItems > 0 {
		f.rejectItems--
		return f.rejectStatus, true
	}
	return 0, false
}

func (f *faultState) takeDrop() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dropNext > 0 {
		f.dropNext--
		return true
	}
	return false
}

func (f *faultState) currentLatency() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.latency
}

// faultError is the body ES sends in the situations the statuses stand for:
// 429 when the write thread pool or indexing pressure rejects a request,
// 503 when the cluster has no master.
func faultError(status int) *esError {
	switch status {
	case http.StatusTooManyRequests:
		return newError(status, "es_rejected_execution_exception",
			"rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, "+
				"all_bytes=0, coordinating_operation_bytes=0, max_coordinating_and_primary_bytes=0]")
	case http.StatusServiceUnavailable:
		return newError(status, "cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/2/no master];")
	}
	return newError(status, "exception", "injected fault with status %d", status)
}

// itemFaultError is the per-item error of a rejected bulk item.
func itemFaultError(status int, index string) *esError {
	if status == http.StatusTooManyRequests {
		return newError(status, "es_rejected_execution_exception",
			"rejected execution of org.elasticsearch.action.support.replication.TransportWriteAction$1 on "+
				"EsThreadPoolExecutor[name = esemu/write, queue capacity = 10000, active threads = 2, queued tasks = 10000]")
	}
	if status == http.StatusServiceUnavailable {
		return newError(status, "unavailable_shards_exception",
			"[%s][0] primary shard is not active Timeout: [1m], request: [BulkShardRequest [[%s][0]]]", index, index).forIndex(index, "")
	}
	return newError(status, "exception", "injected item fault with status %d", status)
}
