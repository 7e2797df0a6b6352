package agent

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
	"github.com/logcollect/logcollect/pkg/fleet"
)

// grant is one `etcdctl role grant-permission` of docs/security.md's RBAC
// recipe.
type grant struct {
	perm   clientv3.PermissionType
	key    string
	prefix bool
}

// setUpRBAC does what the recipe's etcdctl commands do: a root user, an
// operator role with read-write on /logagent/ (and read on the shared
// variant's /logagent-status/), an agent user whose role has
// grants, then auth enable.
func setUpRBAC(t *testing.T, cli *clientv3.Client, agentUser, agentPass string, grants []grant) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	steps := []func() error{
		func() error { _, err := cli.UserAdd(ctx, "root", "r00t-Pass-1"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.RoleAdd(ctx, "logagent-operator"); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, "logagent-operator", "/logagent/", clientv3.GetPrefixRangeEnd("/logagent/"), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { // the shared variant's status prefix: the operator reads it
			_, err := cli.RoleGrantPermission(ctx, "logagent-operator", "/logagent-status/", clientv3.GetPrefixRangeEnd("/logagent-status/"), clientv3.PermissionType(clientv3.PermRead))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, "ops", "0ps-Pass-2"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "ops", "logagent-operator"); return err },
		func() error { _, err := cli.RoleAdd(ctx, agentUser); return err },
	}
	for _, g := range grants {
		end := ""
		if g.prefix {
			end = clientv3.GetPrefixRangeEnd(g.key)
		}
		steps = append(steps, func() error { _, err := cli.RoleGrantPermission(ctx, agentUser, g.key, end, g.perm); return err })
	}
	steps = append(steps,
		func() error { _, err := cli.UserAdd(ctx, agentUser, agentPass); return err },
		func() error { _, err := cli.UserGrantRole(ctx, agentUser, agentUser); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err })
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("RBAC step %d: %v", i+1, err)
		}
	}
}

// docs/security.md's etcd RBAC recipe, both variants: an agent reads its
// host key, its groups' configs and rollouts, and publishes its status,
// but its credentials cannot change any collect config (host, group or
// rollout); with a role per host it cannot write another agent's status
// either, with the shared role (statuses under their own prefix) it can:
// the trade-off the document states.
func TestEtcdRBACRecipe(t *testing.T) {
	const read, write = clientv3.PermissionType(clientv3.PermRead), clientv3.PermissionType(clientv3.PermWrite)
	for _, tc := range []struct {
		name, user, statusKey string
		grants                []grant
		otherStatus           string // another agent's status key
		otherStatusWritable   bool
	}{
		{name: "role per host", user: "logagent-127.0.0.1", grants: []grant{
			{read, "/logagent/127.0.0.1/collect_config", false},
			{read, "/logagent/groups/web/", true},
			{write, "/logagent/127.0.0.1/status", false},
		}, otherStatus: "/logagent/10.9.9.9/status"},
		{name: "shared role", user: "logagent", statusKey: "/logagent-status/%s", grants: []grant{
			{read, "/logagent/", true},
			{write, "/logagent-status/", true},
		}, otherStatus: "/logagent-status/10.9.9.9", otherStatusWritable: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			fastStatus(s)
			s.cfg.Agent.Groups = []string{"web"}
			s.cfg.Etcd.StatusKey = tc.statusKey
			keys := fleet.Keys{CollectPattern: s.cfg.Etcd.CollectLogKey}
			const pass = "agent-Pass-3"
			setUpRBAC(t, s.cli, tc.user, pass, tc.grants)
			ops := kt.EtcdClient(t, clientv3.Config{Endpoints: s.cfg.Etcd.Endpoints, Username: "ops", Password: "0ps-Pass-2"})
			s.cli = ops
			hostRev := putRev(t, s, `[{"path":"DIR/host.log","topic":"topic_host"}]`)
			resp, err := ops.Put(context.Background(), keys.GroupConfig("web"), strings.ReplaceAll(`[{"path":"DIR/web.log","topic":"topic_web"}]`, "DIR", s.dir))
			if err != nil {
				t.Fatalf("the operator writes a group config: %v", err)
			}
			webRev := resp.Header.Revision

			s.cfg.Etcd.Username, s.cfg.Etcd.Password = tc.user, pass
			s.cfg.Etcd.DialTimeout = 5 * time.Second // bcrypt under the race detector
			s.run(t)
			waitStatus(t, s, "both sources applied with the agent's credentials", func(st Status) bool {
				return st.Config.Revision == hostRev && len(st.Groups) == 1 && st.Groups[0].Revision == webRev && len(st.Sources) == 2
			})

			// The agent's credentials, used by anyone who takes them.
			stolen := kt.EtcdClient(t, clientv3.Config{Endpoints: s.cfg.Etcd.Endpoints, Username: tc.user, Password: pass})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for _, key := range []string{s.cfg.CollectKey("127.0.0.1"), s.cfg.CollectKey("10.9.9.9"), keys.GroupConfig("web"), keys.GroupConfig("db"), keys.Rollout("web"), keys.RolloutLock("web")} {
				if _, err := stolen.Put(ctx, key, `[]`); !errors.Is(err, rpctypes.ErrPermissionDenied) {
					t.Errorf("put %s with the agent's credentials: %v, want permission denied", key, err)
				}
				if _, err := stolen.Delete(ctx, key); !errors.Is(err, rpctypes.ErrPermissionDenied) {
					t.Errorf("delete %s with the agent's credentials: %v, want permission denied", key, err)
				}
			}
			if _, err := stolen.Put(ctx, s.cfg.StatusKey("127.0.0.1"), `{}`); err != nil {
				t.Errorf("the agent cannot write its own status: %v", err)
			}
			_, err = stolen.Put(ctx, tc.otherStatus, `{}`)
			if tc.otherStatusWritable && err != nil || !tc.otherStatusWritable && !errors.Is(err, rpctypes.ErrPermissionDenied) {
				t.Errorf("put another agent's status %s: %v (writable in this variant: %v)", tc.otherStatus, err, tc.otherStatusWritable)
			}
		})
	}
}
