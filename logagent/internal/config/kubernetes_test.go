package config

import (
	"strings"
	"testing"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/logagent/internal/pathglob"
	"github.com/logcollect/logcollect/pkg/settings"
)

// TestKubernetesManifestEnvironment loads the settings exactly as the
// DaemonSet's container would (the ConfigMap's ini plus the container's
// environment, downward-API values as placeholders), so a renamed key or a
// bad value in deploy/kubernetes fails here.
func TestKubernetesManifestEnvironment(t *testing.T) {
	path, ini, svc, err := testkit.RepoKubeService("logagent", "logagent", "logagent-config")
	cfg := loadDeployed(t, "the DaemonSet", path, ini, svc, err)
	ph := testkit.FieldRefPlaceholders
	k := cfg.Kubernetes
	if !k.Enabled || k.NodeName != ph["spec.nodeName"] || cfg.Agent.IP != ph["status.hostIP"] || cfg.Agent.Hostname != ph["spec.nodeName"] {
		t.Errorf("kubernetes %+v, ip %q, hostname %q: want enabled, the node's name and IP from the downward API", k, cfg.Agent.IP, cfg.Agent.Hostname)
	}
	for _, p := range []string{"/var/log/pods/ns_p_u/c/0.log", "/var/log/containers/p_ns_c-1.log",
		"/var/lib/docker/containers/1/1-json.log", "/var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/logs/a.log"} {
		if !pathglob.MatchAny(cfg.Agent.AllowedPaths, p) {
			t.Errorf("allowed_paths %v do not allow %s, which the DaemonSet mounts", cfg.Agent.AllowedPaths, p)
		}
	}
	if cfg.Agent.HTTPListen == "" || !strings.HasSuffix(cfg.Agent.HTTPListen, ":"+svc.Ports[0]) {
		t.Errorf("http_listen %q does not serve the container port %v the probes use", cfg.Agent.HTTPListen, svc.Ports)
	}
}

func TestKubernetesSettings(t *testing.T) {
	for _, tc := range []struct {
		name, ini, wantErr string
	}{
		{"defaults", "", ""},
		{"enabled", "[kubernetes]\nenabled = true\nnode_name = n1\ninclude_labels = app, app.kubernetes.io/name\nwait_for_metadata = 500ms", ""},
		{"relative kubelet dir", "[kubernetes]\nkubelet_dir = var/lib/kubelet", "kubelet_dir"},
		{"wait too long", "[kubernetes]\nwait_for_metadata = 2h", "wait_for_metadata"},
		{"unknown key", "[kubernetes]\nnode = n1", "node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := settings.Parse("test.ini", []byte("[kafka]\nbrokers = k:9092\n"+tc.ini), EnvPrefix, func(string) (string, bool) { return "", false })
			if err != nil {
				t.Fatal(err)
			}
			cfg, _, err := FromSettings(f)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Kubernetes.LogDir != "/var/log" || cfg.Kubernetes.KubeletDir != "/var/lib/kubelet" {
					t.Errorf("dirs %+v", cfg.Kubernetes)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err %v, want one naming %s", err, tc.wantErr)
			}
		})
	}
}
