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
	if err != nil {
		t.Fatal(err)
	}
	f, err := settings.Parse(path, ini, EnvPrefix, svc.Lookup)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := FromFile(f)
	if err != nil {
		t.Fatalf("the compose environment does not load: %v", err)
	}
	if unknown := svc.UnknownEnv(EnvPrefix+"_", f.EnvNames()); len(unknown) > 0 {
		t.Errorf("docker-compose.yml sets %v, which logtransfer does not read", unknown)
	}
	if cfg.Kafka.Client.Brokers[0] != "kafka:9092" || cfg.ES.URLs[0] != "http://elasticsearch:9200" {
		t.Errorf("compose config points at %v and %v", cfg.Kafka.Client.Brokers, cfg.ES.URLs)
	}
}
