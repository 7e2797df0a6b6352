package kafkaconf_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/pkg/backoff"
	"github.com/logcollect/logcollect/pkg/kafkaconf"
	"github.com/logcollect/logcollect/pkg/kafkaconf/kafkaconftest"
	"github.com/logcollect/logcollect/pkg/obs"
)

func TestNewConfig(t *testing.T) {
	s := kafkaconftest.Settings()
	c, err := s.NewConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Version": sarama.V3_6_0_0, "ClientID": "shared-test",
		"Net.TLS.Enable": true, "Net.TLS.Config": true, "Net.TLS.InsecureSkipVerify": true,
		"Net.SASL.Enable": true, "Net.SASL.Handshake": true, "Net.SASL.Mechanism": sarama.SASLMechanism(sarama.SASLTypeSCRAMSHA512),
		"Net.SASL.User": "u", "Net.SASL.Password": "p", "Net.SASL.SCRAM": true,
		"Metadata.RefreshFrequency": 7 * time.Second,
	}
	if got := kafkaconftest.Fields(c); !reflect.DeepEqual(got, want) {
		t.Errorf("shared fields\n got %v\nwant %v", got, want)
	}

	// A zero refresh keeps sarama's; the defaults set 30 s.
	if c, err := (kafkaconf.Settings{Version: kafkaconf.DefaultVersion}).NewConfig(nil); err != nil || c.Metadata.RefreshFrequency != sarama.NewConfig().Metadata.RefreshFrequency {
		t.Errorf("zero refresh: %v, %v", c.Metadata.RefreshFrequency, err)
	}
	if c, err := kafkaconf.Defaults("x").NewConfig(nil); err != nil || c.Metadata.RefreshFrequency != 30*time.Second || c.ClientID != "x" {
		t.Errorf("defaults: %+v, %v", c, err)
	}

	// The service's knobs run after the shared ones, and sarama validates the whole.
	boom := errors.New("boom")
	if _, err := s.NewConfig(func(*sarama.Config) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("tune error: %v", err)
	}
	if _, err := s.NewConfig(func(c *sarama.Config) error { c.Net.DialTimeout = 0; return nil }); err == nil || !strings.Contains(err.Error(), "kafka settings") {
		t.Errorf("invalid knob: %v, want sarama's validation error", err)
	}
	if _, err := (kafkaconf.Settings{Version: "banana"}).NewConfig(nil); err == nil || !strings.Contains(err.Error(), "kafka client settings") {
		t.Errorf("bad version: %v", err)
	}
}

func TestConnect(t *testing.T) {
	// A port nothing listens on: Connect retries until ctx ends, marks
	// Kafka not ready and logs every attempt.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	s := kafkaconf.Defaults("t")
	s.Brokers = []string{addr}
	c, err := s.NewConfig(func(c *sarama.Config) error { c.Metadata.Retry.Max = 0; return nil })
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	ready := obs.NewReadiness("kafka")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	bo := backoff.Backoff{Min: 20 * time.Millisecond, Max: 50 * time.Millisecond}
	if _, err := s.Connect(ctx, c, &bo, slog.New(slog.NewTextHandler(&logs, nil)), ready); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Connect = %v, want the context's error", err)
	}
	if st, ok := ready.Snapshot(); ok || !strings.Contains(st["kafka"], "out of available brokers") {
		t.Errorf("readiness %v", st)
	}
	if n := strings.Count(logs.String(), "kafka unreachable at start; retrying"); n < 2 || bo.Attempt() != n {
		t.Errorf("%d retries logged, %d attempts:\n%s", n, bo.Attempt(), logs.String())
	}

	// A broker that is up: connected at once.
	k := testkit.StartKafka(t, testkit.KafkaOptions{Topics: map[string]int32{"t": 1}})
	defer k.Close()
	s.Brokers = []string{k.Addr()}
	client, err := s.Connect(context.Background(), c, &backoff.Backoff{}, slog.New(slog.DiscardHandler), ready)
	if err != nil {
		t.Fatal(err)
	}
	_ = client.Close()
}
