package testkit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// getTimeout bounds one request to a service's HTTP endpoint.
const getTimeout = 10 * time.Second

// Get fetches url and returns its body when the answer is 200 OK; any other
// status becomes an error quoting the start of the body. The caller closes
// the body; the request is bounded by ctx and a 10 s deadline, which holds
// until the body is closed.
func Get(ctx context.Context, url string) (io.ReadCloser, error) {
	return GetWithin(ctx, url, getTimeout)
}

// GetWithin is Get with another deadline, for endpoints that answer slowly
// by design (a CPU profile takes as long as it samples).
func GetWithin(ctx context.Context, url string, timeout time.Duration) (io.ReadCloser, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("GET %s: %s %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	return cancelOnClose{resp.Body, cancel}, nil
}

// GetJSON fetches url and decodes its JSON body into v.
func GetJSON(ctx context.Context, url string, v any) error {
	body, err := Get(ctx, url)
	if err != nil {
		return err
	}
	defer body.Close()
	if err := json.NewDecoder(body).Decode(v); err != nil {
		return fmt.Errorf("decode %s: %w", url, err)
	}
	return nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// statusError is a non-2xx answer.
type statusError struct {
	code int
	msg  string
}

func (s statusError) Error() string { return s.msg }

// callJSON sends body as JSON (none when nil) and decodes a 2xx answer
// into out (when not nil); other statuses become errors quoting the body.
func callJSON(client *http.Client, method, url string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = strings.NewReader(string(b))
	}
	ctx, cancel := context.WithTimeout(context.Background(), getTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	if resp.StatusCode/100 != 2 {
		return statusError{resp.StatusCode, fmt.Sprintf("%s %s: %s %s", method, url, resp.Status, strings.TrimSpace(string(data)))}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode %q: %w", method, url, data, err)
		}
	}
	return nil
}
