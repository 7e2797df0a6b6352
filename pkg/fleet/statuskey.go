package fleet

import "strings"

// DefaultCollectPattern is the agents' default [etcd] collect_log_key.
const DefaultCollectPattern = "/logagent/%s/collect_config"

// OnePlaceholder tells whether a key pattern (collect_log_key,
// status_key) has exactly one %s and no other verb.
func OnePlaceholder(pattern string) bool {
	return strings.Count(pattern, "%s") == 1 && strings.Count(pattern, "%") == 1
}

// StatusKeyPattern is where agents publish their status: statusKey
// ([etcd] status_key) when set, otherwise the collect pattern's part up to
// and including "%s" followed by "/status" (/logagent/%s/collect_config
// gives /logagent/%s/status). The agent writes there and the console reads
// there, so both derive it here.
func StatusKeyPattern(collectPattern, statusKey string) string {
	if statusKey != "" {
		return statusKey
	}
	prefix, _, _ := strings.Cut(collectPattern, "%s")
	return prefix + "%s/status"
}
