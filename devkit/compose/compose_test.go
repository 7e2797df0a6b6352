package compose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logcollect/logcollect/devkit/testkit"
)

// TestRepositoryComposeFile checks the structure of the repository's
// docker-compose.yml; each service's module checks its environment
// variables against its own settings loader.
func TestRepositoryComposeFile(t *testing.T) {
	f, err := testkit.RepoCompose()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"etcd", "kafka", "elasticsearch", "kibana", "kibana-setup", "logagent", "logtransfer", "log-generator"} {
		if _, ok := f.Services[name]; !ok {
			t.Errorf("service %q missing", name)
		}
	}
	for _, p := range f.HostPaths() {
		if _, err := os.Stat(filepath.Join(f.Dir, p)); err != nil {
			t.Errorf("compose references %s, which does not exist: %v", p, err)
		}
	}
	for name, s := range f.Services {
		if s.Build != nil {
			checkDockerfileCopies(t, filepath.Join(f.Dir, s.Build.Context), filepath.Join(f.Dir, s.Build.Context, s.Build.Dockerfile))
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") {
				if _, ok := f.Volumes[src]; !ok {
					t.Errorf("service %s mounts volume %q, which is not declared", name, src)
				}
			}
		}
		for dep := range s.DependsOn {
			if _, ok := f.Services[dep]; !ok {
				t.Errorf("service %s depends on unknown service %s", name, dep)
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("service %s publishes %s on every interface; bind to 127.0.0.1 in a dev stack", name, p)
			}
		}
	}
	for _, svc := range []string{"etcd", "kafka", "elasticsearch"} {
		if f.Services[svc].Healthcheck == nil {
			t.Errorf("service %s has no healthcheck; the services' start order depends on it", svc)
		}
	}
	// The services must reach the stack by the names and ports compose gives them.
	agent, xfer := f.Services["logagent"], f.Services["logtransfer"]
	if agent.Environment["LOGAGENT_KAFKA_BROKERS"] != "kafka:9092" || agent.Environment["LOGAGENT_ETCD_ENDPOINTS"] != "http://etcd:2379" {
		t.Errorf("logagent env does not point at the compose kafka/etcd: %v", agent.Environment)
	}
	if xfer.Environment["LOGTRANSFER_KAFKA_BROKERS"] != "kafka:9092" || xfer.Environment["LOGTRANSFER_ES_URLS"] != "http://elasticsearch:9200" {
		t.Errorf("logtransfer env does not point at the compose kafka/elasticsearch: %v", xfer.Environment)
	}
	if es := f.Services["elasticsearch"]; !strings.Contains(es.Image, ":7.17") || es.Environment["xpack.security.enabled"] != "false" {
		t.Errorf("elasticsearch should be 7.17 with security off for development: %s %v", es.Image, es.Environment)
	}
}

// checkDockerfileCopies fails for a COPY from the build context whose
// source does not exist (COPY --from=stage copies between stages).
func checkDockerfileCopies(t *testing.T, context, dockerfile string) {
	t.Helper()
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Errorf("read %s: %v", dockerfile, err)
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 3 || fields[0] != "COPY" || strings.HasPrefix(fields[1], "--from") {
			continue
		}
		for _, src := range fields[1 : len(fields)-1] {
			if _, err := os.Stat(filepath.Join(context, src)); err != nil {
				t.Errorf("%s copies %s, which does not exist", dockerfile, src)
			}
		}
	}
}
