package kafkaconf

import (
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/pkg/settings"
	"github.com/logcollect/logcollect/pkg/tlsconf"
)

func read(t *testing.T, ini string) (Settings, error) {
	t.Helper()
	f, err := settings.Parse("test.ini", []byte(ini), "T", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := Read(f, "kafka", "test")
	return s, f.Err()
}

func TestReadValidates(t *testing.T) {
	s, err := read(t, "[kafka]\naddress = 127.0.0.1:9092;127.0.0.1:9093\n")
	if err != nil || len(s.Brokers) != 2 || s.Version != DefaultVersion {
		t.Fatalf("tutorial form: %+v, %v", s, err)
	}
	for ini, want := range map[string]string{
		"[kafka]\nversion = 0.10.2.0\n":         "0.11.0 or newer",
		"[kafka]\nversion = banana\n":           "a Kafka version",
		"[kafka]\nsasl_mechanism = GSSAPI\n":    "one of , PLAIN, SCRAM-SHA-256, SCRAM-SHA-512",
		"[kafka]\nsasl_mechanism = PLAIN\n":     "a user name",
		"[kafka]\nbrokers = localhost\n":        "host:port",
		"[kafka]\ntls_cert_file = /x.pem\n":     "both or neither",
		"[kafka]\nsasl_password_file = /nope\n": "read secret file",
	} {
		if _, err := read(t, ini); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want it to mention %q", ini, err, want)
		}
	}
}

// TestAuthAgainstBroker proves each mechanism works end to end against the
// dev stack broker, and that a wrong password fails instead of hanging.
func TestAuthAgainstBroker(t *testing.T) {
	certs, err := testkit.GenerateCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		broker testkit.KafkaOptions
		client Settings
		ok     bool
	}{
		{"plain", testkit.KafkaOptions{SASL: map[string]map[string]string{"PLAIN": {"alice": "pw"}}},
			Settings{SASLMechanism: "PLAIN", SASLUser: "alice", SASLPassword: "pw"}, true},
		{"scram-256", testkit.KafkaOptions{SASL: map[string]map[string]string{"SCRAM-SHA-256": {"bob": "pw"}}},
			Settings{SASLMechanism: "SCRAM-SHA-256", SASLUser: "bob", SASLPassword: "pw"}, true},
		{"scram-512", testkit.KafkaOptions{SASL: map[string]map[string]string{"SCRAM-SHA-512": {"bob": "pw"}}},
			Settings{SASLMechanism: "SCRAM-SHA-512", SASLUser: "bob", SASLPassword: "pw"}, true},
		{"scram wrong password", testkit.KafkaOptions{SASL: map[string]map[string]string{"SCRAM-SHA-256": {"bob": "pw"}}},
			Settings{SASLMechanism: "SCRAM-SHA-256", SASLUser: "bob", SASLPassword: "nope"}, false},
		{"tls", testkit.KafkaOptions{TLS: &certs},
			Settings{TLS: tlsconf.Files{CAFile: certs.CAFile}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.broker.Topics = map[string]int32{"t": 1}
			k := testkit.StartKafka(t, tt.broker)
			tt.client.Brokers, tt.client.Version = []string{k.Addr()}, DefaultVersion
			cfg := sarama.NewConfig()
			cfg.Net.DialTimeout = 3 * time.Second
			cfg.Metadata.Retry.Max = 0
			cfg.Producer.Return.Successes = true
			if err := tt.client.Apply(cfg); err != nil {
				t.Fatal(err)
			}
			p, err := sarama.NewSyncProducer(tt.client.Brokers, cfg)
			if err == nil {
				_, _, err = p.SendMessage(&sarama.ProducerMessage{Topic: "t", Value: sarama.StringEncoder("x")})
				p.Close()
			}
			if (err == nil) != tt.ok {
				t.Errorf("produce err = %v, want success %v", err, tt.ok)
			}
		})
	}
}
