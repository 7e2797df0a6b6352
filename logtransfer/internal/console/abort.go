package console

import (
	"context"
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
	ro, err := abort(ctx, cli, c.o.Keys, group, by, time.Now().UTC())
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
	if errors.Is(err, errNothing) {
		return err
	}
	return fmt.Errorf("abort: %w", etcdconf.Explain(err, s))
}

var errNothing = errors.New("nothing to abort")

// abort marks the group's active rollout aborted, in a compare-and-swap on
// the document's revision (a controller writing meanwhile wins; read again).
// Agents see the state and return to the stable config; the command that
// drives it stops.
func abort(ctx context.Context, cli *clientv3.Client, keys fleet.Keys, group, by string, now time.Time) (*fleet.Rollout, error) {
	key := keys.Rollout(group)
	for range 5 {
		resp, err := cli.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		if len(resp.Kvs) == 0 {
			return nil, fmt.Errorf("%w: group %s has no rollout", errNothing, group)
		}
		r := new(fleet.Rollout)
		if err := json.Unmarshal(resp.Kvs[0].Value, r); err != nil {
			return nil, fmt.Errorf("rollout document %s: %w", key, err)
		}
		if !r.Active() {
			return r, fmt.Errorf("%w: rollout %s of group %s is %s", errNothing, r.ID, group, r.State)
		}
		r.State, r.Message, r.UpdatedAt = fleet.StateAborted, fmt.Sprintf("aborted by %s at wave %d", by, r.Wave+1), now
		if n := len(r.Waves); n > 0 && r.Waves[n-1].Result == "" {
			r.Waves[n-1].Result, r.Waves[n-1].Finished = "aborted", now
		}
		doc, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		txn, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", resp.Kvs[0].ModRevision)).
			Then(clientv3.OpPut(key, string(doc))).Commit()
		if err != nil {
			return nil, err
		}
		if txn.Succeeded {
			return r, nil
		}
	}
	return nil, fmt.Errorf("the rollout of group %s kept changing; try again", group)
}
