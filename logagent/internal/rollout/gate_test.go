package rollout

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/pkg/fleet"
)

func TestJudge(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	r := &fleet.Rollout{ID: "r1", Group: "web", Hash: "abc", Bake: 10 * time.Second, WaveStartedAt: t0}
	const timeout = time.Minute
	onCandidate := &fleet.GroupState{Group: "web", Revision: 7, Rollout: "r1", Hash: "abc"}
	onStable := &fleet.GroupState{Group: "web", Revision: 7}
	target := func(host string, rep *Report, since time.Time, lag int64) Target {
		return Target{HostID: "id-" + host, Host: host, IP: "10.0.0.1", Report: rep, AppliedSince: since, LagAtApply: lag}
	}
	healthy := func(g *fleet.GroupState) *Report {
		return &Report{Group: g, Health: fleet.Health{FilesMatched: 2, FilesMatchedBefore: 2}}
	}
	with := func(h fleet.Health) *Report { return &Report{Group: onCandidate, Health: h} }
	tests := []struct {
		name     string
		targets  []Target
		now      time.Time
		passed   bool
		failures []string // host: reason substring
		start    []string
		waiting  int
	}{
		{name: "no targets pass", now: t0, passed: true},
		{name: "first seen applied: the bake starts", targets: []Target{target("a", healthy(onCandidate), time.Time{}, 0)}, now: t0.Add(time.Second), start: []string{"id-a"}},
		{name: "baking", targets: []Target{target("a", healthy(onCandidate), t0, 0)}, now: t0.Add(9 * time.Second)},
		{name: "baked", targets: []Target{target("a", healthy(onCandidate), t0, 0)}, now: t0.Add(10 * time.Second), passed: true},
		{name: "one baked, one still on stable", targets: []Target{target("a", healthy(onCandidate), t0, 0), target("b", healthy(onStable), time.Time{}, 0)}, now: t0.Add(20 * time.Second), waiting: 1},
		{name: "still on stable at the timeout", targets: []Target{target("a", healthy(onCandidate), t0, 0), target("b", healthy(onStable), time.Time{}, 0)}, now: t0.Add(time.Minute),
			failures: []string{"b: not running the candidate yet (runs r7) after 1m0s (-timeout)"}},
		{name: "offline waits", targets: []Target{target("a", nil, time.Time{}, 0)}, now: t0.Add(30 * time.Second), waiting: 1},
		{name: "offline at the timeout", targets: []Target{target("a", nil, time.Time{}, 0)}, now: t0.Add(2 * time.Minute), failures: []string{"a: offline (no status) after 1m0s"}},
		{name: "left the group", targets: []Target{target("a", &Report{}, time.Time{}, 0)}, now: t0.Add(2 * time.Minute), failures: []string{"a: does not list group web"}},
		{name: "rejected fails at once", targets: []Target{target("a", healthy(&fleet.GroupState{Group: "web", Revision: 7, Rollout: "r1", Hash: "abc", Rejected: "entry 1: outside allowed_paths"}), time.Time{}, 0)}, now: t0,
			failures: []string{"a: rejected the candidate: entry 1: outside allowed_paths"}},
		{name: "a rejected stable config waits for the candidate", targets: []Target{target("a", healthy(&fleet.GroupState{Group: "web", Revision: 6, Rejected: "stable refused"}), time.Time{}, 0)}, now: t0, waiting: 1},
		{name: "a rejection of another rollout waits", targets: []Target{target("a", healthy(&fleet.GroupState{Group: "web", Revision: 7, Rollout: "r0", Rejected: "old"}), time.Time{}, 0)}, now: t0, waiting: 1},
		{name: "read errors", targets: []Target{target("a", with(fleet.Health{ReadErrors: 3, FilesMatched: 1}), time.Time{}, 0)}, now: t0, failures: []string{"a: 3 read errors since"}},
		{name: "permission errors", targets: []Target{target("a", with(fleet.Health{PermissionErrors: 1, FilesMatched: 1}), t0, 0)}, now: t0.Add(time.Hour), failures: []string{"a: 1 permission errors since"}},
		{name: "matched files fell to zero", targets: []Target{target("a", with(fleet.Health{FilesMatchedBefore: 4}), t0, 0)}, now: t0.Add(time.Second), failures: []string{"a: matches no files (the stable config matched 4)"}},
		{name: "no files before and after is fine", targets: []Target{target("a", with(fleet.Health{}), t0, 0)}, now: t0.Add(time.Minute), passed: true},
		{name: "lag within slack", targets: []Target{target("a", with(fleet.Health{FilesMatched: 1, Lag: LagSlack}), t0, 100)}, now: t0.Add(time.Minute), passed: true},
		{name: "lag growing", targets: []Target{target("a", with(fleet.Health{FilesMatched: 1, Lag: 3 << 20}), t0, 1<<20)}, now: t0.Add(5 * time.Second), failures: []string{"a: lag growing: 3145728 bytes, 1048576 when"}},
		{name: "every failing host is named", targets: []Target{
			target("c", with(fleet.Health{ReadErrors: 1}), t0, 0),
			target("a", healthy(&fleet.GroupState{Group: "web", Rollout: "r1", Rejected: "bad"}), time.Time{}, 0),
			target("b", healthy(onCandidate), t0, 0),
		}, now: t0.Add(time.Minute), failures: []string{"a: rejected", "c: 1 read errors"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Judge(r, tt.targets, tt.now, timeout)
			var got []string
			for _, f := range v.Failures {
				got = append(got, f.Host+": "+f.Reason)
			}
			if len(got) != len(tt.failures) {
				t.Fatalf("failures %q, want %q", got, tt.failures)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.failures[i]) && !strings.Contains(got[i], tt.failures[i]) {
					t.Errorf("failure %q, want %q", got[i], tt.failures[i])
				}
			}
			if v.Passed != tt.passed {
				t.Errorf("passed %v, want %v (%+v)", v.Passed, tt.passed, v)
			}
			if !reflect.DeepEqual(v.Start, tt.start) {
				t.Errorf("start %v, want %v", v.Start, tt.start)
			}
			if len(v.Waiting) != tt.waiting {
				t.Errorf("waiting %q, want %d", v.Waiting, tt.waiting)
			}
		})
	}
}

// Without a bake time a wave passes as soon as every target applied.
func TestJudgeNoBake(t *testing.T) {
	r := &fleet.Rollout{ID: "r1", Group: "web", Hash: "abc", WaveStartedAt: time.Now()}
	tg := Target{Host: "a", HostID: "id-a", Report: &Report{Group: &fleet.GroupState{Group: "web", Rollout: "r1", Hash: "abc"}}}
	if v := Judge(r, []Target{tg}, time.Now(), time.Minute); !v.Passed || len(v.Start) != 1 {
		t.Errorf("%+v", v)
	}
}
