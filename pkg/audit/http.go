package audit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/logcollect/logcollect/pkg/redact"
)

// HTTPSearcher is a Searcher over net/http. URL is Elasticsearch's base
// URL; user information in it (http://user:password@host:9200) is sent as
// basic auth.
type HTTPSearcher struct {
	URL    string
	Client *http.Client // nil: http.DefaultClient
}

var _ Searcher = HTTPSearcher{}

// maxAnswer bounds an answer read into memory.
const maxAnswer = 256 << 20

// Search posts body to URL/path.
func (s HTTPSearcher) Search(ctx context.Context, path string, body []byte) ([]byte, error) {
	u := strings.TrimRight(s.URL, "/") + "/" + strings.TrimLeft(path, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("elasticsearch %s: %w", redact.URL(s.URL), err)
	}
	req.Header.Set("Content-Type", "application/json")
	if req.URL.User != nil {
		pw, _ := req.URL.User.Password()
		req.SetBasicAuth(req.URL.User.Username(), pw)
		req.URL.User = nil
	}
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch %s: %w", redact.URL(s.URL), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("elasticsearch %s: read the answer: %w", redact.URL(s.URL), err)
	}
	if resp.StatusCode/100 != 2 {
		msg := string(data)
		if len(msg) > 500 {
			msg = msg[:500] + "…"
		}
		return nil, fmt.Errorf("elasticsearch %s: %s: %s", redact.URL(s.URL), resp.Status, msg)
	}
	return data, nil
}
