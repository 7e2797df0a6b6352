package config

import (
	"strings"
	"testing"

	"github.com/logcollect/logcollect/devkit/testkit"
)

// TestKubernetesManifestEnvironment loads the settings exactly as the
// Deployment's container would (the ConfigMap's ini plus the container's
// environment), so a renamed key or a bad value in deploy/kubernetes fails
// here.
func TestKubernetesManifestEnvironment(t *testing.T) {
	path, ini, svc, err := testkit.RepoKubeService("logtransfer", "logtransfer", "logtransfer-config")
	cfg := loadDeployed(t, "the Deployment", path, ini, svc, err)
	if cfg.Transfer.HTTPListen == "" || !strings.HasSuffix(cfg.Transfer.HTTPListen, ":"+svc.Ports[0]) {
		t.Errorf("http_listen %q does not serve the container port %v the probes use", cfg.Transfer.HTTPListen, svc.Ports)
	}
}
