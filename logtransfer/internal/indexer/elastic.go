package indexer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/olivere/elastic/v7"

	"github.com/logcollect/logcollect/pkg/rawjson"
	"github.com/logcollect/logcollect/pkg/record"
	"github.com/logcollect/logcollect/pkg/redact"
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
	// Credentials in a URL (http://user:pw@host) become basic auth and
	// leave the URL: olivere and net/http quote URLs in their errors, and
	// those reach logs and /readyz. [es] username/password win.
	urls := make([]string, len(cfg.URLs))
	user, pass := cfg.Username, cfg.Password
	for i, raw := range cfg.URLs {
		u, err := url.Parse(raw)
		if err != nil || u.User == nil {
			urls[i] = raw
			continue
		}
		if user == "" && pass == "" {
			user = u.User.Username()
			pass, _ = u.User.Password()
		}
		u.User = nil
		urls[i] = u.String()
	}
	opts := []elastic.ClientOptionFunc{
		elastic.SetURL(urls...),
		elastic.SetSniff(cfg.Sniff),
		elastic.SetHealthcheck(false),
		elastic.SetHttpClient(&http.Client{Transport: transport, Timeout: cfg.Timeout}),
	}
	if user != "" || pass != "" {
		opts = append(opts, elastic.SetBasicAuth(user, pass))
	}
	c, err := elastic.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch client for %v: %w", urls, redact.Error(err))
	}
	return c, nil
}

// ElasticBulk sends _bulk requests through olivere/elastic's client
// (connection handling, auth, error mapping). The NDJSON body is written
// here rather than by olivere's BulkService, which marshals a map for every
// action line; bodies go out verbatim. The response is decoded in full only
// when it reports item errors: "errors": false means every item succeeded,
// so then only the items are counted.
type ElasticBulk struct {
	Client *elastic.Client

	bufs  sync.Pool // *[]byte request bodies
	resps sync.Pool // *bytes.Buffer response bodies
}

// maxPooledBody is the largest request or response buffer kept for the
// next request; one that a huge bulk grew goes to the GC.
const maxPooledBody = 64 << 20

var _ Bulk = (*ElasticBulk)(nil)

// Send indexes actions in one _bulk request and returns one result per
// action, in order.
func (b *ElasticBulk) Send(ctx context.Context, actions []Action) ([]Result, error) {
	bp, _ := b.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	body := (*bp)[:0]
	for _, a := range actions {
		body = appendAction(body, a)
	}
	// Stream: the response is read here into a pooled buffer; olivere's
	// own read (io.ReadAll, growing from 512 bytes) was a fifth of the
	// transfer's allocated bytes. olivere has read the body of an HTTP
	// error into its *elastic.Error already.
	resp, err := b.Client.PerformRequest(ctx, elastic.PerformRequestOptions{
		Method: "POST", Path: "/_bulk", Body: string(body), ContentType: "application/x-ndjson", Stream: true,
	})
	*bp = body
	if cap(body) <= maxPooledBody {
		b.bufs.Put(bp)
	}
	if resp != nil && resp.BodyReader != nil {
		defer resp.BodyReader.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("bulk of %d documents: %w", len(actions), err)
	}
	rb, _ := b.resps.Get().(*bytes.Buffer)
	if rb == nil {
		rb = new(bytes.Buffer)
	}
	defer func() {
		if rb.Cap() <= maxPooledBody {
			rb.Reset()
			b.resps.Put(rb)
		}
	}()
	if _, err := rb.ReadFrom(resp.BodyReader); err != nil {
		return nil, fmt.Errorf("bulk of %d documents: read response: %w", len(actions), err)
	}
	out := make([]Result, len(actions))
	if failed, n, ok := scanBulkResponse(rb.Bytes()); ok && !failed {
		if n != len(actions) {
			return nil, fmt.Errorf("bulk of %d documents: response has %d items", len(actions), n)
		}
		for i := range out {
			out[i].Status = http.StatusOK
		}
		return out, nil
	}
	var full elastic.BulkResponse
	if err := json.Unmarshal(rb.Bytes(), &full); err != nil {
		return nil, fmt.Errorf("bulk of %d documents: decode response: %w", len(actions), err)
	}
	if len(full.Items) != len(actions) {
		return nil, fmt.Errorf("bulk of %d documents: response has %d items", len(actions), len(full.Items))
	}
	for i, m := range full.Items {
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

// appendAction appends an index action line and the document. A body is
// one line of NDJSON: the agent's records are compact, and a foreign
// value with line breaks is compacted (only then is it not verbatim).
func appendAction(dst []byte, a Action) []byte {
	dst = append(dst, `{"index":{"_index":`...)
	dst = record.AppendString(dst, a.Index)
	dst = append(dst, `,"_id":`...)
	dst = record.AppendString(dst, a.ID)
	dst = append(dst, "}}\n"...)
	if bytes.IndexByte(a.Body, '\n') >= 0 || bytes.IndexByte(a.Body, '\r') >= 0 {
		var c bytes.Buffer
		if json.Compact(&c, a.Body) == nil {
			return append(append(dst, c.Bytes()...), '\n')
		}
	}
	return append(append(dst, a.Body...), '\n')
}

// scanBulkResponse reads a _bulk response's "errors" flag and counts its
// "items" without decoding them. ok is false when the body is not shaped
// like a bulk response; the caller then decodes it in full.
func scanBulkResponse(b []byte) (failed bool, items int, ok bool) {
	i := rawjson.SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false, 0, false
	}
	i++
	sawErrors, sawItems := false, false
	for {
		i = rawjson.SkipSpace(b, i)
		if i < len(b) && b[i] == '}' {
			return failed, items, sawErrors && sawItems
		}
		if i >= len(b) || b[i] != '"' {
			return false, 0, false
		}
		end := rawjson.SkipString(b, i)
		if end < 0 {
			return false, 0, false
		}
		key := string(b[i+1 : end-1])
		i = rawjson.SkipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return false, 0, false
		}
		i = rawjson.SkipSpace(b, i+1)
		switch key {
		case "errors":
			switch {
			case bytes.HasPrefix(b[i:], []byte("false")):
				i += 5
			case bytes.HasPrefix(b[i:], []byte("true")):
				failed, i = true, i+4
			default:
				return false, 0, false
			}
			sawErrors = true
		case "items":
			if i >= len(b) || b[i] != '[' {
				return false, 0, false
			}
			i = rawjson.SkipSpace(b, i+1)
			for i < len(b) && b[i] != ']' {
				if i = rawjson.SkipValue(b, i); i < 0 {
					return false, 0, false
				}
				items++
				i = rawjson.SkipSpace(b, i)
				if i < len(b) && b[i] == ',' {
					i = rawjson.SkipSpace(b, i+1)
				}
			}
			if i >= len(b) {
				return false, 0, false
			}
			i++
			sawItems = true
		default:
			if i = rawjson.SkipValue(b, i); i < 0 {
				return false, 0, false
			}
		}
		i = rawjson.SkipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i++
		}
	}
}
