package devstack

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// needTool skips when a Debian client is missing on a developer's machine;
// in CI (which runs scripts/install-deps.sh first) a missing tool fails.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed: scripts/install-deps.sh should have installed Debian package %s", name, pkg)
		}
		t.Skipf("%s not installed (apt-get install %s, or run make test which installs it)", name, pkg)
	}
	return path
}

func runTool(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestEtcdctlTalksToEmbeddedEtcd(t *testing.T) {
	etcdctl := needTool(t, "etcdctl", "etcd-client")
	srv, err := StartEtcd(EtcdConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	val := `[{"path":"/var/log/nginx/access.log","topic":"web_log"}]`
	runTool(t, "", etcdctl, "--endpoints", srv.Endpoint(), "put", "/logagent/10.0.0.5/collect_config", val)
	out := runTool(t, "", etcdctl, "--endpoints", srv.Endpoint(), "get", "--print-value-only", "/logagent/10.0.0.5/collect_config")
	if strings.TrimSpace(out) != val {
		t.Errorf("etcdctl get = %q, want %q", out, val)
	}
}

func TestKcatTalksToBroker(t *testing.T) {
	kcat := needTool(t, "kcat", "kcat")
	k, err := StartKafka(KafkaConfig{Topics: map[string]int32{"web_log": 4}})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	runTool(t, "one\ntwo\nthree\n", kcat, "-b", k.Addr(), "-P", "-t", "web_log")
	out := runTool(t, "", kcat, "-b", k.Addr(), "-C", "-t", "web_log", "-o", "beginning", "-e", "-q")
	got := strings.Fields(out)
	if len(got) != 3 {
		t.Fatalf("kcat consumed %q, want the 3 produced lines", out)
	}
	meta := runTool(t, "", kcat, "-b", k.Addr(), "-L", "-t", "web_log")
	if !strings.Contains(meta, `topic "web_log" with 4 partitions`) {
		t.Errorf("kcat -L = %q, want 4 partitions", meta)
	}
	if highWaterSum(t, k.Addr(), "web_log") != 3 {
		t.Errorf("sarama sees a different record count than kcat produced")
	}
}
