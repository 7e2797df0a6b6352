package transfer

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/logcollect/logcollect/devkit/testkit"
	tt "github.com/logcollect/logcollect/logtransfer/internal/transfertest"
)

// TestElasticsearchBasicAuth runs the transfer against an emulator that
// requires basic auth: a wrong password stops it at start with a message
// naming the fix, nothing consumed or committed; the right one indexes
// everything; the password never reaches the log.
func TestElasticsearchBasicAuth(t *testing.T) {
	es := testkit.StartES(t, testkit.ESOptions{Username: "elastic", Password: "s3cret-pw", RefreshInterval: 100 * time.Millisecond})
	k := tt.Kafka(t, map[string]int32{"web_log": 2}, "")
	const n = 200
	tt.Produce(t, k.Addr(), "web_log", tt.Records("web-auth", n, time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)))

	cfg := testConfig(k.Addr(), es.URL(), "g-auth", "web_log")
	cfg.ES.Username, cfg.ES.Password = "elastic", "wrong-pw"
	wrong := start(t, cfg)
	select {
	case <-wrong.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the transfer kept running with credentials Elasticsearch refuses")
	}
	for _, want := range []string{"refused the credentials (HTTP 401)", "check [es] username and password"} {
		if wrong.err == nil || !strings.Contains(wrong.err.Error(), want) {
			t.Errorf("Run = %v, want an error saying %q", wrong.err, want)
		}
	}
	if c := tt.Count(t, es, "logcollect-*"); c != 0 {
		t.Errorf("%d documents indexed with a wrong password", c)
	}
	// The sink is set up before the source, so the consumer never joined:
	// nothing can have been consumed or committed.
	if groupExists(t, k.Addr(), "g-auth") {
		t.Error("consumer group g-auth exists: the transfer reached Kafka before Elasticsearch accepted it")
	}
	if strings.Contains(wrong.logs.String()+fmt.Sprint(wrong.err), "wrong-pw") {
		t.Error("the password appears in the log or the error")
	}

	cfg.ES.Password = "s3cret-pw"
	right := start(t, cfg)
	tt.Eventually(t, 60*time.Second, "every record indexed", countIs(t, es, "logcollect-web_log-*", n))
	tt.Eventually(t, 20*time.Second, "every record committed", func() (bool, string) {
		s := tt.Sum(tt.Committed(t, k.Addr(), "g-auth", "web_log", 2))
		return s == n, fmt.Sprint("committed ", s)
	})
	right.stop(t)
	if !groupExists(t, k.Addr(), "g-auth") {
		t.Error("consumer group g-auth missing after a successful run")
	}
	if strings.Contains(right.logs.String(), "s3cret-pw") {
		t.Error("the password appears in the log")
	}
}

func groupExists(t *testing.T, brokers, group string) bool {
	t.Helper()
	admin, err := sarama.NewClusterAdmin([]string{brokers}, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	groups, err := admin.ListConsumerGroups()
	if err != nil {
		t.Fatal(err)
	}
	_, ok := groups[group]
	return ok
}
