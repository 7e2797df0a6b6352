package config

import (
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/logtransfer/internal/document"
)

func parse(t *testing.T, ini string, env map[string]string) (Config, []string, error) {
	t.Helper()
	return Parse("test.ini", []byte(ini), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
}

func TestTutorialConfigIsAccepted(t *testing.T) {
	c, warnings, err := parse(t, `
[kafka]
address = 127.0.0.1:9092;127.0.0.2:9092
topic = web_log

[es]
address = 127.0.0.1:9200
chan_max_size = 100000
workers = 16
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Kafka.Client.Brokers, ","); got != "127.0.0.1:9092,127.0.0.2:9092" {
		t.Errorf("brokers = %s", got)
	}
	if len(c.Kafka.Topics) != 1 || c.Kafka.Topics[0] != "web_log" {
		t.Errorf("topics = %v", c.Kafka.Topics)
	}
	if c.ES.URLs[0] != "http://127.0.0.1:9200" {
		t.Errorf("urls = %v", c.ES.URLs)
	}
	if c.Transfer.ChanMaxSize != 100000 || c.ES.Workers != 16 {
		t.Errorf("chan_max_size %d, workers %d", c.Transfer.ChanMaxSize, c.ES.Workers)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %v", warnings)
	}
	if c.ES.DeadLetterIndex != "logcollect-dead-letter" || c.ES.IndexPattern != "{prefix}-{topic}-{YYYY.MM.DD}" {
		t.Errorf("defaults: %q %q", c.ES.DeadLetterIndex, c.ES.IndexPattern)
	}
}

func TestCanonicalKeyWinsOverAliasWithWarning(t *testing.T) {
	c, warnings, err := parse(t, `
[kafka]
topics = a,b
topic = old
[es]
chan_max_size = 5
[transfer]
chan_max_size = 7
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Transfer.ChanMaxSize != 7 || strings.Join(c.Kafka.Topics, ",") != "a,b" {
		t.Errorf("chan_max_size %d topics %v", c.Transfer.ChanMaxSize, c.Kafka.Topics)
	}
	joined := strings.Join(warnings, "\n")
	if !strings.Contains(joined, "[transfer] chan_max_size wins") || !strings.Contains(joined, "topics wins") {
		t.Errorf("warnings = %q", joined)
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	c, _, err := parse(t, "[kafka]\ntopics = a\n", map[string]string{
		"LOGTRANSFER_KAFKA_TOPIC_PATTERN": "logs_.*",
		"LOGTRANSFER_ES_URLS":             "https://es1:9200,es2:9200",
		"LOGTRANSFER_ES_FLUSH_INTERVAL":   "250ms",
		"LOGTRANSFER_KAFKA_GROUP_ID":      "g2",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Kafka.TopicPattern.MatchString("logs_x") || c.Kafka.TopicPattern.MatchString("old_logs_x") {
		t.Errorf("topic_pattern %v: want anchored match", c.Kafka.TopicPattern)
	}
	if strings.Join(c.ES.URLs, ",") != "https://es1:9200,http://es2:9200" || c.ES.FlushInterval != 250*time.Millisecond || c.Kafka.GroupID != "g2" {
		t.Errorf("urls %v flush %s group %s", c.ES.URLs, c.ES.FlushInterval, c.Kafka.GroupID)
	}
}

func TestBadSettingsAreAllReported(t *testing.T) {
	_, _, err := parse(t, `
[kafka]
topics = ok,bad/topic
topic_pattern = web_(
initial_offset = latest
balance_strategy = fair
session_timeout = 6s
heartbeat_interval = 3s
[es]
urls = ftp://x
index_pattern = {prefix}-{YYYY}
dead_letter_index = Dead
workers = 0
bulk_bytes = lots
flush_interval = soon
retry_backoff_min = 10s
retry_backoff_max = 1s
typo_key = 1
[transfer]
http_listen = nowhere
[log]
level = loud
[extra]
x = 1
`, map[string]string{"LOGTRANSFER_ES_BULK_ACTIONS": "-5"})
	if err == nil {
		t.Fatal("want an error")
	}
	msg := err.Error()
	for _, want := range []string{
		`[kafka] topics = "bad/topic"`,
		`[kafka] topic_pattern = "web_("`,
		`[kafka] initial_offset = "latest": want one of oldest, newest`,
		`[kafka] balance_strategy = "fair"`,
		`[kafka] heartbeat_interval = "3s": want at most a third of session_timeout`,
		`[es] urls = "ftp://x"`,
		`[es] index_pattern`,
		`[es] workers = "0"`,
		`[es] bulk_bytes = "lots"`,
		`[es] flush_interval = "soon"`,
		`[es] retry_backoff_min`,
		`LOGTRANSFER_ES_BULK_ACTIONS: [es] bulk_actions = "-5"`,
		`[es] typo_key: unknown key`,
		`[transfer] http_listen = "nowhere"`,
		`[log] level = "loud"`,
		`[extra] *: unknown section`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q\nfull error:\n%s", want, msg)
		}
	}
}

func TestShippedConfigIsValid(t *testing.T) {
	c, warnings, err := Load("../../conf/config.ini")
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 || c.Kafka.Topics[0] != "web_log" || c.Transfer.HTTPListen != "127.0.0.1:9102" {
		t.Errorf("warnings %v, config %+v", warnings, c)
	}
}

func TestNoTopicIsAnError(t *testing.T) {
	_, _, err := parse(t, "[kafka]\nbrokers = k:9092\n", nil)
	if err == nil || !strings.Contains(err.Error(), "at least one topic, or a topic_pattern") {
		t.Fatalf("err = %v", err)
	}
	if _, _, err := parse(t, "[kafka]\ntopic_pattern = logs-.*\n", nil); err != nil {
		t.Fatalf("a pattern alone must do: %v", err)
	}
}

func TestDeadLetterIndexFollowsPrefix(t *testing.T) {
	c, _, err := parse(t, "[kafka]\ntopics=a\n[es]\nindex_prefix = Prod\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ES.IndexPrefix != "prod" || c.ES.DeadLetterIndex != "prod-dead-letter" {
		t.Errorf("prefix %q dead letter %q", c.ES.IndexPrefix, c.ES.DeadLetterIndex)
	}
}

// A bad URL is reported with its password masked: the message goes to the
// terminal and the service's log.
func TestBadURLErrorHidesThePassword(t *testing.T) {
	_, _, err := parse(t, "[kafka]\ntopics = t\n[es]\nurls = ftp://elastic:hunter2@es:9200\n", nil)
	if err == nil || !strings.Contains(err.Error(), "elastic:xxxxx@es:9200") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error = %v, want the bad URL named with its password masked", err)
	}
}

func TestMaxInflightBytes(t *testing.T) {
	tests := []struct {
		ini  string
		env  map[string]string
		want int64
		err  string
	}{
		{"", nil, 64 << 20, ""},
		{"max_inflight_bytes = 16MiB", nil, 16 << 20, ""},
		{"max_inflight_bytes = 16MiB", map[string]string{"LOGTRANSFER_TRANSFER_MAX_INFLIGHT_BYTES": "1GiB"}, 1 << 30, ""},
		{"max_inflight_bytes = 10", nil, 0, "max_inflight_bytes"},
	}
	for _, tc := range tests {
		c, _, err := parse(t, "[kafka]\ntopics = t\n[transfer]\n"+tc.ini+"\n", tc.env)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one naming %s", tc.ini, err, tc.err)
			}
			continue
		}
		if err != nil || c.Transfer.MaxInflightBytes != tc.want {
			t.Errorf("%q %v: %d, %v; want %d", tc.ini, tc.env, c.Transfer.MaxInflightBytes, err, tc.want)
		}
	}
}

func TestForeignJSON(t *testing.T) {
	tests := []struct {
		ini  string
		env  map[string]string
		want document.ForeignJSON
		err  string
	}{
		{"", nil, document.ForeignJSONMessage, ""},
		{"foreign_json = object", nil, document.ForeignJSONObject, ""},
		{"foreign_json = Object", nil, document.ForeignJSONObject, ""},
		{"foreign_json = object", map[string]string{"LOGTRANSFER_TRANSFER_FOREIGN_JSON": "message"}, document.ForeignJSONMessage, ""},
		{"foreign_json = fields", nil, "", `[transfer] foreign_json = "fields": want one of message, object`},
		{"", map[string]string{"LOGTRANSFER_TRANSFER_FOREIGN_JSON": "json"}, "", `LOGTRANSFER_TRANSFER_FOREIGN_JSON: [transfer] foreign_json = "json": want one of message, object`},
	}
	for _, tc := range tests {
		c, _, err := parse(t, "[kafka]\ntopics = t\n[transfer]\n"+tc.ini+"\n", tc.env)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q %v: error %v, want %s", tc.ini, tc.env, err, tc.err)
			}
			continue
		}
		if err != nil || c.Transfer.ForeignJSON != tc.want {
			t.Errorf("%q %v: %q, %v; want %q", tc.ini, tc.env, c.Transfer.ForeignJSON, err, tc.want)
		}
	}
}

