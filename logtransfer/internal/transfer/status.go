package transfer

import (
	"encoding/json"
	"net/http"

	"github.com/logcollect/logcollect/pkg/buildinfo"
)

// newStatusHandler serves /status: the build, for operators and scripts.
func newStatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"version": buildinfo.String("logtransfer")})
	})
}
