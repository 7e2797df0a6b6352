package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/logcollect/logcollect/logagent/internal/testutil"
)

// TestValidateGivesLoadsVerdict runs `logagent validate -config` on the
// shared table of collect configs: it accepts and rejects what
// collect.Policy.Load (the agent's apply path) does, and prints exactly
// Load's problems (internal/agent tests the agent against Load).
func TestValidateGivesLoadsVerdict(t *testing.T) {
	dir := t.TempDir()
	policy, cases := testutil.Verdicts(t, dir)
	ini := writeFile(t, dir, "agent.ini", "[agent]\nallowed_paths = "+dir+"/**\nallow_journal = false\n")
	for i, v := range cases {
		f := writeFile(t, dir, fmt.Sprintf("c%d.json", i), v.Config)
		code, out, errs := run(t, "validate", "-config", ini, f)
		entries, problems := testutil.Judge(policy, v.Config)
		v.Check(t, "Load", entries, problems)
		want := ""
		if problems == nil {
			if code != 0 || !strings.HasPrefix(out, fmt.Sprintf("OK: %s: %s", f, plural(entries, "entry", "entries"))) {
				t.Errorf("%s: exit %d, stdout %q stderr %q; want OK with %d entries", v.Name, code, out, errs, entries)
			}
			continue
		}
		for _, p := range problems {
			want += f + ": " + p + "\n"
		}
		want += f + ": " + plural(len(problems), "problem", "problems") + "\n"
		if code != exitRuntime || errs != want {
			t.Errorf("%s: exit %d, stderr\n%s\nwant exit %d, stderr\n%s", v.Name, code, errs, exitRuntime, want)
		}
	}
}
