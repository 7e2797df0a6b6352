package agent

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/logagent/internal/config"
	"github.com/logcollect/logcollect/logagent/internal/harvester"
	"github.com/logcollect/logcollect/logagent/internal/testutil"
	"github.com/logcollect/logcollect/pkg/logging"
)

// TestApplyGivesLoadsVerdict feeds the shared table of collect configs to
// the agent's apply path (what runs when a config arrives from etcd or
// the cache) and to collect.Policy.Load (what `logagent validate` and
// `put` run): the same configs are accepted, the same rejected with the
// same problems.
func TestApplyGivesLoadsVerdict(t *testing.T) {
	dir := t.TempDir()
	policy, cases := testutil.Verdicts(t, dir)
	cfg := config.Default()
	cfg.Kafka.Client.Brokers = []string{"127.0.0.1:1"} // never reached: nothing is read
	cfg.Agent.IP, cfg.Agent.Hostname, cfg.Agent.HTTPListen = "127.0.0.1", "test-host", ""
	cfg.Agent.DataDir = filepath.Join(dir, "data")
	cfg.Agent.AllowedPaths, cfg.Agent.AllowJournal = policy.AllowedPaths, policy.AllowJournal
	a, err := New(cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	a.sched = harvester.NewScheduler(0, time.Second)
	t.Cleanup(func() {
		a.reconcile(nil)
		a.sched.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.sink.Close(ctx)
	})

	for i, v := range cases {
		rev := int64(i + 1)
		a.apply([]byte(v.Config), "test", rev, false)
		a.status.mu.Lock()
		st := a.status.config
		a.status.mu.Unlock()
		// Load's verdict, checked against the table; the agent's must be it.
		entries, problems := testutil.Judge(policy, v.Config)
		v.Check(t, "Load", entries, problems)
		switch {
		case st.State == ConfigApplied && st.Revision == rev:
			if problems != nil || st.Entries != entries {
				t.Errorf("%s: the agent applied %d entries; Load says %d entries, problems %q", v.Name, st.Entries, entries, problems)
			}
		case st.Rejected != nil && st.Rejected.Revision == rev:
			if reason := strings.Join(problems, "; "); st.Rejected.Reason != reason {
				t.Errorf("%s: the agent rejected it with\n%s\nLoad with\n%s", v.Name, st.Rejected.Reason, reason)
			}
		default:
			t.Fatalf("%s: no verdict recorded: %+v", v.Name, st)
		}
	}
}
