// Package kafkaconftest proves a service's sarama config keeps the client
// settings kafkaconf sets for both services (one Kafka client setup). It is
// test support beside the package it tests, as net/http/httptest is: no
// binary links it.
package kafkaconftest

import (
	"reflect"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/logcollect/logcollect/pkg/kafkaconf"
	"github.com/logcollect/logcollect/pkg/tlsconf"
)

// Settings are client settings with every shared field away from
// its default (version, client id, TLS, SCRAM, metadata refresh), for tests
// that prove a service's sarama config keeps what kafkaconf sets.
func Settings() kafkaconf.Settings {
	return kafkaconf.Settings{
		Brokers: []string{"127.0.0.1:9092"}, Version: "3.6.0", ClientID: "shared-test",
		TLS:           tlsconf.Files{Enable: true, InsecureSkipVerify: true},
		SASLMechanism: sarama.SASLTypeSCRAMSHA512, SASLUser: "u", SASLPassword: "p",
		TopicRefreshInterval: 7 * time.Second,
	}
}

// Fields are the sarama fields kafkaconf.Settings.NewConfig sets
// for both services, in a form reflect.DeepEqual compares.
func Fields(c *sarama.Config) map[string]any {
	tls := c.Net.TLS.Config
	return map[string]any{
		"Version":                    c.Version,
		"ClientID":                   c.ClientID,
		"Net.TLS.Enable":             c.Net.TLS.Enable,
		"Net.TLS.Config":             tls != nil,
		"Net.TLS.InsecureSkipVerify": tls != nil && tls.InsecureSkipVerify,
		"Net.SASL.Enable":            c.Net.SASL.Enable,
		"Net.SASL.Handshake":         c.Net.SASL.Handshake,
		"Net.SASL.Mechanism":         c.Net.SASL.Mechanism,
		"Net.SASL.User":              c.Net.SASL.User,
		"Net.SASL.Password":          c.Net.SASL.Password,
		"Net.SASL.SCRAM":             c.Net.SASL.SCRAMClientGeneratorFunc != nil,
		"Metadata.RefreshFrequency":  c.Metadata.RefreshFrequency,
	}
}

// CheckShared fails t when a service's config c differs from s.NewConfig
// in a shared field: the service's own knobs must leave them alone.
func CheckShared(t testing.TB, c *sarama.Config, s kafkaconf.Settings) {
	t.Helper()
	shared, err := s.NewConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Fields(c), Fields(shared); !reflect.DeepEqual(got, want) {
		t.Errorf("shared Kafka client fields\n got %v\nwant %v", got, want)
	}
}
