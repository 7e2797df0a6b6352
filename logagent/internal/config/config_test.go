package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/pkg/settings"
)

func parse(t *testing.T, ini string, env map[string]string) (Config, []string, error) {
	t.Helper()
	f, err := settings.Parse("test.ini", []byte(ini), EnvPrefix, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return FromSettings(f)
}

func TestTutorialAliases(t *testing.T) {
	c, _, err := parse(t, `
[kafka]
address = 10.0.0.1:9092;10.0.0.2:9092
chan_max_size = 100
[etcd]
address = 127.0.0.1:2379
timeout = 5
collect_log_key = /logagent/%s/collect_config
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Kafka.Client.Brokers, ","); got != "10.0.0.1:9092,10.0.0.2:9092" {
		t.Errorf("brokers = %s", got)
	}
	if c.Kafka.ChanMaxSize != 100 || c.Etcd.DialTimeout != 5*time.Second {
		t.Errorf("chan_max_size %d timeout %s", c.Kafka.ChanMaxSize, c.Etcd.DialTimeout)
	}
	if c.CollectKey("1.2.3.4") != "/logagent/1.2.3.4/collect_config" {
		t.Errorf("key %s", c.CollectKey("1.2.3.4"))
	}
}

func TestEnvOverride(t *testing.T) {
	c, _, err := parse(t, "[kafka]\nbrokers = a:1\n", map[string]string{"LOGAGENT_KAFKA_BROKERS": "b:2,c:3", "LOGAGENT_AGENT_DATA_DIR": "/tmp/x"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Kafka.Client.Brokers, ",") != "b:2,c:3" || c.Agent.DataDir != "/tmp/x" {
		t.Errorf("env not applied: %v %s", c.Kafka.Client.Brokers, c.Agent.DataDir)
	}
}

func TestRejections(t *testing.T) {
	tests := []struct{ ini, want string }{
		{"[kafka]\nbrokerz = x\n", "[kafka] brokerz: unknown key"},
		{"[kafka]\nrequired_acks = some\n", `[kafka] required_acks = "some": want one of all, leader, none`},
		{"[kafka]\ncompression = brotli\n", "compression"},
		{"[kafka]\nchan_max_size = 0\n", "chan_max_size"},
		{"[etcd]\ncollect_log_key = /logagent/config\n", "exactly one %s"},
		{"[agent]\nip = not-an-ip\n", `[agent] ip = "not-an-ip"`},
		{"[agent]\nhost_id = \"web 1\"\n", `[agent] host_id = "web 1": want up to 128 printable ASCII characters without spaces, unique per host, or empty to keep the generated one in data_dir/host_id (byte 3 (0x20) is not printable ASCII without spaces)`},
		{"[agent]\nhost_id = " + strings.Repeat("x", 129) + "\n", "129 bytes, more than 128"},
		{"[agent]\nallowed_paths = var/log\n", "not absolute"},
		{"[log]\nlevel = loud\n", "[log] level"},
		{"[nosuch]\nx = 1\n", "unknown section"},
		{"[kafka]\nmax_inflight_bytes = 30MiB\n", "max_inflight_bytes = \"30MiB\": want at most half of [agent] memory_limit"},
		{"[agent]\nmemory_limit = 1KiB\n", `[agent] memory_limit = "1KiB": want 0 (no limit) or at least 16MiB`},
		{"[kafka]\nmax_inflight_bytes = 1KiB\n", "max_inflight_bytes"},
		{"[kafka]\ndead_letter_max_bytes = 10\n", "dead_letter_max_bytes"},
		{"[kafka]\ndead_letter_files = -1\n", "dead_letter_files"},
	}
	for _, tt := range tests {
		_, _, err := parse(t, tt.ini, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want it to contain %q", tt.ini, err, tt.want)
		}
	}
}

func TestAliasConflictWarns(t *testing.T) {
	_, warns, err := parse(t, "[kafka]\nbrokers = a:1\naddress = b:2\n", nil)
	if err != nil || len(warns) != 1 || !strings.Contains(warns[0], "brokers wins") {
		t.Fatalf("warns %v err %v", warns, err)
	}
}

// The shipped example must load as is.
func TestExampleConfigLoads(t *testing.T) {
	c, warns, err := Load("../../conf/config.ini")
	if err != nil || len(warns) != 0 {
		t.Fatalf("err %v warnings %v", err, warns)
	}
	if c.Agent.HTTPListen != "127.0.0.1:9101" || c.Kafka.RequiredAcks != "all" {
		t.Fatalf("%+v", c)
	}
}

func TestStatusKey(t *testing.T) {
	f := func(ini, ip, want string) {
		t.Helper()
		c, _, err := parse(t, ini, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.StatusKey(ip); got != want {
			t.Errorf("%q: status key %s, want %s", ini, got, want)
		}
	}
	f("", "10.0.0.5", "/logagent/10.0.0.5/status")
	f("[etcd]\ncollect_log_key = /prod/%s/collect\n", "10.0.0.5", "/prod/10.0.0.5/status")
	f("[etcd]\ncollect_log_key = /cfg/%s\n", "10.0.0.5", "/cfg/10.0.0.5/status")
	f("[etcd]\nstatus_key = /fleet/status/%s\n", "10.0.0.5", "/fleet/status/10.0.0.5")

	c, _, err := parse(t, "[etcd]\nstatus_ttl = 3\nstatus_interval = 500ms\n", nil)
	if err != nil || c.Etcd.StatusTTL != 3*time.Second || c.Etcd.StatusInterval != 500*time.Millisecond {
		t.Errorf("status_ttl/interval: %v %v %v", c.Etcd.StatusTTL, c.Etcd.StatusInterval, err)
	}
	if _, _, err := parse(t, "[etcd]\nstatus_key = /fleet/status\n", nil); err == nil || !strings.Contains(err.Error(), "exactly one %s") {
		t.Errorf("status_key without %%s: %v", err)
	}
}

func TestJournalSettings(t *testing.T) {
	c, _, err := parse(t, "", nil)
	if err != nil || !c.Agent.AllowJournal || c.Agent.Journalctl != "journalctl" {
		t.Fatalf("defaults: allow_journal %v journalctl %q err %v", c.Agent.AllowJournal, c.Agent.Journalctl, err)
	}
	c, _, err = parse(t, "[agent]\nallow_journal = false\njournalctl = /usr/bin/journalctl\n", nil)
	if err != nil || c.Agent.AllowJournal || c.Agent.Journalctl != "/usr/bin/journalctl" {
		t.Fatalf("set: allow_journal %v journalctl %q err %v", c.Agent.AllowJournal, c.Agent.Journalctl, err)
	}
	if _, _, err := parse(t, "[agent]\nallow_journal = maybe\n", nil); err == nil || !strings.Contains(err.Error(), "allow_journal") {
		t.Fatalf("bad bool: %v", err)
	}
}

func TestEtcdPasswordFile(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _, err := parse(t, "[etcd]\nusername = agent\npassword = ignored\npassword_file = "+secret+"\n", nil)
	if err != nil || c.Etcd.Password != "s3cret" {
		t.Errorf("password from file = %q, %v; want the file's content without its newline", c.Etcd.Password, err)
	}
	if _, _, err := parse(t, "[etcd]\npassword_file = /nonexistent/pw\n", nil); err == nil || !strings.Contains(err.Error(), "[etcd] password_file") {
		t.Errorf("missing password file: %v", err)
	}
}

// max_inflight_bytes follows memory_limit unless set; the dead-letter cap
// and rotation are read.
func TestInflightAndDeadLetterSettings(t *testing.T) {
	tests := []struct {
		ini             string
		inflight, dlMax int64
		dlFiles         int
	}{
		{"", 12 << 20, 64 << 20, 1},
		{"[agent]\nmemory_limit = 200MiB\n", 50 << 20, 64 << 20, 1},
		{"[agent]\nmemory_limit = 0\n", 64 << 20, 64 << 20, 1},
		{"[kafka]\nmax_inflight_bytes = 4MiB\ndead_letter_max_bytes = 1MiB\ndead_letter_files = 0\n", 4 << 20, 1 << 20, 0},
	}
	for _, tt := range tests {
		c, _, err := parse(t, tt.ini, nil)
		if err != nil {
			t.Fatalf("%q: %v", tt.ini, err)
		}
		k := c.Kafka
		if k.MaxInflightBytes != tt.inflight || k.DeadLetterMaxBytes != tt.dlMax || k.DeadLetterFiles != tt.dlFiles {
			t.Errorf("%q: max_inflight_bytes %d dead_letter_max_bytes %d dead_letter_files %d, want %d %d %d",
				tt.ini, k.MaxInflightBytes, k.DeadLetterMaxBytes, k.DeadLetterFiles, tt.inflight, tt.dlMax, tt.dlFiles)
		}
	}
	if d := Default(); d.Kafka.MaxInflightBytes != InflightBytesFor(d.Agent.MemoryLimit) {
		t.Errorf("Default() max_inflight_bytes %d, want a quarter of memory_limit", d.Kafka.MaxInflightBytes)
	}
}

func TestGroups(t *testing.T) {
	for _, tc := range []struct {
		ini  string
		env  map[string]string
		want string // groups joined by "|", or the error's substring after "error:"
	}{
		{ini: "", want: ""},
		{ini: "[agent]\ngroups = web, prod\n", want: "web|prod"},
		{env: map[string]string{"LOGAGENT_AGENT_GROUPS": "db"}, ini: "[agent]\ngroups = web\n", want: "db"},
		{ini: "[agent]\ngroups = web, Web\n", want: `error:[agent] groups = "Web": want group "Web": use 1-63 lower-case letters`},
		{ini: "[agent]\ngroups = web, prod, web\n", want: `error:[agent] groups = "web": want listed twice`},
		{ini: "[agent]\ngroups = a/b\n", want: `error:group "a/b"`},
	} {
		c, _, err := parse(t, tc.ini, tc.env)
		if msg, ok := strings.CutPrefix(tc.want, "error:"); ok {
			if err == nil || !strings.Contains(err.Error(), msg) {
				t.Errorf("%q: err %v, want %q", tc.ini, err, msg)
			}
			continue
		}
		if err != nil || strings.Join(c.Agent.Groups, "|") != tc.want {
			t.Errorf("%q %v: groups %q err %v, want %q", tc.ini, tc.env, c.Agent.Groups, err, tc.want)
		}
	}
	if c, _, err := parse(t, "[etcd]\nstatus_spread = 0\n", nil); err != nil || c.Etcd.StatusSpread != 0 {
		t.Errorf("status_spread = 0 (writes at once): %v %v", c.Etcd.StatusSpread, err)
	}
	if c, _, err := parse(t, "", nil); err != nil || c.Etcd.StatusSpread != 2*time.Second {
		t.Errorf("status_spread default: %v %v", c.Etcd.StatusSpread, err)
	}
	if _, _, err := parse(t, "[etcd]\nstatus_spread = 2h\n", nil); err == nil || !strings.Contains(err.Error(), "status_spread") {
		t.Errorf("status_spread over a minute: %v", err)
	}
	c, _, err := parse(t, "[etcd]\nstatus_refresh = 30s\n", nil)
	if err != nil || c.Etcd.StatusRefresh != 30*time.Second || Default().Etcd.StatusRefresh != 2*time.Minute {
		t.Errorf("status_refresh: %v %v", c.Etcd.StatusRefresh, err)
	}
	if _, _, err := parse(t, "[etcd]\nstatus_refresh = 1s\nstatus_interval = 5s\n", nil); err == nil || !strings.Contains(err.Error(), "at least status_interval") {
		t.Errorf("status_refresh below status_interval: %v", err)
	}
}
