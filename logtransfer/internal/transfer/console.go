package transfer

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/logcollect/logcollect/pkg/fleet"
	"github.com/logcollect/logcollect/pkg/redact"

	"github.com/logcollect/logcollect/logtransfer/internal/config"
	"github.com/logcollect/logcollect/logtransfer/internal/console"
	"github.com/logcollect/logcollect/logtransfer/internal/indexer"
)

// newConsole builds the web console served under /ui/ (docs/console.md):
// its own Elasticsearch client from [es] (no I/O until a page asks, so the
// console is up while Elasticsearch is still awaited) and [etcd] for the
// fleet pages (the client is made when a page needs it: etcd being down
// shows on the pages and never stops the transfer).
func newConsole(cfg config.Config, log *slog.Logger) (http.Handler, func(), error) {
	es, err := indexer.NewClient(indexer.ClientConfig{URLs: cfg.ES.URLs, Username: cfg.ES.Username, Password: cfg.ES.Password,
		TLS: cfg.ES.TLS, Timeout: cfg.ES.Timeout, MaxConns: 2})
	if err != nil {
		return nil, nil, fmt.Errorf("console: %w", redact.Error(err))
	}
	c, err := console.New(console.Options{ES: console.ElasticSearcher{Client: es}, Indices: cfg.ES.IndexPrefix + "-*", DeadLetterIndex: cfg.ES.DeadLetterIndex,
		Etcd: cfg.Etcd.Settings, Keys: fleet.Keys{CollectPattern: cfg.Etcd.CollectLogKey}, StatusPattern: cfg.Etcd.StatusKeyPattern(),
		Request: cfg.ES.Timeout, Log: log})
	if err != nil {
		es.Stop()
		return nil, nil, err
	}
	return c, func() { es.Stop(); _ = c.Close() }, nil
}
