package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/pkg/etcdconf"
	"github.com/logcollect/logcollect/pkg/fleet"
)

// Rollout abort is the console's one write. The transfer's own etcd user
// is meant to be read-only, so the page asks the operator for their etcd
// user and password and the abort is written as that user: etcd's RBAC
// decides, the console holds no write credentials. Without credentials the
// transfer's own client is used, which works only where etcd has no auth
// or the transfer's user may write the rollout key (a dev stack).

type abortRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (c *Console) postAbort(w http.ResponseWriter, r *http.Request) {
	if !c.etcdOn() {
		httpError(w, http.StatusConflict, errors.New(noEtcd))
		return
	}
	group := r.PathValue("group")
	if err := fleet.CheckGroup(group); err != nil {
		httpError(w, http.StatusBadRequest, err)
		return
	}
	var req abortRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		httpError(w, http.StatusBadRequest, fmt.Errorf("abort request: want {\"username\": ..., \"password\": ...}: %w", err))
		return
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	cli, by := (*clientv3.Client)(nil), "the console (logtransfer's etcd user)"
	if req.Username == "" {
		var err error
		if cli, err = c.etcd(); err != nil {
			httpError(w, http.StatusBadGateway, err)
			return
		}
	} else {
		s := c.o.Etcd
		s.Username, s.Password = req.Username, req.Password
		op, err := etcdconf.New(s)
		if err != nil {
			httpError(w, http.StatusUnauthorized, c.explainAs(err, req.Username))
			return
		}
		defer op.Close()
		cli, by = op, fmt.Sprintf("etcd user %s in the console", req.Username)
	}
	by += " from " + hostOnly(r.RemoteAddr)
	ro, err := fleet.Abort(ctx, cli, c.o.Keys, group, by, time.Now().UTC())
	if err != nil {
		code := http.StatusConflict
		if errors.Is(err, rpctypes.ErrPermissionDenied) || errors.Is(err, rpctypes.ErrGRPCPermissionDenied) ||
			errors.Is(err, rpctypes.ErrAuthFailed) || errors.Is(err, rpctypes.ErrGRPCAuthFailed) || errors.Is(err, rpctypes.ErrGRPCUserEmpty) {
			code = http.StatusForbidden
		}
		httpError(w, code, c.explainAs(err, req.Username))
		return
	}
	c.o.Log.Warn("rollout aborted from the console", "group", group, "rollout", ro.ID, "by", by)
	writeJSON(w, ro)
}

func (c *Console) explainAs(err error, user string) error {
	s := c.o.Etcd
	if user != "" {
		s.Username = user
	}
	if errors.Is(err, fleet.ErrNothingToAbort) {
		return err
	}
	return fmt.Errorf("abort: %w", etcdconf.Explain(err, s))
}
