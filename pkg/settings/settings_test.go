package settings

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, text string, env map[string]string) *File {
	t.Helper()
	f, err := Parse("test.ini", []byte(text), "APP", func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestTypedLookups(t *testing.T) {
	f := parse(t, `
[kafka]
address = 127.0.0.1:9092;127.0.0.1:9093
chan_max_size = 5000
idempotent = yes
[etcd]
timeout = 5
[es]
bulk_bytes = 5MiB
mode = Fast
`, map[string]string{"APP_KAFKA_CHAN_MAX_SIZE": "7000"})

	if got := f.Strings("kafka", "brokers", nil, "address"); strings.Join(got, ",") != "127.0.0.1:9092,127.0.0.1:9093" {
		t.Errorf("brokers via alias = %v", got)
	}
	if got := f.Int("kafka", "chan_max_size", 1, 1, 1_000_000); got != 7000 {
		t.Errorf("env override: chan_max_size = %d, want 7000", got)
	}
	if !f.Bool("kafka", "idempotent", false) {
		t.Error("idempotent = false, want true")
	}
	if got := f.Duration("etcd", "timeout", time.Second, time.Second, time.Millisecond, time.Minute); got != 5*time.Second {
		t.Errorf("bare-number timeout = %v, want 5s", got)
	}
	if got := f.Size("es", "bulk_bytes", 0, 1, 1<<30); got != 5<<20 {
		t.Errorf("bulk_bytes = %d", got)
	}
	if got := f.Enum("es", "mode", "slow", []string{"slow", "fast"}); got != "fast" {
		t.Errorf("enum = %q, want canonical spelling fast", got)
	}
	if got := f.String("es", "missing", "dflt"); got != "dflt" {
		t.Errorf("default = %q", got)
	}
	for _, w := range []struct{ section, key, want string }{
		{"es", "bulk_bytes", "5MiB"},       // as written, not 5242880
		{"kafka", "chan_max_size", "7000"}, // the environment wins
		{"es", "missing", "dflt"},          // unset: the caller's text
	} {
		if got := f.Written(w.section, w.key, "dflt"); got != w.want {
			t.Errorf("Written(%s, %s) = %q, want %q", w.section, w.key, got, w.want)
		}
	}
	if err := f.Err(); err != nil {
		t.Errorf("Err() = %v, want nil", err)
	}
}

func TestErrNamesEveryProblem(t *testing.T) {
	f := parse(t, `
[kafka]
brokers = a:1
chan_max_size = lots
adress = typo
[nosuch]
x = 1
`, map[string]string{"APP_KAFKA_IDEMPOTENT": "maybe"})
	f.Strings("kafka", "brokers", nil)
	f.Int("kafka", "chan_max_size", 10, 1, 100)
	f.Bool("kafka", "idempotent", false)

	err := f.Err()
	if err == nil {
		t.Fatal("Err() = nil, want errors")
	}
	for _, want := range []string{
		`test.ini: [kafka] chan_max_size = "lots": want an integer from 1 to 100`,
		`APP_KAFKA_IDEMPOTENT: [kafka] idempotent = "maybe": want true or false`,
		`[kafka] adress: unknown key; known keys in [kafka]: brokers, chan_max_size, idempotent`,
		`[nosuch] *: unknown section`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Err() misses %q; got:\n%v", want, err)
		}
	}
}

func TestAliasConflictWarns(t *testing.T) {
	f := parse(t, "[kafka]\naddress = old:1\nbrokers = new:1\n", nil)
	if got := f.Strings("kafka", "brokers", nil, "address"); got[0] != "new:1" {
		t.Errorf("brokers = %v, want the canonical key to win", got)
	}
	if w := f.Warnings(); len(w) != 1 || !strings.Contains(w[0], "brokers wins") {
		t.Errorf("warnings = %v", w)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"10": 10, "1k": 1024, "2 MiB": 2 << 20, "3MB": 3_000_000, "1GiB": 1 << 30} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "1.5MB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
}

func TestEnvNames(t *testing.T) {
	f := parse(t, "", nil)
	f.String("kafka", "brokers", "", "address")
	f.Int("agent", "chan_max_size", 1, 1, 2)
	got := strings.Join(f.EnvNames(), ",")
	if got != "APP_AGENT_CHAN_MAX_SIZE,APP_KAFKA_ADDRESS,APP_KAFKA_BROKERS" {
		t.Errorf("EnvNames = %s", got)
	}
}

func TestSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, ini, want, wantErr string
	}{
		{"inline", "[es]\npassword = inline\n", "inline", ""},
		{"file wins and loses its newline", "[es]\npassword = inline\npassword_file = " + file + "\n", "from-file", ""},
		{"neither", "[es]\n", "", ""},
		{"missing file", "[es]\npassword_file = " + filepath.Join(dir, "nope") + "\n", "", "[es] password_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := parse(t, tc.ini, nil)
			if got := f.Secret("es", "password"); got != tc.want {
				t.Errorf("Secret = %q, want %q", got, tc.want)
			}
			err := f.Err()
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Err() = %v, want an error naming %q", err, tc.wantErr)
			}
		})
	}
}
