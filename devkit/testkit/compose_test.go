package testkit

import "testing"

func TestUnknownEnv(t *testing.T) {
	s := ComposeService{Environment: map[string]string{"APP_KAFKA_BROKERS": "x", "APP_KAFKA_BROKRES": "typo", "OTHER": "y"}}
	got := s.UnknownEnv("APP_", []string{"APP_KAFKA_BROKERS"})
	if len(got) != 1 || got[0] != "APP_KAFKA_BROKRES" {
		t.Errorf("UnknownEnv = %v", got)
	}
}
