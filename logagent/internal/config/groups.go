package config

import (
	"fmt"
	"strings"

	"github.com/logcollect/logcollect/logagent/internal/configsource"
	"github.com/logcollect/logcollect/pkg/fleet"
)

// checkGroups validates [agent] groups: fleet group names (they become
// etcd keys and RBAC prefixes), each once, at most configsource.MaxGroups.
func checkGroups(f interface {
	Check(section, key, value string, err error)
}, groups []string) {
	seen := map[string]bool{}
	for _, g := range groups {
		if err := fleet.CheckGroup(g); err != nil {
			f.Check("agent", "groups", g, err)
		}
		if seen[g] {
			f.Check("agent", "groups", g, fmt.Errorf("listed twice: name each group once, in precedence order"))
		}
		seen[g] = true
	}
	if len(groups) > configsource.MaxGroups {
		f.Check("agent", "groups", strings.Join(groups, ","), fmt.Errorf("%d groups: at most %d", len(groups), configsource.MaxGroups))
	}
}
