package testutil

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/logcollect/logcollect/logagent/internal/collect"
)

// Verdict is a collect config and the verdict on it: accepted with
// Entries entries, or rejected with Problems (a part of each, in order).
type Verdict struct {
	Name     string   `json:"name"`
	Config   string   `json:"config"`
	Entries  int      `json:"entries"`
	Problems []string `json:"problems"`
}

// Verdicts reads internal/collect/testdata/verdicts.json with DIR replaced
// by dir, and the policy its verdicts hold under (allowed_paths dir/**, no
// system journal). collect.Policy.Load, the agent's apply path and
// `logagent validate` are each tested against it.
func Verdicts(t testing.TB, dir string) (collect.Policy, []Verdict) {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	data, err := os.ReadFile(filepath.Join(filepath.Dir(self), "..", "collect", "testdata", "verdicts.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Cases []Verdict }
	if err := json.Unmarshal([]byte(strings.ReplaceAll(string(data), "DIR", dir)), &file); err != nil {
		t.Fatal(err)
	}
	return collect.Policy{AllowedPaths: []string{dir + "/**"}}, file.Cases
}

// Check fails t unless a verdict (the entries accepted, or the problems
// reported) is v's; who names what gave it.
func (v Verdict) Check(t testing.TB, who string, entries int, problems []string) {
	t.Helper()
	if len(problems) != len(v.Problems) || (len(problems) == 0 && entries != v.Entries) {
		t.Errorf("%s: %s: %d entries, problems %q; want %d entries, problems %q", v.Name, who, entries, problems, v.Entries, v.Problems)
		return
	}
	for i, p := range problems {
		if !strings.Contains(p, v.Problems[i]) {
			t.Errorf("%s: %s: problem %d is %q, want it to contain %q", v.Name, who, i+1, p, v.Problems[i])
		}
	}
}

// Judge is collect.Policy.Load's verdict in Check's terms.
func Judge(p collect.Policy, config string) (entries int, problems []string) {
	es, err := p.Load([]byte(config))
	if err == nil {
		return len(es), nil
	}
	var ps collect.Problems
	if !errors.As(err, &ps) {
		return 0, []string{err.Error()}
	}
	for _, e := range ps {
		problems = append(problems, e.Error())
	}
	return 0, problems
}
