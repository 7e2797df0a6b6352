package esemu

import "sync/atomic"

// Stats are counters since Start, for tests and the admin endpoint.
type Stats struct {
	Requests           int64 `json:"requests"`             // HTTP requests received, admin ones excluded
	BulkRequests       int64 `json:"bulk_requests"`        // _bulk requests received, faulted ones included
	BulkItems          int64 `json:"bulk_items"`           // actions in _bulk requests that were parsed successfully
	Indexed            int64 `json:"indexed"`              // documents created or updated (any API)
	Created            int64 `json:"created"`              // of Indexed: new documents
	Updated            int64 `json:"updated"`              // of Indexed: overwritten documents
	Deleted            int64 `json:"deleted"`              // documents deleted
	Rejected           int64 `json:"rejected"`             // write items that failed (mapping errors, conflicts, ...)
	Blackholed         int64 `json:"blackholed"`           // items acknowledged without indexing
	BadRequests        int64 `json:"bad_requests"`         // _bulk requests rejected as a whole (HTTP 400)
	DroppedTailActions int64 `json:"dropped_tail_actions"` // final actions without a source line, ignored as ES does
	FaultsInjected     int64 `json:"faults_injected"`      // bulks failed, connections dropped by fault injection
	DroppedConnections int64 `json:"dropped_connections"`  // of FaultsInjected: connections closed without a response
	Searches           int64 `json:"searches"`             // _search and _count requests
	Refreshes          int64 `json:"refreshes"`            // index refreshes performed
}

// counters is the live, concurrently updated form of Stats.
type counters struct {
	requests, bulkRequests, bulkItems, indexed, created, updated, deleted, rejected, blackholed atomic.Int64
	badRequests, droppedTail, faults, dropped, searches, refreshes                              atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Requests: c.requests.Load(), BulkRequests: c.bulkRequests.Load(), BulkItems: c.bulkItems.Load(),
		Indexed: c.indexed.Load(), Created: c.created.Load(), Updated: c.updated.Load(), Deleted: c.deleted.Load(),
		Rejected: c.rejected.Load(), Blackholed: c.blackholed.Load(), BadRequests: c.badRequests.Load(),
		DroppedTailActions: c.droppedTail.Load(), FaultsInjected: c.faults.Load(), DroppedConnections: c.dropped.Load(),
		Searches: c.searches.Load(), Refreshes: c.refreshes.Load(),
	}
}

// record counts the outcome of one write.
func (c *counters) record(res *writeResult) {
	if res.err != nil {
		c.rejected.Add(1)
		return
	}
	switch res.result {
	case "created":
		c.indexed.Add(1)
		c.created.Add(1)
	case "updated":
		c.indexed.Add(1)
		c.updated.Add(1)
	case "deleted":
		c.deleted.Add(1)
	}
}
