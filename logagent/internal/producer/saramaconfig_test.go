package producer

import (
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/logcollect/logcollect/pkg/kafkaconf/kafkaconftest"
)

// TestSaramaConfig proves the agent keeps the client settings kafkaconf
// sets for both services (the transfer's test checks the same fields), and
// pins the producer's own knobs.
func TestSaramaConfig(t *testing.T) {
	cfg := Config{Client: kafkaconftest.Settings(), RequiredAcks: "leader", Compression: "zstd", MaxMessageBytes: 2 << 20}
	sc, err := saramaConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kafkaconftest.CheckShared(t, sc, cfg.Client)
	for name, tc := range map[string]struct{ got, want any }{
		"RequiredAcks":     {sc.Producer.RequiredAcks, sarama.WaitForLocal},
		"Compression":      {sc.Producer.Compression, sarama.CompressionZSTD},
		"MaxMessageBytes":  {sc.Producer.MaxMessageBytes, 2 << 20},
		"DialTimeout":      {sc.Net.DialTimeout, 5 * time.Second},
		"ReadTimeout":      {sc.Net.ReadTimeout, 10 * time.Second},
		"WriteTimeout":     {sc.Net.WriteTimeout, 10 * time.Second},
		"MetadataRetry":    {sc.Metadata.Retry.Max, 2},
		"MetadataBackoff":  {sc.Metadata.Retry.Backoff, 250 * time.Millisecond},
		"FlushBytes":       {sc.Producer.Flush.Bytes, 128 << 10},
		"FlushFrequency":   {sc.Producer.Flush.Frequency, 20 * time.Millisecond},
		"Idempotent":       {sc.Producer.Idempotent, false},
		"RefreshFrequency": {sc.Metadata.RefreshFrequency, 7 * time.Second},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", name, tc.got, tc.want)
		}
	}

	cfg.Idempotent = true
	if sc, err = saramaConfig(cfg); err != nil || !sc.Producer.Idempotent || sc.Producer.RequiredAcks != sarama.WaitForAll || sc.Net.MaxOpenRequests != 1 {
		t.Errorf("idempotent: %v acks %v open requests %d", err, sc.Producer.RequiredAcks, sc.Net.MaxOpenRequests)
	}
	for _, bad := range []Config{{Client: cfg.Client, RequiredAcks: "most"}, {Client: cfg.Client, Compression: "rar"}} {
		if _, err := saramaConfig(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
