package harvester

import (
	"log/slog"
	"sync"

	"github.com/logcollect/logcollect/logagent/internal/processor"
)

// chainReport carries what an entry's processor chain counted (its Stats)
// over to the per-entry metrics, and logs rate_limit drops once a minute.
// The chain counts with atomics on the hot path; the metrics are brought
// up to date after every harvester step, by difference, so they keep
// growing across restarts of the entry (a new chain counts from 0).
type chainReport struct {
	mu   sync.Mutex
	last processor.Stats
}

// reportChain publishes the chain's counts since the last report.
func (t *Task) reportChain() {
	c := t.o.Entry.Chain
	if c == nil || c.Len() == 0 {
		return
	}
	t.chainRep.mu.Lock()
	defer t.chainRep.mu.Unlock()
	s, last := c.Stats(), t.chainRep.last
	t.chainRep.last = s
	entry, m := t.o.Entry.Path, t.o.Metrics
	if d := s.Filtered - last.Filtered; d > 0 {
		m.ProcessorDropped.WithLabelValues(entry, "filtered").Add(float64(d))
	}
	if d := s.Failed - last.Failed; d > 0 {
		m.ProcessorErrors.WithLabelValues(entry).Add(float64(d))
	}
	if d := s.RateLimited - last.RateLimited; d > 0 {
		m.ProcessorDropped.WithLabelValues(entry, "rate_limited").Add(float64(d))
		t.errLog.Log(t.o.Log, slog.LevelWarn, "rate_limit "+entry, "collect entry over its rate_limit: lines dropped (acknowledged without being sent)",
			"entry", entry, "dropped_since_start", s.RateLimited)
	}
}
