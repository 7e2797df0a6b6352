package transfer

import (
	"encoding/json"
	"net/http"

	"github.com/logcollect/logcollect/pkg/buildinfo"
	"github.com/logcollect/logcollect/pkg/redact"

	"github.com/logcollect/logcollect/logtransfer/internal/config"
)

// newStatusHandler serves /status: the build and where the transfer reads
// and writes, for operators and scripts. URLs are shown with any password
// masked: /status is often reachable by more people than the config file.
func newStatusHandler(cfg config.Config) http.Handler {
	status := map[string]any{
		"version": buildinfo.String("logtransfer"),
		"kafka":   map[string]any{"brokers": cfg.Kafka.Client.Brokers, "group_id": cfg.Kafka.GroupID, "topics": cfg.Kafka.Topics},
		"elasticsearch": map[string]any{
			"urls": redact.URLs(cfg.ES.URLs), "index_pattern": cfg.ES.IndexPattern, "dead_letter_index": cfg.ES.DeadLetterIndex,
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(status)
	})
}
