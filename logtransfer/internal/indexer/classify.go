package indexer

import (
	"context"
	"errors"
	"net/http"

	"github.com/olivere/elastic/v7"
)

// Class is what to do with a document after a send.
type Class int

const (
	// Done: Elasticsearch accepted it (or it was dead-lettered).
	Done Class = iota
	// Retry: a transient failure (connection, 429, 5xx); send it again
	// after a backoff and do not mark it meanwhile.
	Retry
	// Reject: Elasticsearch will never accept it as is (mapping conflict,
	// malformed document); dead-letter it so it cannot block its partition.
	Reject
	// Split: the whole request was refused for its size or shape; send
	// fewer documents per request to find the culprit.
	Split
)

func (c Class) String() string {
	switch c {
	case Done:
		return "done"
	case Retry:
		return "retry"
	case Reject:
		return "reject"
	case Split:
		return "split"
	}
	return "unknown"
}

// ClassifyItem classifies one bulk item's status.
func ClassifyItem(status int) Class {
	switch {
	case status >= 200 && status < 300:
		return Done
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout, status >= 500:
		// es_rejected_execution_exception (429), unavailable shards (503),
		// timeouts: the document is fine, the cluster is busy.
		return Retry
	case status >= 400:
		return Reject
	}
	// 1xx/3xx are not item results Elasticsearch gives; be safe.
	return Retry
}

// ClassifyRequest classifies the error of a whole _bulk request.
func ClassifyRequest(err error) Class {
	var e *elastic.Error
	if errors.As(err, &e) {
		switch {
		case e.Status == http.StatusRequestEntityTooLarge, e.Status == http.StatusBadRequest:
			// One request too big, or one document breaking the NDJSON:
			// halve the request until the culprit is alone, then reject it.
			return Split
		default:
			// 429 and 5xx are transient. 401/403 (credentials), 404 (a
			// proxy path) and the rest need an operator, but dropping the
			// data is worse than waiting: retry, logging each failure.
			return Retry
		}
	}
	// Connection refused/reset, timeouts, DNS, "no Elasticsearch node
	// available", an unreadable response: all transient from here.
	return Retry
}

// IsShutdown reports whether err only says the send was cancelled.
func IsShutdown(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || elastic.IsContextErr(err))
}
