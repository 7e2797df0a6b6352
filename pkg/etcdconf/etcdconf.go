// Package etcdconf holds the etcd client settings both services share
// (endpoints, dial timeout, username and password, TLS), reads them from an
// ini section, and builds the client: the one place that knows them. The
// agent (config watch, status, operator CLI) and the transfer (the console's
// fleet pages) get their clients from New.
package etcdconf

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/logcollect/logcollect/pkg/backoff"
	"github.com/logcollect/logcollect/pkg/settings"
	"github.com/logcollect/logcollect/pkg/tlsconf"
)

// Settings are the client settings of an [etcd] section.
type Settings struct {
	Endpoints   []string
	DialTimeout time.Duration
	Username    string
	Password    string
	TLS         tlsconf.Files
}

// DefaultDialTimeout bounds a connection attempt unless configured.
const DefaultDialTimeout = 5 * time.Second

// Read reads endpoints (the tutorial's alias: address), dial_timeout
// (alias: timeout, in seconds without a unit), username, password (or
// password_file) and the tls_* keys from section over d.
func Read(f *settings.File, section string, d Settings) Settings {
	s := Settings{
		Endpoints:   f.Strings(section, "endpoints", d.Endpoints, "address"),
		DialTimeout: f.Duration(section, "dial_timeout", d.DialTimeout, time.Second, 100*time.Millisecond, 5*time.Minute, "timeout"),
		Username:    f.String(section, "username", d.Username),
		Password:    f.Secret(section, "password"),
		TLS:         tlsconf.Read(f, section, ""),
	}
	if s.Password == "" {
		s.Password = d.Password
	}
	return s
}

// ErrSettings marks a client that cannot be built from the settings (TLS
// files): retrying does not help.
var ErrSettings = errors.New("etcd client settings")

// New returns a client for s. Without a username it does not dial: the
// first request does, bounded by the caller's context. With one, it
// authenticates now, so an unreachable etcd or a refused password fails
// here (see Connect).
func New(s Settings) (*clientv3.Client, error) {
	tlsCfg, err := s.TLS.Config()
	if err != nil {
		return nil, fmt.Errorf("%w: TLS: %w", ErrSettings, err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: s.Endpoints, DialTimeout: s.DialTimeout,
		Username: s.Username, Password: s.Password, TLS: tlsCfg,
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
func Connect(ctx context.Context, s Settings, bo *backoff.Backoff, failed func(error)) (*clientv3.Client, error) {
	for {
		cli, err := New(s)
		switch {
		case err == nil:
			return cli, nil
		case errors.Is(err, ErrSettings):
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		failed(Explain(err, s))
		if err := bo.Wait(ctx); err != nil {
			return nil, err
		}
	}
}

// Explain turns a failed request into an operator's message: an
// unreachable cluster says which endpoints did not answer within the dial
// timeout; authentication failures say which setting to check. The
// password is never part of it.
func Explain(err error, s Settings) error {
	eps := strings.Join(s.Endpoints, ",")
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("etcd at %s not reachable within the dial timeout (%s): check the endpoints, TLS settings and that etcd runs: %w", eps, s.DialTimeout, err)
	case errors.Is(err, rpctypes.ErrAuthFailed), errors.Is(err, rpctypes.ErrGRPCAuthFailed):
		return fmt.Errorf("etcd at %s rejected the credentials: check [etcd] username and password: %w", eps, err)
	case errors.Is(err, rpctypes.ErrPermissionDenied), errors.Is(err, rpctypes.ErrGRPCPermissionDenied):
		return fmt.Errorf("etcd at %s: permission denied for user %q: grant it read/write on the keys: %w", eps, s.Username, err)
	}
	return fmt.Errorf("etcd at %s: %w", eps, err)
}
