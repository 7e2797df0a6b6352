// Package rollout drives a staged rollout of a group's collect config: it
// writes the rollout document the agents follow (pkg/fleet), judges each
// wave from the agents' status documents, advances, rolls back or
// completes it, and holds a lock while it does. The health gate (Judge) is
// a pure function of what the agents report, so its rules are tested as a
// table; the controller only gathers the reports and acts on the verdict.
package rollout

import (
	"fmt"
	"sort"
	"time"

	"github.com/logcollect/logcollect/pkg/fleet"
)

// Target is one agent of the current wave as the gate sees it: who it is,
// what its status says now (nil: no status, the agent is offline), and
// what the controller noted when it first saw the candidate applied.
type Target struct {
	HostID, Host, IP string
	Report           *Report
	// AppliedSince is when the controller first saw the agent report the
	// candidate applied and healthy (zero: not yet); the bake time runs
	// from it. LagAtApply is the agent's lag at that moment.
	AppliedSince time.Time
	LagAtApply   int64
}

// Report is what an agent's status says about the group under rollout.
type Report struct {
	Group  *fleet.GroupState // nil: the agent does not list the group (any more)
	Health fleet.Health
}

// LagSlack is how much an agent's lag may grow over its lag when it
// applied the candidate before the gate calls it "lag growing": lag moves
// with every burst of writes, so only a rise beyond both this and the lag
// at apply (doubling) counts.
const LagSlack = 1 << 20

// Verdict is the gate's judgement of a wave.
type Verdict struct {
	Passed   bool            // every target applied the candidate and stayed healthy for the bake time
	Failures []fleet.Failure // the wave failed: these targets, with their reasons
	// Applied counts targets running the candidate and healthy; Baking
	// those of them whose bake time has not run out; Waiting lists why the
	// others are not there yet (host: reason), for the progress line.
	Applied, Baking int
	Waiting         []string
	// Start marks targets seen applied and healthy for the first time now:
	// the controller records AppliedSince and LagAtApply for them.
	Start []string // host ids
}

// Judge decides the current wave of r over its targets at now. A target
// fails the wave at once when it rejected the candidate, has new read or
// permission errors, matches no files where the stable config matched
// some, or its lag grows beyond LagSlack and its lag at apply; it fails
// at timeout after the wave started when it has not reported the
// candidate applied by then (offline, not listing the group, or still on
// the stable revision). The wave passes when every target has been
// applied and healthy for r.Bake. Waves with no targets pass.
func Judge(r *fleet.Rollout, targets []Target, now time.Time, timeout time.Duration) Verdict {
	var v Verdict
	late := !r.WaveStartedAt.IsZero() && now.Sub(r.WaveStartedAt) >= timeout
	fail := func(t Target, reason string) {
		v.Failures = append(v.Failures, fleet.Failure{Host: t.Host, IP: t.IP, Reason: reason})
	}
	wait := func(t Target, reason string) {
		if late {
			fail(t, fmt.Sprintf("%s after %s (-timeout)", reason, timeout))
			return
		}
		v.Waiting = append(v.Waiting, t.Host+": "+reason)
	}
	for _, t := range targets {
		rep := t.Report
		switch {
		case rep == nil:
			wait(t, "offline (no status)")
			continue
		case rep.Group == nil:
			wait(t, "does not list group "+r.Group+" in its status")
			continue
		}
		g := rep.Group
		if g.Rejected != "" && g.Rollout == r.ID {
			fail(t, "rejected the candidate: "+g.Rejected)
			continue
		}
		if g.Rollout != r.ID || !g.Runs(0, r.Hash) {
			wait(t, fmt.Sprintf("not running the candidate yet (runs r%d)", g.Revision))
			continue
		}
		if reason := unhealthy(rep.Health, t); reason != "" {
			fail(t, reason)
			continue
		}
		v.Applied++
		switch {
		case t.AppliedSince.IsZero():
			v.Start = append(v.Start, t.HostID)
			if r.Bake > 0 {
				v.Baking++
			}
		case now.Sub(t.AppliedSince) < r.Bake:
			v.Baking++
		}
	}
	sort.Slice(v.Failures, func(i, j int) bool { return v.Failures[i].Host < v.Failures[j].Host })
	v.Passed = len(v.Failures) == 0 && v.Applied == len(targets) && v.Baking == 0
	return v
}

// unhealthy names what is wrong with an agent running the candidate, or
// "" when nothing is.
func unhealthy(h fleet.Health, t Target) string {
	switch {
	case h.PermissionErrors > 0:
		return fmt.Sprintf("%d permission errors since the candidate was applied", h.PermissionErrors)
	case h.ReadErrors > 0:
		return fmt.Sprintf("%d read errors since the candidate was applied", h.ReadErrors)
	case h.FilesMatched == 0 && h.FilesMatchedBefore > 0:
		return fmt.Sprintf("matches no files (the stable config matched %d)", h.FilesMatchedBefore)
	case !t.AppliedSince.IsZero() && h.Lag > t.LagAtApply+max(t.LagAtApply, LagSlack):
		return fmt.Sprintf("lag growing: %d bytes, %d when the candidate was applied", h.Lag, t.LagAtApply)
	}
	return ""
}
