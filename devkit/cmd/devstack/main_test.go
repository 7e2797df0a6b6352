package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/logcollect/logcollect/devkit/devstack"
	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/pkg/program"
)

func TestServesEveryPartUntilCancelled(t *testing.T) {
	epFile := filepath.Join(t.TempDir(), "ep.json")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut testkit.Buffer
	done := make(chan int)
	go func() {
		done <- runCode(ctx, []string{"-etcd-port", "0", "-kafka-port", "0", "-es-port", "0", "-endpoints-file", epFile}, strings.NewReader(""), &out, &errOut)
	}()
	ep := waitEndpoints(t, epFile, &errOut)
	resp, err := http.Get(ep.Elasticsearch + "/_cluster/health")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("emulator health: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	for _, addr := range []string{strings.TrimPrefix(ep.Etcd, "http://"), ep.Kafka} {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Errorf("dial %s: %v", addr, err)
			continue
		}
		c.Close()
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit code %d after Ctrl-C; stderr: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "devstack is up") || !strings.Contains(out.String(), "stopping") {
		t.Errorf("output: %s", out.String())
	}
}

func waitEndpoints(t *testing.T, epFile string, errOut fmt.Stringer) devstack.Endpoints {
	t.Helper()
	var ep devstack.Endpoints
	deadline := time.Now().Add(30 * time.Second)
	for {
		if data, err := os.ReadFile(epFile); err == nil && json.Unmarshal(data, &ep) == nil {
			return ep
		}
		if time.Now().After(deadline) {
			t.Fatalf("no endpoints file; stderr: %s", errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBadFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runCode(context.Background(), []string{"-topics", "web_log:zero"}, strings.NewReader(""), &out, &errOut); code != 2 {
		t.Errorf("bad -topics: exit %d, want 2", code)
	}
	if !strings.Contains(errOut.String(), "want name:partitions") {
		t.Errorf("stderr = %q", errOut.String())
	}
	errOut.Reset()
	if code := runCode(context.Background(), []string{"-help"}, strings.NewReader(""), &out, &errOut); code != 0 || !strings.Contains(errOut.String(), "Examples:") {
		t.Errorf("-help: exit %d, %q", code, errOut.String())
	}
}

func TestParsePorts(t *testing.T) {
	for _, tc := range []struct {
		in      string
		brokers int
		want    []int
		err     string
	}{
		{"9092", 1, []int{9092}, ""},
		{"9092", 3, []int{9092, 9093, 9094}, ""},
		{"0", 3, []int{0, 0, 0}, ""},
		{"1,2,3", 3, []int{1, 2, 3}, ""},
		{"1,2", 3, nil, "2 ports for 3 brokers"},
		{"x", 1, nil, `port "x"`},
		{"9092", 0, nil, "want at least 1"},
	} {
		got, err := parsePorts(tc.in, tc.brokers)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parsePorts(%q, %d) error %v, want %q", tc.in, tc.brokers, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parsePorts(%q, %d) = %v, %v; want %v", tc.in, tc.brokers, got, err, tc.want)
		}
	}
}

// The flags testkit passes: a TLS emulator with its down switch on the
// control port, a SASL broker without auto-created topics, and a stack
// that stops when its standard input closes (its parent went away).
func TestPartFlagsAndStdinEOF(t *testing.T) {
	certs, err := testkit.GenerateCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	epFile := filepath.Join(t.TempDir(), "ep.json")
	stdin, parent := io.Pipe()
	var out, errOut testkit.Buffer
	done := make(chan int)
	go func() {
		done <- runCode(context.Background(), []string{"-no-etcd", "-kafka-port", "0", "-es-port", "0", "-endpoints-file", epFile,
			"-kafka-sasl", "PLAIN:alice:pw", "-kafka-auto-create=false", "-kafka-max-message-bytes", "4000",
			"-es-refresh-interval", "100ms", "-es-control", "127.0.0.1:0",
			"-tls-cert", certs.ServerCert, "-tls-key", certs.ServerKey, "-stdin-eof"}, stdin, &out, &errOut)
	}()
	ep := waitEndpoints(t, epFile, &errOut)
	if !strings.HasPrefix(ep.Elasticsearch, "https://") || ep.ESControl == "" {
		t.Fatalf("endpoints %+v: want an https emulator with a control URL", ep)
	}
	pool := x509.NewCertPool()
	ca, _ := os.ReadFile(certs.CAFile)
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	health := func() error {
		resp, err := client.Get(ep.Elasticsearch + "/_cluster/health")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := health(); err != nil {
		t.Fatalf("emulator over TLS: %v", err)
	}
	if _, err := http.Post(ep.ESControl+"/down", "", nil); err != nil {
		t.Fatal(err)
	}
	if health() == nil {
		t.Error("the emulator answers while down")
	}
	req, _ := http.NewRequest(http.MethodDelete, ep.ESControl+"/down", nil)
	if _, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	if err := health(); err != nil {
		t.Errorf("the emulator is not back up: %v", err)
	}

	cfg := sarama.NewConfig()
	cfg.Net.TLS.Enable, cfg.Net.TLS.Config = true, &tls.Config{RootCAs: pool}
	cfg.Net.SASL.Enable, cfg.Net.SASL.Mechanism, cfg.Net.SASL.User, cfg.Net.SASL.Password = true, sarama.SASLTypePlaintext, "alice", "pw"
	cfg.Producer.Return.Successes, cfg.Metadata.Retry.Max = true, 0
	p, err := sarama.NewSyncProducer([]string{ep.Kafka}, cfg)
	if err != nil {
		t.Fatalf("SASL over TLS: %v", err)
	}
	if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "web_log", Value: sarama.StringEncoder("x")}); err != nil {
		t.Errorf("produce to a created topic: %v", err)
	}
	if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "unknown", Value: sarama.StringEncoder("x")}); err == nil {
		t.Error("produce to an unknown topic succeeded without auto-create")
	}
	if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "web_log", Value: sarama.StringEncoder(strings.Repeat("x", 5000))}); err == nil {
		t.Error("a 5000-byte record passed -kafka-max-message-bytes 4000")
	}
	p.Close()

	parent.Close()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after stdin closed; stderr: %s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("still running 30s after stdin closed")
	}
}

func TestParseSASL(t *testing.T) {
	got, err := parseSASL("PLAIN:alice:pw, SCRAM-SHA-256:bob:p:w")
	if err != nil || got["PLAIN"]["alice"] != "pw" || got["SCRAM-SHA-256"]["bob"] != "p:w" {
		t.Errorf("parseSASL = %v, %v", got, err)
	}
	if got, err := parseSASL(""); err != nil || got != nil {
		t.Errorf("empty: %v, %v", got, err)
	}
	if _, err := parseSASL("PLAIN:alice"); err == nil || !strings.Contains(err.Error(), "MECHANISM:user:password") {
		t.Errorf("missing password: %v", err)
	}
}

// runCode runs the program as main would and returns its exit code.
func runCode(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return program.Report("devstack", run(ctx, args, stdin, stdout, stderr), stderr)
}
