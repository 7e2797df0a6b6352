package indexer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/olivere/elastic/v7"

	"github.com/logcollect/logcollect/pkg/tlsconf"
)

// ClientConfig is what an Elasticsearch client needs.
type ClientConfig struct {
	URLs               []string
	Username, Password string
	TLS                tlsconf.Files
	Sniff              bool
	Timeout            time.Duration // per request
	MaxConns           int           // idle connections kept per host
}

// NewClient returns an olivere client. Sniffing is off unless asked for:
// behind proxies and in containers the addresses nodes publish are usually
// unreachable. The health check is off too: with it on, NewClient fails
// when Elasticsearch is down, and the pipeline retries on its own.
func NewClient(cfg ClientConfig) (*elastic.Client, error) {
	tlsCfg, err := cfg.TLS.Config()
	if err != nil {
		return nil, fmt.Errorf("elasticsearch TLS: %w", err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsCfg
	transport.MaxIdleConnsPerHost = max(cfg.MaxConns, 2)
	opts := []elastic.ClientOptionFunc{
		elastic.SetURL(cfg.URLs...),
		elastic.SetSniff(cfg.Sniff),
		elastic.SetHealthcheck(false),
		elastic.SetHttpClient(&http.Client{Transport: transport, Timeout: cfg.Timeout}),
	}
	if cfg.Username != "" || cfg.Password != "" {
		opts = append(opts, elastic.SetBasicAuth(cfg.Username, cfg.Password))
	}
	c, err := elastic.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch client for %v: %w", cfg.URLs, err)
	}
	return c, nil
}

// ElasticBulk sends _bulk requests with olivere/elastic. Bodies go out as
// json.RawMessage, which olivere writes verbatim (no decode/encode).
type ElasticBulk struct {
	Client *elastic.Client
}

var _ Bulk = (*ElasticBulk)(nil)

// Send indexes actions in one _bulk request and returns one result per
// action, in order.
func (b *ElasticBulk) Send(ctx context.Context, actions []Action) ([]Result, error) {
	svc := b.Client.Bulk()
	for _, a := range actions {
		svc.Add(elastic.NewBulkIndexRequest().Index(a.Index).Id(a.ID).Doc(json.RawMessage(a.Body)))
	}
	resp, err := svc.Do(ctx)
	if err != nil {
		return nil, fmt.Errorf("bulk of %d documents: %w", len(actions), err)
	}
	if len(resp.Items) != len(actions) {
		return nil, fmt.Errorf("bulk of %d documents: response has %d items", len(actions), len(resp.Items))
	}
	out := make([]Result, len(actions))
	for i, m := range resp.Items {
		for _, item := range m { // one key: the op type ("index")
			out[i].Status = item.Status
			if item.Error != nil {
				out[i].Type, out[i].Reason = item.Error.Type, item.Error.Reason
				if item.Error.CausedBy != nil {
					if cb, ok := item.Error.CausedBy["reason"].(string); ok && cb != "" {
						out[i].Reason += ": " + cb
					}
				}
			}
		}
	}
	return out, nil
}
