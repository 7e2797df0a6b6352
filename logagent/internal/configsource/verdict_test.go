package configsource

import (
	"strings"
	"testing"

	"github.com/logcollect/logcollect/logagent/internal/testutil"
	"github.com/logcollect/logcollect/pkg/fleet"
	"github.com/logcollect/logcollect/pkg/logging"
)

// TestWatcherGivesLoadsVerdict feeds the shared table of collect configs
// to the watcher as versions of the host key and of a group's config (what
// the agent runs when a config arrives from etcd) and to
// collect.Policy.Load (what `logagent validate` and `put` run): the same
// configs are accepted, the same rejected with the same problems.
func TestWatcherGivesLoadsVerdict(t *testing.T) {
	policy, cases := testutil.Verdicts(t, t.TempDir())
	for _, source := range []string{fleet.SourceHost, fleet.GroupSource("web")} {
		var got *Desired
		w, err := New(Options{Client: nopClient{}, HostKey: "/logagent/10.0.0.1/collect_config", Keys: fleet.Keys{CollectPattern: "/logagent/%s/collect_config"},
			Groups: []string{"web"}, HostID: "h1", Policy: policy, Log: logging.Discard(), Apply: func(d Desired) { got = &d }})
		if err != nil {
			t.Fatal(err)
		}
		k := &w.host
		if source != fleet.SourceHost {
			k = &w.groups[0].stable
		}
		for i, v := range cases {
			rev := int64(i + 1)
			k.set([]byte(v.Config), rev)
			w.emit()
			entries, problems := testutil.Judge(policy, v.Config)
			v.Check(t, "Load", entries, problems)
			var rej *fleet.Rejected
			for _, r := range got.Rejected {
				if r.Source == source && r.Revision == rev {
					rej = &r
				}
			}
			in := got.Inputs[0]
			if source != fleet.SourceHost {
				in = got.Inputs[1]
			}
			switch {
			case rej == nil && in.Revision == rev:
				if problems != nil || len(got.Entries) != entries {
					t.Errorf("%s %s: the watcher applied %d entries; Load says %d entries, problems %q", source, v.Name, len(got.Entries), entries, problems)
				}
			case rej != nil:
				if want := strings.Join(problems, "; "); rej.Reason != want {
					t.Errorf("%s %s: the watcher rejected it with\n%s\nLoad with\n%s", source, v.Name, rej.Reason, want)
				}
				if in.Revision == rev {
					t.Errorf("%s %s: rejected, yet its revision runs", source, v.Name)
				}
			default:
				t.Fatalf("%s %s: no verdict: %+v", source, v.Name, got)
			}
		}
	}
}
