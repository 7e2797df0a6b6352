package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

var (
	// ErrNothingToAbort: the group has no rollout, or it is not active.
	ErrNothingToAbort = errors.New("nothing to abort")
	// ErrRolloutChanging: the rollout document kept changing under the
	// abort (a controller writing at every turn); trying again is safe.
	ErrRolloutChanging = errors.New("the rollout kept changing")
)

// Abort marks group's active rollout aborted: agents see the state and
// return to the stable config, and the command driving it notices and
// exits. It is a compare-and-swap on the document's mod revision, so a
// controller's write in between wins and the abort reads again. The
// `logagent rollout abort` command and the console both abort with it.
func Abort(ctx context.Context, kv clientv3.KV, keys Keys, group, by string, now time.Time) (*Rollout, error) {
	key := keys.Rollout(group)
	for range 5 {
		resp, err := kv.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		if len(resp.Kvs) == 0 {
			return nil, fmt.Errorf("%w: group %s has no rollout to abort", ErrNothingToAbort, group)
		}
		r := new(Rollout)
		if err := json.Unmarshal(resp.Kvs[0].Value, r); err != nil {
			return nil, fmt.Errorf("rollout document %s: %w", key, err)
		}
		if !r.Active() {
			return r, fmt.Errorf("%w: rollout %s of group %s is %s", ErrNothingToAbort, r.ID, group, r.State)
		}
		r.State, r.Message, r.UpdatedAt = StateAborted, fmt.Sprintf("aborted by %s at wave %d", by, r.Wave+1), now
		r.EndWave("aborted", now)
		doc, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		txn, err := kv.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", resp.Kvs[0].ModRevision)).
			Then(clientv3.OpPut(key, string(doc))).Commit()
		if err != nil {
			return nil, err
		}
		if txn.Succeeded {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%w: group %s; try again", ErrRolloutChanging, group)
}

// EndWave closes the current wave with result (passed, failed, aborted)
// if it is still open.
func (r *Rollout) EndWave(result string, now time.Time) {
	if n := len(r.Waves); n > 0 && r.Waves[n-1].Result == "" {
		r.Waves[n-1].Result, r.Waves[n-1].Finished = result, now
	}
}
