package devstack

import (
	"encoding/json"
	"errors"
	"fmt"
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

// The controls tests of other modules use over HTTP: count produce
// requests, hold those to one broker until released, move a leader.
func TestKafkaControlCountsHoldsAndMoves(t *testing.T) {
	k, err := StartKafka(KafkaConfig{Topics: map[string]int32{"h": 1}, Ports: []int{0, 0}})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	url, err := k.ServeControl("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var id struct {
		ID int `json:"id"`
	}
	postJSON(t, url+"/produce-counters", "", &id)
	counter := fmt.Sprintf("%s/produce-counters/%d", url, id.ID)
	leader := k.Leaders("h")[0]
	postJSON(t, url+"/holds", fmt.Sprintf(`{"node":%d}`, leader), &id)
	hold := fmt.Sprintf("%s/holds/%d", url, id.ID)

	p, err := sarama.NewSyncProducer(strings.Split(k.Addrs(), ","), saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sent := make(chan error, 1)
	go func() {
		_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "h", Value: sarama.StringEncoder("x")})
		sent <- err
	}()
	var held struct {
		Held int64 `json:"held"`
	}
	for deadline := time.Now().Add(30 * time.Second); held.Held == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no produce request held within 30s")
		}
		getJSON(t, hold, &held)
	}
	select {
	case err := <-sent:
		t.Fatalf("produce answered while held: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	post(t, url+"/move-leader", fmt.Sprintf(`{"topic":"h","partition":0,"node":%d}`, 1-leader), http.StatusOK)
	if got := k.Leaders("h")[0]; got != 1-leader {
		t.Errorf("leader %d after the move, want %d", got, 1-leader)
	}
	post(t, url+"/move-leader", `{"topic":"nope","partition":0,"node":0}`, http.StatusBadRequest)
	req, _ := http.NewRequest(http.MethodDelete, hold, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-sent; err != nil {
		t.Errorf("produce after the release: %v", err)
	}
	var count struct {
		Count int `json:"count"`
	}
	getJSON(t, counter, &count)
	if count.Count < 1 {
		t.Errorf("produce count %d, want at least the held request", count.Count)
	}
	post(t, url+"/holds/99", "", http.StatusMethodNotAllowed)
	resp, err = http.Get(url + "/holds/99")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown hold: %s, want 404", resp.Status)
	}
}

func postJSON(t *testing.T, url, body string, out any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s, %v", url, resp.Status, err)
	}
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
}
