package testkit

// A real kube-apiserver for the Kubernetes tests: the binary is built once
// per machine by scripts/build-kube-apiserver.sh (it cannot be linked into
// a test: it is k8s.io/kubernetes), started on an etcd of the dev stack
// with a static token, RBAC and a generated service-account key pair.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// KubeAPIServerEnv names a built kube-apiserver binary; without it the
// tests run scripts/build-kube-apiserver.sh, which reuses its cached build.
const KubeAPIServerEnv = "LOGCOLLECT_KUBE_APISERVER"

// KubeAdminToken is the bearer token of the apiserver's admin (group
// system:masters).
const KubeAdminToken = "logcollect-admin-token"

// kubeReadyTimeout bounds the start: it is ready in ~7 s on an idle
// machine, several times that on a loaded one.
const kubeReadyTimeout = 120 * time.Second

// KubeAPIServer is a kube-apiserver child process.
type KubeAPIServer struct {
	bin  string
	args []string
	port int
	dir  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  *Buffer
}

var kubeBuild struct {
	once sync.Once
	path string
	err  error
}

// KubeAPIServerBinary is $LOGCOLLECT_KUBE_APISERVER or the cached build of
// scripts/build-kube-apiserver.sh (built on first use, several minutes).
func KubeAPIServerBinary() (string, error) {
	if p := os.Getenv(KubeAPIServerEnv); p != "" {
		return p, nil
	}
	kubeBuild.once.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			kubeBuild.err = err
			return
		}
		cmd := exec.Command(filepath.Join(root, "scripts", "build-kube-apiserver.sh"))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			kubeBuild.err = fmt.Errorf("scripts/build-kube-apiserver.sh: %w", err)
			return
		}
		kubeBuild.path = string(bytes.TrimSpace(out))
	})
	return kubeBuild.path, kubeBuild.err
}

// StartKubeAPIServer starts a kube-apiserver on a fresh etcd and waits
// until it is ready; it is stopped at the end of the test. The test is
// skipped, saying why, only when the binary cannot be built.
func StartKubeAPIServer(t testing.TB) *KubeAPIServer {
	t.Helper()
	bin, err := KubeAPIServerBinary()
	if err != nil {
		t.Skipf("no kube-apiserver (set %s or let scripts/build-kube-apiserver.sh build it): %v", KubeAPIServerEnv, err)
	}
	etcd := StartEtcd(t, EtcdOptions{})
	k, err := LaunchKubeAPIServer(bin, etcd.Endpoint(), t.TempDir())
	if k != nil {
		t.Cleanup(func() {
			k.Stop()
			if t.Failed() {
				t.Logf("kube-apiserver output (tail):\n%s", tail(k.out.String(), 4000))
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// LaunchKubeAPIServer starts bin on etcdEndpoint with its certificates,
// token file and service-account keys in dir, and waits until it is
// ready; the caller stops it. For programs (bench); tests use
// StartKubeAPIServer. On a failed start the server is returned too, for
// its output.
func LaunchKubeAPIServer(bin, etcdEndpoint, dir string) (*KubeAPIServer, error) {
	if err := writeSAKeys(dir); err != nil {
		return nil, err
	}
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(KubeAdminToken+",admin,admin,system:masters\n"), 0o600); err != nil {
		return nil, err
	}
	port, err := RestartablePort() // Stop and Start keep the address
	if err != nil {
		return nil, err
	}
	k := &KubeAPIServer{bin: bin, port: port, dir: dir, out: &Buffer{}}
	k.args = []string{
		"--etcd-servers=" + etcdEndpoint,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(dir, "certs"),
		"--token-auth-file=" + tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(dir, "sa.key"),
		"--service-cluster-ip-range=10.96.0.0/24",
		// Pods are created without a controller-manager, which would make
		// the default service account.
		"--disable-admission-plugins=ServiceAccount",
		"--enable-priority-and-fairness=false",
	}
	return k, k.Start()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// URL is the https address of the server (self-signed: skip verification).
func (k *KubeAPIServer) URL() string { return fmt.Sprintf("https://127.0.0.1:%d", k.port) }

// Kubeconfig writes a kubeconfig for the admin token and returns its path.
func (k *KubeAPIServer) Kubeconfig() (string, error) {
	path := filepath.Join(k.dir, "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: %q, insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: %q}
contexts:
- name: test
  context: {cluster: test, user: admin}
current-context: test
`, k.URL(), KubeAdminToken)
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

// Start runs the server (again, after Stop, on the same port and etcd) and
// waits until /readyz answers ok.
func (k *KubeAPIServer) Start() error {
	k.mu.Lock()
	cmd := exec.Command(k.bin, k.args...)
	cmd.Stdout, cmd.Stderr = k.out, k.out
	done := make(chan struct{})
	if err := cmd.Start(); err != nil {
		k.mu.Unlock()
		return fmt.Errorf("start kube-apiserver: %w", err)
	}
	go func() { _ = cmd.Wait(); close(done) }()
	k.cmd, k.done = cmd, done
	k.mu.Unlock()

	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	deadline := time.Now().Add(kubeReadyTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("kube-apiserver exited before ready: %v\n%s", cmd.ProcessState, tail(k.out.String(), 4000))
		default:
		}
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, k.URL()+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+KubeAdminToken)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver not ready after %s:\n%s", kubeReadyTimeout, tail(k.out.String(), 4000))
}

// Stop terminates the server (SIGTERM, then SIGKILL after 20 s). Safe to
// call twice.
func (k *KubeAPIServer) Stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cmd == nil {
		return
	}
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.done:
	case <-time.After(stopTimeout):
		_ = k.cmd.Process.Kill()
		<-k.done
	}
	k.cmd = nil
}

// writeSAKeys writes the service-account signing key pair the server
// requires (sa.key, sa.pub).
func writeSAKeys(dir string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("service-account key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return fmt.Errorf("service-account public key: %w", err)
	}
	if err := writePEM(filepath.Join(dir, "sa.key"), "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key)); err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, "sa.pub"), "PUBLIC KEY", pub)
}
