package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/pkg/fleet"
)

// Drift, rejection, staleness and the group summaries, from status
// documents and group keys as etcd holds them.
func TestFleetView(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	r := &fleet.Rollout{ID: "R", Group: "web", State: fleet.StateRunning, Hash: "h1", Wave: 2, Selection: fleet.Selection{All: true, Targets: 3}}
	groups := map[string]groupInfo{"web": {stable: 14, rollout: r}, "db": {stable: 7}, "ops": {stable: 3}}
	doc := func(ip string, age time.Duration, gs ...fleet.GroupState) agentDoc {
		return agentDoc{IP: ip, Hostname: "h-" + ip, HostID: "id-" + ip, UpdatedAt: now.Add(-age), Config: fleet.ConfigStatus{State: fleet.ConfigApplied}, Groups: gs, leased: true}
	}
	docs := []agentDoc{
		doc("10.0.0.1", time.Second, fleet.GroupState{Group: "web", Revision: 14, Rollout: "R", Hash: "h1"}, fleet.GroupState{Group: "db", Revision: 7}),
		doc("10.0.0.2", time.Second, fleet.GroupState{Group: "web", Revision: 14}),
		doc("10.0.0.3", time.Second, fleet.GroupState{Group: "db", Revision: 5}),
		doc("10.0.0.4", time.Hour, fleet.GroupState{Group: "db", Revision: 7, Rejected: "entry 1: outside allowed_paths"}),
		doc("10.0.0.5", time.Second),
	}
	docs[4].leased = false
	rows, sums := fleetView(docs, groups, "", 15*time.Minute, now)
	var lines []string
	for _, s := range sums {
		lines = append(lines, s.String())
	}
	want := []string{
		"db: 3 agents, 2 on r7, 1 rejected, 1 drifted, 1 stale",
		"ops: 0 agents, 0 on r3",
		"web: 2 agents, 1 on r14, 1 in rollout wave 3, 1 offline, 1 drifted",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("summaries:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	flags := map[string]string{}
	for _, row := range rows {
		flags[row.IP] = strings.Join(row.Flags, ",")
	}
	wantFlags := map[string]string{"10.0.0.1": "", "10.0.0.2": "drifted", "10.0.0.3": "drifted", "10.0.0.4": "stale,rejected", "10.0.0.5": "stale"}
	for ip, f := range wantFlags {
		if flags[ip] != f {
			t.Errorf("%s flags %q, want %q", ip, flags[ip], f)
		}
	}
	rows, sums = fleetView(docs, groups, "db", 0, now)
	if len(rows) != 3 || len(sums) != 1 || sums[0].Stale != 0 || sums[0].Agents != 3 {
		t.Errorf("-group db: %d rows, %+v", len(rows), sums)
	}
	if got := thousands(1200) + " " + thousands(999) + " " + thousands(1234567); got != "1,200 999 1,234,567" {
		t.Errorf("thousands: %s", got)
	}
}
