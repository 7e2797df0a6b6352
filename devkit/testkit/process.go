package testkit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DevstackEnv names the environment variable holding a built devstack
// binary (make test sets it); without it the first test that needs the
// stack builds devkit/cmd/devstack from the workspace.
const DevstackEnv = "LOGCOLLECT_DEVSTACK"

// Bounded waits: a stack part starts in well under a second, and stopping
// persists a data directory at most.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 20 * time.Second
)

// endpoints is what the devstack command writes to -endpoints-file.
type endpoints struct {
	Etcd          string `json:"etcd"`
	Kafka         string `json:"kafka"`
	Elasticsearch string `json:"elasticsearch"`
	KafkaControl  string `json:"kafka_control"`
	ESControl     string `json:"es_control"`
}

// process is one devstack child. It reads its standard input until EOF
// (-stdin-eof): the write end stays here, so the child stops when Close
// closes it, and also when the test process dies without cleaning up.
type process struct {
	cmd   *exec.Cmd
	stdin *os.File
	out   *Buffer
	ep    endpoints
	once  sync.Once
	done  chan struct{}
}

// startProcess runs the devstack with args (the part's flags; ports and
// the endpoints file are added here) and waits until it serves. The child
// is stopped at the end of the test, and its output logged if it failed.
func startProcess(t testing.TB, args []string) *process {
	t.Helper()
	bin, err := devstackBinary()
	if err != nil {
		t.Fatalf("devstack binary: %v", err)
	}
	epFile := filepath.Join(t.TempDir(), "endpoints.json")
	args = append(args, "-stdin-eof", "-endpoints-file", epFile)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("devstack stdin pipe: %v", err)
	}
	p := &process{cmd: exec.Command(bin, args...), stdin: w, out: &Buffer{}, done: make(chan struct{})}
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = r, p.out, p.out
	err = p.cmd.Start()
	r.Close() // the child holds its copy
	if err != nil {
		w.Close()
		t.Fatalf("start devstack: %v", err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Close()
		if t.Failed() {
			t.Logf("devstack %s output:\n%s", strings.Join(args, " "), p.out.String())
		}
	})
	deadline := time.After(startTimeout)
	for {
		if data, err := os.ReadFile(epFile); err == nil && json.Unmarshal(data, &p.ep) == nil {
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("devstack %s exited before serving: %v\n%s", strings.Join(args, " "), p.cmd.ProcessState, p.out.String())
		case <-deadline:
			p.Close()
			t.Fatalf("devstack %s not serving after %s:\n%s", strings.Join(args, " "), startTimeout, p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close stops the child as Ctrl-C would (it persists a data directory),
// killing it if it has not exited within 20 s. Safe to call twice.
func (p *process) Close() {
	p.once.Do(func() {
		p.stdin.Close()
		select {
		case <-p.done:
			return
		case <-time.After(stopTimeout):
		}
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
		}
	})
}

var build struct {
	once sync.Once
	path string
	err  error
}

// devstackBinary is $LOGCOLLECT_DEVSTACK, or devkit/cmd/devstack built once
// per test process from the workspace that holds the working directory.
func devstackBinary() (string, error) {
	if p := os.Getenv(DevstackEnv); p != "" {
		return p, nil
	}
	build.once.Do(func() { build.path, build.err = buildDevstack() })
	return build.path, build.err
}

// buildDevstack builds into the user's cache, one file per workspace,
// renamed into place: test processes of several packages build at once,
// and a child already running keeps the file it started from.
func buildDevstack() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", fmt.Errorf("%w: set %s to a built devstack", err, DevstackEnv)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(cache, "logcollect-devstack", hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("devstack cache dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "devstack-*.tmp")
	if err != nil {
		return "", fmt.Errorf("devstack build output: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command("go", "build", "-o", tmp.Name(), "./devkit/cmd/devstack")
	// The workspace even when the tests run with GOWORK=off: the devstack
	// is built from devkit, which the product module does not require.
	cmd.Dir, cmd.Env = root, append(os.Environ(), "GOWORK="+filepath.Join(root, "go.work"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./devkit/cmd/devstack in %s: %w\n%s", root, err, out)
	}
	bin := filepath.Join(dir, "devstack")
	if err := os.Rename(tmp.Name(), bin); err != nil {
		return "", fmt.Errorf("devstack binary: %w", err)
	}
	return bin, nil
}

// RepoRoot is the nearest directory above the working directory holding
// go.work: the repository root, so tests and tools run from any module
// folder.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.work not found above the working directory")
		}
		dir = parent
	}
}
