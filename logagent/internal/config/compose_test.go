package config

import (
	"testing"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/pkg/settings"
)

// TestComposeEnvironment loads the settings exactly as the docker-compose
// service would (the image's ini plus the service's environment), so a
// renamed key or a bad value in docker-compose.yml fails here.
func TestComposeEnvironment(t *testing.T) {
	path, ini, svc, err := testkit.RepoComposeService("logagent", "logagent/conf/config.ini")
	cfg := loadDeployed(t, "docker-compose.yml", path, ini, svc, err)
	if cfg.Kafka.Client.Brokers[0] != "kafka:9092" || cfg.Etcd.Endpoints[0] != "http://etcd:2379" || cfg.Agent.IP != "172.30.0.10" {
		t.Errorf("compose config points at %v, %v, ip %q", cfg.Kafka.Client.Brokers, cfg.Etcd.Endpoints, cfg.Agent.IP)
	}
}

// loadDeployed loads the settings exactly as a deployment's container would
// (its ini plus its environment): they must load, and every environment
// variable with the prefix must be one logagent reads.
func loadDeployed(t *testing.T, where, path string, ini []byte, svc testkit.ComposeService, err error) Config {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	f, err := settings.Parse(path, ini, EnvPrefix, svc.Lookup)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := FromSettings(f)
	if err != nil {
		t.Fatalf("%s: the settings do not load: %v", where, err)
	}
	if unknown := svc.UnknownEnv(EnvPrefix+"_", f.EnvNames()); len(unknown) > 0 {
		t.Errorf("%s sets %v, which logagent does not read", where, unknown)
	}
	return cfg
}
