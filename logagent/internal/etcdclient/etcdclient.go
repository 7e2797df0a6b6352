// Package etcdclient builds the etcd client of the agent's [etcd] settings
// (endpoints, dial timeout, TLS, username and password): the one place that
// knows them. The agent's one client (config watch and status publisher)
// and the operator CLI's come from New.
package etcdclient

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/logcollect/logcollect/logagent/internal/config"
	"github.com/logcollect/logcollect/pkg/backoff"
)

// ErrSettings marks a client that cannot be built from the settings (TLS
// files): retrying does not help.
var ErrSettings = errors.New("etcd client settings")

// New returns a client for e. Without a username it does not dial: the
// first request does, bounded by the caller's context. With one, it
// authenticates now, so an unreachable etcd or a refused password fails
// here (see Connect).
func New(e config.Etcd) (*clientv3.Client, error) {
	tlsCfg, err := e.TLS.Config()
	if err != nil {
		return nil, fmt.Errorf("%w: TLS: %w", ErrSettings, err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: e.Endpoints, DialTimeout: e.DialTimeout,
		Username: e.Username, Password: e.Password, TLS: tlsCfg,
		// The client's zap logs would duplicate ours in another format;
		// every failure surfaces through the calls and is reported there.
		Logger:            zap.NewNop(),
		DialKeepAliveTime: 10 * time.Second, DialKeepAliveTimeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	return cli, nil
}

// Connect calls New until it succeeds or ctx ends, waiting with bo
// between attempts and telling failed about each failure (explained). A
// settings error is returned at once.
func Connect(ctx context.Context, e config.Etcd, bo *backoff.Backoff, failed func(error)) (*clientv3.Client, error) {
	for {
		cli, err := New(e)
		switch {
		case err == nil:
			return cli, nil
		case errors.Is(err, ErrSettings):
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		failed(Explain(err, e))
		if err := bo.Wait(ctx); err != nil {
			return nil, err
		}
	}
}

// Explain turns a failed request into an operator's message: an
// unreachable cluster says which endpoints did not answer within the dial
// timeout; authentication failures say which setting to check. The
// password is never part of it.
func Explain(err error, e config.Etcd) error {
	eps := strings.Join(e.Endpoints, ",")
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("etcd at %s not reachable within the dial timeout (%s): check the endpoints, TLS settings and that etcd runs: %w", eps, e.DialTimeout, err)
	case errors.Is(err, rpctypes.ErrAuthFailed), errors.Is(err, rpctypes.ErrGRPCAuthFailed):
		return fmt.Errorf("etcd at %s rejected the credentials: check [etcd] username and password: %w", eps, err)
	case errors.Is(err, rpctypes.ErrPermissionDenied), errors.Is(err, rpctypes.ErrGRPCPermissionDenied):
		return fmt.Errorf("etcd at %s: permission denied for user %q: grant it read/write on the keys: %w", eps, e.Username, err)
	}
	return fmt.Errorf("etcd at %s: %w", eps, err)
}
