package agent

import (
	"bufio"
	"context"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// One etcd client per agent: the config watch and the status lease share
// it, so the agent holds one connection to etcd.
func TestOneEtcdConnection(t *testing.T) {
	s := newStack(t)
	fastStatus(s)
	u, err := url.Parse(s.etcd.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.cli.Get(context.Background(), "/"); err != nil { // the test's own client connects
		t.Fatal(err)
	}
	before := connectionsTo(t, u.Port())
	_, stop := s.run(t)
	rev := putRev(t, s, `[{"path":"DIR/a.log","topic":"topic_a"}]`)
	waitStatus(t, s, "the config applied", func(st Status) bool {
		return st.Config.State == ConfigApplied && st.Config.Revision == rev
	})
	if n := connectionsTo(t, u.Port()) - before; n != 1 {
		t.Errorf("the agent holds %d connections to etcd, want 1 (one client for watch and status)", n)
	}
	stop()
	for deadline := time.Now().Add(2 * time.Second); connectionsTo(t, u.Port()) > before && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // the socket closes as the client does; let the kernel catch up
	}
	if n := connectionsTo(t, u.Port()) - before; n != 0 {
		t.Errorf("%d connections to etcd left after the agent stopped", n)
	}
}

// connectionsTo counts this host's established TCP connections to port
// (the client side: remote port = port).
func connectionsTo(t *testing.T, port string) int {
	t.Helper()
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.ToUpper(strconv.FormatInt(int64(p), 16))
	for len(want) < 4 {
		want = "0" + want
	}
	n := 0
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			// sl local_address rem_address st ...; st 01 is ESTABLISHED
			if len(fs) > 3 && fs[3] == "01" && strings.HasSuffix(fs[2], ":"+want) {
				n++
			}
		}
		f.Close()
	}
	return n
}
