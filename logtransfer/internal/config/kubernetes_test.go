package config

import (
	"strings"
	"testing"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/pkg/settings"
)

// TestKubernetesManifestEnvironment loads the settings exactly as the
// Deployment's container would (the ConfigMap's ini plus the container's
// environment), so a renamed key or a bad value in deploy/kubernetes fails
// here.
func TestKubernetesManifestEnvironment(t *testing.T) {
	path, ini, svc, err := testkit.RepoKubeService("logtransfer", "logtransfer", "logtransfer-config")
	if err != nil {
		t.Fatal(err)
	}
	f, err := settings.Parse(path, ini, EnvPrefix, svc.Lookup)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := FromFile(f)
	if err != nil {
		t.Fatalf("the Deployment's settings do not load: %v", err)
	}
	if unknown := svc.UnknownEnv(EnvPrefix+"_", f.EnvNames()); len(unknown) > 0 {
		t.Errorf("the Deployment sets %v, which logtransfer does not read", unknown)
	}
	if cfg.Transfer.HTTPListen == "" || !strings.HasSuffix(cfg.Transfer.HTTPListen, ":"+svc.Ports[0]) {
		t.Errorf("http_listen %q does not serve the container port %v the probes use", cfg.Transfer.HTTPListen, svc.Ports)
	}
}
