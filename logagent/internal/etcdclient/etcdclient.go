// Package etcdclient builds the etcd client of the agent's [etcd] settings
// (endpoints, dial timeout, TLS, username and password), shared by the
// agent's status publisher and the operator CLI.
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
)

// New returns a client for e. It does not dial: the first request does,
// bounded by the caller's context.
func New(e config.Etcd) (*clientv3.Client, error) {
	tlsCfg, err := e.TLS.Config()
	if err != nil {
		return nil, fmt.Errorf("etcd TLS settings: %w", err)
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
