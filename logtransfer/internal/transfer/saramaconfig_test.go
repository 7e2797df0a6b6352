package transfer

import (
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/logcollect/logcollect/logtransfer/internal/config"
	"github.com/logcollect/logcollect/pkg/kafkaconf/kafkaconftest"
)

// TestSaramaConfig proves the transfer keeps the client settings kafkaconf
// sets for both services (the agent's producer test checks the same
// fields), and pins the consumer's own knobs.
func TestSaramaConfig(t *testing.T) {
	k := config.Default().Kafka
	k.Client = kafkaconftest.Settings()
	k.InitialOffset, k.BalanceStrategy = "newest", "cooperative-sticky"
	sc, err := saramaConfig(k)
	if err != nil {
		t.Fatal(err)
	}
	kafkaconftest.CheckShared(t, sc, k.Client)
	def := sarama.NewConfig()
	for name, tc := range map[string]struct{ got, want any }{
		"ReturnErrors":      {sc.Consumer.Return.Errors, true},
		"ChannelBufferSize": {sc.ChannelBufferSize, 16},
		"InitialOffset":     {sc.Consumer.Offsets.Initial, sarama.OffsetNewest},
		"AutoCommit":        {sc.Consumer.Offsets.AutoCommit.Enable, true},
		"CommitInterval":    {sc.Consumer.Offsets.AutoCommit.Interval, time.Second},
		"SessionTimeout":    {sc.Consumer.Group.Session.Timeout, 10 * time.Second},
		"Heartbeat":         {sc.Consumer.Group.Heartbeat.Interval, 3 * time.Second},
		"RebalanceTimeout":  {sc.Consumer.Group.Rebalance.Timeout, 60 * time.Second},
		"Strategy":          {sc.Consumer.Group.Rebalance.GroupStrategies[0].Name(), sarama.CooperativeStickyBalanceStrategyName},
		"RefreshFrequency":  {sc.Metadata.RefreshFrequency, 7 * time.Second},
		// Unlike the producer, the consumer keeps sarama's network timeouts.
		"DialTimeout":   {sc.Net.DialTimeout, def.Net.DialTimeout},
		"ReadTimeout":   {sc.Net.ReadTimeout, def.Net.ReadTimeout},
		"MetadataRetry": {sc.Metadata.Retry.Max, def.Metadata.Retry.Max},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", name, tc.got, tc.want)
		}
	}
}
