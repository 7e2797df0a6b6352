package fleet

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseSteps(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: DefaultSteps, want: "1,10%,50%,100%"},
		{in: "1, 5", want: "1,5,100%"},
		{in: "25%", want: "25%,100%"},
		{in: "100%", want: "100%"},
		{in: "0", err: "neither a count"},
		{in: "10%,5%", err: "larger than the one before"},
		{in: "3,2", err: "larger than the one before"},
		{in: "101%", err: "percentage from 1% to 100%"},
		{in: "", err: "neither a count"},
	} {
		steps, err := ParseSteps(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSteps(%q) = %v, %v; want error with %q", tc.in, steps, err, tc.err)
			}
			continue
		}
		var got []string
		for _, s := range steps {
			got = append(got, s.String())
		}
		if err != nil || strings.Join(got, ",") != tc.want {
			t.Errorf("ParseSteps(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

// The selection of each step picks exactly its share of the members, grows
// wave by wave, and an agent's own check agrees with the count.
func TestSelectIsCumulativeAndAgreesWithSelects(t *testing.T) {
	var members []string
	for i := range 200 {
		members = append(members, fmt.Sprintf("host-%03d", i))
	}
	steps, _ := ParseSteps("1,10%,50%,100%")
	prev := map[string]bool{}
	for i, want := range []int{1, 20, 100, 200} {
		r := &Rollout{Group: "web", State: StateRunning, Selection: Select("web", steps[i], members)}
		got := map[string]bool{}
		for _, m := range members {
			if r.Selects(m) {
				got[m] = true
			}
		}
		if len(got) != want || r.Selection.Targets != want {
			t.Fatalf("step %s selects %d (targets %d), want %d", steps[i], len(got), r.Selection.Targets, want)
		}
		for m := range prev {
			if !got[m] {
				t.Fatalf("step %s dropped %s selected by the wave before", steps[i], m)
			}
		}
		prev = got
	}
	done := &Rollout{Group: "web", State: StateRolledBack, Selection: Selection{All: true}}
	if done.Selects("host-000") {
		t.Error("a rolled-back rollout still selects agents")
	}
	if a, b := WaveHash("web", "h"), WaveHash("db", "h"); a == b {
		t.Error("wave hash ignores the group")
	}
}

func TestKeys(t *testing.T) {
	k := Keys{CollectPattern: "/logagent/%s/collect_config"}
	if got := k.GroupConfig("web"); got != "/logagent/groups/web/collect_config" {
		t.Errorf("GroupConfig = %s", got)
	}
	for key, want := range map[string]string{
		"/logagent/groups/web/collect_config": "web config",
		"/logagent/groups/web/rollout":        "web rollout",
		"/logagent/groups/web/rollout_lock":   "web lock",
		"/logagent/groups/Web/rollout":        "",
		"/logagent/10.0.0.1/collect_config":   "",
		"/logagent/groups/web/other":          "",
	} {
		g, kind, ok := k.ParseGroupKey(key)
		got := ""
		if ok {
			got = g + " " + kind
		}
		if got != want {
			t.Errorf("ParseGroupKey(%s) = %q, want %q", key, got, want)
		}
	}
	custom := Keys{CollectPattern: "/fleet/%s/cfg"}
	if got := custom.GroupConfig("db"); got != "/fleet/groups/db/cfg" {
		t.Errorf("custom GroupConfig = %s", got)
	}
	if CheckGroup("web-1") != nil || CheckGroup("Web") == nil || CheckGroup("a/b") == nil || CheckGroup("") == nil {
		t.Error("CheckGroup")
	}
	if ConfigHash([]byte(`[ {"path":"/a","topic":"t"} ]`)) != ConfigHash([]byte(`[{"path":"/a","topic":"t"}]`)) {
		t.Error("ConfigHash depends on whitespace")
	}
}

// Runs is the gate's view of a GroupState against what Expected says.
func TestGroupStateRuns(t *testing.T) {
	for _, tc := range []struct {
		g         GroupState
		rev       int64
		candidate string
		want      bool
	}{
		{GroupState{Group: "web", Revision: 7}, 7, "", true},
		{GroupState{Group: "web", Revision: 6}, 7, "", false},
		{GroupState{Group: "web", Rollout: "r1", Hash: "abc"}, 0, "abc", true},
		{GroupState{Group: "web", Rollout: "r1", Hash: "abc"}, 7, "", false}, // still on a withdrawn candidate
		{GroupState{Group: "web", Revision: 7, Rollout: "r1", Hash: "abc", Rejected: "outside allowed_paths"}, 0, "abc", false},
		{GroupState{Group: "web", Revision: 7}, 0, "abc", false},
	} {
		if got := tc.g.Runs(tc.rev, tc.candidate); got != tc.want {
			t.Errorf("%+v.Runs(%d, %q) = %v", tc.g, tc.rev, tc.candidate, got)
		}
	}
}
