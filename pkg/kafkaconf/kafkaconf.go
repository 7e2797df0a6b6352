// Package kafkaconf holds the Kafka client settings both services share
// (brokers, protocol version, TLS, SASL) and applies them to sarama.
package kafkaconf

import (
	"fmt"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/logcollect/logcollect/pkg/settings"
	"github.com/logcollect/logcollect/pkg/tlsconf"
)

// DefaultVersion is the protocol version spoken unless configured: new
// enough for idempotent producers and headers, old enough for any broker
// users still run. The in-process broker needs at least 0.11.
const DefaultVersion = "2.8.0"

// SASL mechanisms accepted in sasl_mechanism.
var Mechanisms = []string{"", sarama.SASLTypePlaintext, sarama.SASLTypeSCRAMSHA256, sarama.SASLTypeSCRAMSHA512}

// Settings are the client settings of [kafka].
type Settings struct {
	Brokers       []string
	Version       string
	ClientID      string
	TLS           tlsconf.Files
	SASLMechanism string
	SASLUser      string
	SASLPassword  string
	// TopicRefreshInterval: how often topic metadata (partition counts) is
	// read again; 0 keeps sarama's 10 minutes.
	TopicRefreshInterval time.Duration
}

// Defaults are the settings of an empty section. Topic metadata is read
// again every 30 s (Kafka's own producers wait 5 minutes,
// metadata.max.age.ms; sarama 10).
func Defaults(clientID string) Settings {
	return Settings{Brokers: []string{"127.0.0.1:9092"}, Version: DefaultVersion, ClientID: clientID,
		TopicRefreshInterval: 30 * time.Second}
}

// Read reads the settings from section, recording bad values in f:
// brokers (tutorial alias: address), version, client_id, tls_* and sasl_*
// (sasl_password_file reads the secret from a file so it stays out of the
// ini and the environment), topic_refresh_interval.
func Read(f *settings.File, section, defaultClientID string) Settings {
	d := Defaults(defaultClientID)
	s := Settings{
		Brokers:       f.Strings(section, "brokers", d.Brokers, "address"),
		Version:       f.String(section, "version", d.Version),
		ClientID:      f.String(section, "client_id", d.ClientID),
		TLS:           tlsconf.Read(f, section, ""),
		SASLMechanism: f.Enum(section, "sasl_mechanism", "", Mechanisms),
		SASLUser:      f.String(section, "sasl_username", ""),
		SASLPassword:  f.Secret(section, "sasl_password"),
		TopicRefreshInterval: f.Duration(section, "topic_refresh_interval", d.TopicRefreshInterval,
			time.Second, 100*time.Millisecond, 24*time.Hour),
	}
	if _, err := sarama.ParseKafkaVersion(s.Version); err != nil {
		f.Check(section, "version", s.Version, fmt.Errorf("a Kafka version like %s", DefaultVersion))
	} else if v, _ := sarama.ParseKafkaVersion(s.Version); !v.IsAtLeast(sarama.V0_11_0_0) {
		f.Check(section, "version", s.Version, fmt.Errorf("0.11.0 or newer (record headers and idempotence need it)"))
	}
	if s.SASLMechanism != "" && s.SASLUser == "" {
		f.Check(section, "sasl_username", "", fmt.Errorf("a user name when sasl_mechanism is %s", s.SASLMechanism))
	}
	for _, b := range s.Brokers {
		if !strings.Contains(b, ":") {
			f.Check(section, "brokers", b, fmt.Errorf("host:port pairs separated by commas"))
		}
	}
	return s
}

// Apply sets the client part of cfg.
func (s Settings) Apply(cfg *sarama.Config) error {
	v, err := sarama.ParseKafkaVersion(s.Version)
	if err != nil {
		return fmt.Errorf("kafka version %q: %w", s.Version, err)
	}
	cfg.Version = v
	if s.ClientID != "" {
		cfg.ClientID = s.ClientID
	}
	tlsCfg, err := s.TLS.Config()
	if err != nil {
		return fmt.Errorf("kafka TLS: %w", err)
	}
	if tlsCfg != nil {
		cfg.Net.TLS.Enable, cfg.Net.TLS.Config = true, tlsCfg
	}
	if s.SASLMechanism != "" {
		cfg.Net.SASL.Enable = true
		cfg.Net.SASL.Handshake = true
		cfg.Net.SASL.User, cfg.Net.SASL.Password = s.SASLUser, s.SASLPassword
		cfg.Net.SASL.Mechanism = sarama.SASLMechanism(s.SASLMechanism)
		switch s.SASLMechanism {
		case sarama.SASLTypeSCRAMSHA256:
			cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return newSCRAM(sha256Hash) }
		case sarama.SASLTypeSCRAMSHA512:
			cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return newSCRAM(sha512Hash) }
		}
	}
	return nil
}
