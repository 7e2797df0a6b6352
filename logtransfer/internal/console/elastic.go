package console

import (
	"context"
	"net/url"
	"strings"

	"github.com/olivere/elastic/v7"
)

// ElasticSearcher is a Searcher over the transfer's Elasticsearch client
// (its URLs, credentials, TLS and timeout).
type ElasticSearcher struct{ Client *elastic.Client }

var _ Searcher = ElasticSearcher{}

// Search posts body to path.
func (s ElasticSearcher) Search(ctx context.Context, path string, body []byte) ([]byte, error) {
	p, q, _ := strings.Cut(path, "?")
	params, err := url.ParseQuery(q)
	if err != nil {
		return nil, err
	}
	resp, err := s.Client.PerformRequest(ctx, elastic.PerformRequestOptions{Method: "POST", Path: "/" + strings.TrimLeft(p, "/"), Params: params, Body: string(body)})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
