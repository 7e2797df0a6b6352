package devstack

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// Three brokers: leaders spread over them and move when shuffled; the
// control answers produce requests with the chosen error for its window
// only.
func TestKafkaClusterControls(t *testing.T) {
	k, err := StartKafka(KafkaConfig{Topics: map[string]int32{"ctl": 6}, Ports: []int{0, 0, 0}})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if n := len(strings.Split(k.Addrs(), ",")); n != 3 {
		t.Fatalf("Addrs() = %q, want 3 brokers", k.Addrs())
	}
	url, err := k.ServeControl("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	before := k.Leaders("ctl")
	if len(before) != 6 {
		t.Fatalf("leaders %v, want 6 partitions", before)
	}
	moved := false
	for i := 0; i < 20 && !moved; i++ { // random leaders: the same set 20 times in a row is (1/3)^120
		post(t, url+"/shuffle-leaders", "", http.StatusOK)
		moved = !slices.Equal(k.Leaders("ctl"), before)
	}
	if !moved {
		t.Fatalf("leaders never moved from %v", before)
	}

	for _, tc := range []struct {
		body string
		code int
	}{
		{`{"error":"NOT_LEADER_FOR_PARTITION","for":"1s"}`, http.StatusOK},
		{`{"error":"NOPE","for":"1s"}`, http.StatusBadRequest},
		{`{"error":"REQUEST_TIMED_OUT","for":"soon"}`, http.StatusBadRequest},
		{`{"error":"REQUEST_TIMED_OUT","for":"1s","fraction":2}`, http.StatusBadRequest},
		{`not json`, http.StatusBadRequest},
	} {
		post(t, url+"/produce-errors", tc.body, tc.code)
	}
	cfg := saramaConfig()
	cfg.Producer.Retry.Max = 0
	p, err := sarama.NewSyncProducer(strings.Split(k.Addrs(), ","), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	send := func() error {
		_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "ctl", Value: sarama.StringEncoder("x")})
		return err
	}
	if err := send(); !errors.Is(err, sarama.ErrNotLeaderForPartition) {
		t.Fatalf("produce during the window: %v, want NOT_LEADER_FOR_PARTITION", err)
	}
	if k.ProduceFaultHits() < 1 {
		t.Errorf("ProduceFaultHits = %d, want at least 1", k.ProduceFaultHits())
	}
	deadline := time.Now().Add(30 * time.Second)
	for send() != nil {
		if time.Now().After(deadline) {
			t.Fatal("produce still fails 30s after a 1s window")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func post(t *testing.T, url, body string, want int) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(resp.Body)
		t.Errorf("POST %s %s: %s %s, want %d", url, body, resp.Status, b, want)
	}
}

// ShuffleLeaders moves the leaders on its own at the interval.
func TestKafkaShufflesLeadersPeriodically(t *testing.T) {
	k, err := StartKafka(KafkaConfig{Topics: map[string]int32{"mv": 6}, Ports: []int{0, 0, 0}, ShuffleLeaders: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	first := k.Leaders("mv")
	for deadline := time.Now().Add(30 * time.Second); slices.Equal(k.Leaders("mv"), first); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("leaders stayed %v for 30s with a 50ms shuffle", first)
		}
	}
}
