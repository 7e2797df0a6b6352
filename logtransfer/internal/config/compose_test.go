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
	path, ini, svc, err := testkit.RepoComposeService("logtransfer", "logtransfer/conf/config.ini")
	cfg := loadDeployed(t, "docker-compose.yml", path, ini, svc, err)
	if cfg.Kafka.Client.Brokers[0] != "kafka:9092" || cfg.ES.URLs[0] != "http://elasticsearch:9200" {
		t.Errorf("compose config points at %v and %v", cfg.Kafka.Client.Brokers, cfg.ES.URLs)
	}
}

// loadDeployed loads the settings exactly as a deployment's container would
// (its ini plus its environment): they must load, and every environment
// variable with the prefix must be one logtransfer reads.
func loadDeployed(t *testing.T, where, path string, ini []byte, svc testkit.ComposeService, err error) Config {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	f, err := settings.Parse(path, ini, EnvPrefix, svc.Lookup)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := FromFile(f)
	if err != nil {
		t.Fatalf("%s: the settings do not load: %v", where, err)
	}
	if unknown := svc.UnknownEnv(EnvPrefix+"_", f.EnvNames()); len(unknown) > 0 {
		t.Errorf("%s sets %v, which logtransfer does not read", where, unknown)
	}
	return cfg
}
