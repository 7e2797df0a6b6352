package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/devkit/devstack"
	"github.com/logcollect/logcollect/pkg/program"
)

func TestServesEveryPartUntilCancelled(t *testing.T) {
	epFile := filepath.Join(t.TempDir(), "ep.json")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut bytes.Buffer
	done := make(chan int)
	go func() {
		done <- program.Report("devstack", Run(ctx, []string{"-etcd-port", "0", "-kafka-port", "0", "-es-port", "0", "-endpoints-file", epFile}, &out, &errOut), &errOut)
	}()
	var ep devstack.Endpoints
	deadline := time.Now().Add(30 * time.Second)
	for {
		if data, err := os.ReadFile(epFile); err == nil && json.Unmarshal(data, &ep) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no endpoints file; stderr: %s", errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
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

// run runs Run and reports as main would; it returns the exit code.
func run(args []string, stdout, stderr *bytes.Buffer) int {
	return program.Report("devstack", Run(context.Background(), args, stdout, stderr), stderr)
}

func TestBadFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-topics", "web_log:zero"}, &out, &errOut); code != 2 {
		t.Errorf("bad -topics: exit %d, want 2", code)
	}
	if !strings.Contains(errOut.String(), "want name:partitions") {
		t.Errorf("stderr = %q", errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"-help"}, &out, &errOut); code != 0 || !strings.Contains(errOut.String(), "Examples:") {
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
