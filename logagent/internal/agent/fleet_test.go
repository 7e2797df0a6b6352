package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
	"github.com/logcollect/logcollect/pkg/fleet"
)

// An agent in groups runs its host key's entries and its groups', and its
// status says where each came from, the revision of each group, its
// host_id and the health the rollout gate reads. A restart with etcd down
// runs the cache and still reports the sources and revisions honestly.
func TestGroupsInStatus(t *testing.T) {
	s := newStack(t)
	fastStatus(s)
	s.cfg.Agent.Groups = []string{"web", "prod"}
	s.cfg.Agent.HostID = "host-g1"
	keys := fleet.Keys{CollectPattern: s.cfg.Etcd.CollectLogKey}
	put := func(key, v string) int64 {
		t.Helper()
		resp, err := s.cli.Put(context.Background(), key, strings.ReplaceAll(v, "DIR", s.dir))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Header.Revision
	}
	hostRev := putRev(t, s, `[{"path":"DIR/shared.log","topic":"topic_host","start":"beginning"}]`)
	webRev := put(keys.GroupConfig("web"), `[{"path":"DIR/shared.log","topic":"topic_web"},{"path":"DIR/web.log","topic":"topic_web","start":"beginning"}]`)
	prodRev := put(keys.GroupConfig("prod"), `[{"path":"DIR/prod.log","topic":"topic_prod","start":"beginning"}]`)
	want := writeLines(t, filepath.Join(s.dir, "web.log"), "web", 1, 3)
	writeLines(t, filepath.Join(s.dir, "shared.log"), "shared", 1, 3)
	_, stop := s.run(t)
	kt.WaitFor(t, s.kafka.Addr(), "topic_web", 15*time.Second, func(rs []kt.Record) bool { return contains(rs, want) })
	kt.WaitFor(t, s.kafka.Addr(), "topic_host", 15*time.Second, func(rs []kt.Record) bool { return len(rs) == 3 })

	check := func(st Status, source string) {
		t.Helper()
		if st.HostID != "host-g1" || st.Config.Source != source || st.Config.Revision != hostRev || st.Config.Entries != 3 {
			t.Errorf("identity/config: %q %+v", st.HostID, st.Config)
		}
		if g := st.Groups; len(g) != 2 || g[0] != (fleet.GroupState{Group: "web", Revision: webRev}) || g[1] != (fleet.GroupState{Group: "prod", Revision: prodRev}) {
			t.Errorf("groups: %+v", g)
		}
		want := []fleet.EntrySource{
			{Entry: filepath.Join(s.dir, "shared.log"), Source: "host", Revision: hostRev, Shadowed: "group:web@" + itoa(webRev)},
			{Entry: filepath.Join(s.dir, "web.log"), Source: "group:web", Revision: webRev},
			{Entry: filepath.Join(s.dir, "prod.log"), Source: "group:prod", Revision: prodRev},
		}
		if len(st.Sources) != len(want) {
			t.Fatalf("sources: %+v", st.Sources)
		}
		for i := range want {
			if st.Sources[i] != want[i] {
				t.Errorf("source %d: %+v, want %+v", i, st.Sources[i], want[i])
			}
		}
	}
	st := waitStatus(t, s, "both files matched", func(st Status) bool { return st.Health.FilesMatched == 2 })
	check(st, "etcd")
	if h := st.Health; h.ReadErrors != 0 || h.PermissionErrors != 0 || h.FilesMatchedBefore != -1 || h.Lag != st.TotalLag {
		t.Errorf("health: %+v (total lag %d)", h, st.TotalLag)
	}
	stop()

	// etcd down at the restart: the cache runs and reports the same.
	s.etcd.Close()
	s.cfg.Etcd.DialTimeout = 200 * time.Millisecond
	a, stop := s.run(t)
	deadline := time.Now().Add(10 * time.Second)
	for a.status.snapshot().Config.State != ConfigApplied {
		if time.Now().After(deadline) {
			t.Fatalf("cache not applied:\n%s", s.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	check(a.status.snapshot(), "cache "+filepath.Join(s.cfg.Agent.DataDir, CacheFile))
	stop()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Health counts restart with each config: files matched before and after a
// switch, read and permission errors once per file.
func TestHealthAcrossASwitch(t *testing.T) {
	s := newStack(t)
	fastStatus(s)
	writeLines(t, filepath.Join(s.dir, "a.log"), "a", 1, 1)
	writeLines(t, filepath.Join(s.dir, "b.log"), "b", 1, 1)
	writeLines(t, filepath.Join(s.dir, "b.gz"), "b", 1, 1)
	putRev(t, s, `[{"path":"DIR/*","topic":"topic_h","exclude":["*.gz"]}]`) // the data directory matches too: not a file
	a, _ := s.run(t)
	st := waitStatus(t, s, "two files matched", func(st Status) bool { return st.Health.FilesMatched == 2 })
	if h := st.Health; h.FilesMatchedBefore != -1 || h.ReadErrors != 0 { // the first config: none ran before
		t.Errorf("first config: %+v", h)
	}
	a.status.fileError("/x/1", os.ErrPermission)
	a.status.fileError("/x/1", os.ErrPermission)
	a.status.fileError("/x/2", errors.New("input/output error"))
	waitStatus(t, s, "the errors counted once per file", func(st Status) bool {
		return st.Health.PermissionErrors == 1 && st.Health.ReadErrors == 1
	})

	// A config that matches nothing: the gate's "fell to zero" reads so.
	putRev(t, s, `[{"path":"DIR/none-*.log","topic":"topic_h"}]`)
	st = waitStatus(t, s, "the switch", func(st Status) bool {
		return st.Config.Entries == 1 && st.Sources[0].Entry == filepath.Join(s.dir, "none-*.log")
	})
	if h := st.Health; h.FilesMatched != 0 || h.FilesMatchedBefore != 2 || h.ReadErrors != 0 || h.PermissionErrors != 0 {
		t.Errorf("after the switch: %+v", h)
	}
}