func TestEtcdSection(t *testing.T) {
	const base = "[kafka]\ntopics = web\n"
	c, _, err := parse(t, base, nil)
	if err != nil || c.Etcd.Enabled() || c.Etcd.StatusKeyPattern() != "/logagent/%s/status" {
		t.Errorf("no [etcd]: enabled %v, status pattern %q, %v; want the fleet pages off", c.Etcd.Enabled(), c.Etcd.StatusKeyPattern(), err)
	}
	c, _, err = parse(t, base+"[etcd]\nendpoints = 127.0.0.1:2379\nusername = console\npassword = ro\ncollect_log_key = /prod/%s/cfg\n", nil)
	if err != nil || !c.Etcd.Enabled() || c.Etcd.Username != "console" || c.Etcd.StatusKeyPattern() != "/prod/%s/status" {
		t.Errorf("[etcd]: %+v, %v", c.Etcd, err)
	}
	c, _, err = parse(t, base, map[string]string{"LOGTRANSFER_ETCD_ENDPOINTS": "e:2379", "LOGTRANSFER_ETCD_STATUS_KEY": "/s/%s"})
	if err != nil || c.Etcd.Endpoints[0] != "e:2379" || c.Etcd.StatusKeyPattern() != "/s/%s" {
		t.Errorf("environment: %+v, %v", c.Etcd, err)
	}
	for _, bad := range []string{"collect_log_key = /logagent/cfg", "status_key = /a/%s/%d", "dial_timeout = never"} {
		if _, _, err := parse(t, base+"[etcd]\n"+bad+"\n", nil); err == nil || !strings.Contains(err.Error(), "[etcd] "+strings.Fields(bad)[0]) {
			t.Errorf("%s: %v, want an error naming the key", bad, err)
		}
	}
}
