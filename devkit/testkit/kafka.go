package testkit

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// KafkaOptions configure a Kafka-protocol broker (the dev stack's kfake).
type KafkaOptions struct {
	// Port on 127.0.0.1; 0 picks a free one. A broker restarted on the
	// port and DataDir it had keeps its address, records and offsets.
	Port int
	// Brokers > 1 starts a cluster on free ports whose partition leaders
	// can move (Port is then unused).
	Brokers int
	// Topics to create at start, with their partition counts.
	Topics map[string]int32
	// AutoCreateTopics creates unknown topics on first use (4 partitions).
	AutoCreateTopics bool
	// DataDir keeps records and offsets across a restart; "" keeps them in
	// memory.
	DataDir string
	// MaxMessageBytes caps a produce batch (message.max.bytes); 0 keeps
	// the broker's default of about 1 MiB.
	MaxMessageBytes int
	// SASL users as mechanism → user → password; nil disables SASL.
	SASL map[string]map[string]string
	// TLS, when set, serves TLS with the certificates' server pair.
	TLS *Certs
}

// Kafka is a broker (or cluster) running in a devstack child process.
type Kafka struct {
	t  testing.TB
	p  *process
	ep endpoints
}

// StartKafka starts the broker and stops it at the end of the test.
func StartKafka(t testing.TB, o KafkaOptions) *Kafka {
	t.Helper()
	brokers, port := max(o.Brokers, 1), o.Port
	if brokers > 1 {
		port = 0
	}
	args := []string{"-no-etcd", "-no-es", "-kafka-control", "127.0.0.1:0",
		"-kafka-port", strconv.Itoa(port), "-kafka-brokers", strconv.Itoa(brokers),
		"-topics", topicsFlag(o.Topics), "-kafka-auto-create=" + strconv.FormatBool(o.AutoCreateTopics),
		"-kafka-max-message-bytes", strconv.Itoa(o.MaxMessageBytes)}
	if o.DataDir != "" {
		// The devstack keeps each part in its own subdirectory.
		args = append(args, "-data-dir", o.DataDir)
	}
	if len(o.SASL) > 0 {
		args = append(args, "-kafka-sasl", saslFlag(o.SASL))
	}
	args = append(args, tlsArgs(o.TLS, false)...)
	p := startProcess(t, args)
	return &Kafka{t: t, p: p, ep: p.ep}
}

func topicsFlag(topics map[string]int32) string {
	parts := make([]string, 0, len(topics))
	for name, n := range topics {
		parts = append(parts, fmt.Sprintf("%s:%d", name, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func saslFlag(users map[string]map[string]string) string {
	var parts []string
	for mech, us := range users {
		for u, pw := range us {
			parts = append(parts, mech+":"+u+":"+pw)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// tlsArgs are the devstack's TLS flags for certs (none for nil).
func tlsArgs(certs *Certs, requireClient bool) []string {
	if certs == nil {
		return nil
	}
	args := []string{"-tls-cert", certs.ServerCert, "-tls-key", certs.ServerKey}
	if requireClient {
		args = append(args, "-tls-client-ca", certs.CAFile)
	}
	return args
}

// Addr is the first broker's "127.0.0.1:PORT".
func (k *Kafka) Addr() string { return strings.Split(k.ep.Kafka, ",")[0] }

// Addrs is every broker's address, comma separated (the services'
// [kafka] brokers form).
func (k *Kafka) Addrs() string { return k.ep.Kafka }

// Close stops the broker, persisting its DataDir. Safe to call twice.
func (k *Kafka) Close() { k.p.Close() }

// Leaders is the leader broker of each partition of topic.
func (k *Kafka) Leaders(topic string) []int32 {
	k.t.Helper()
	var resp struct {
		Leaders []int32 `json:"leaders"`
	}
	k.control(http.MethodGet, "/leaders?topic="+url.QueryEscape(topic), nil, &resp)
	return resp.Leaders
}

// MoveLeader makes broker node the leader of the partition.
func (k *Kafka) MoveLeader(topic string, partition, node int32) error {
	k.t.Helper()
	body := map[string]any{"topic": topic, "partition": partition, "node": node}
	return k.tryControl(http.MethodPost, "/move-leader", body, nil)
}

// CountProduce starts counting the produce requests the brokers receive;
// the returned function reads the count.
func (k *Kafka) CountProduce() func() int {
	k.t.Helper()
	var started struct {
		ID int `json:"id"`
	}
	k.control(http.MethodPost, "/produce-counters", nil, &started)
	return func() int {
		k.t.Helper()
		var c struct {
			Count int `json:"count"`
		}
		k.control(http.MethodGet, fmt.Sprintf("/produce-counters/%d", started.ID), nil, &c)
		return c.Count
	}
}

// Hold is a set of produce requests kept unanswered (HoldProduce).
type Hold struct {
	k    *Kafka
	path string
}

// HoldProduce keeps produce requests sent to broker node unanswered until
// Release: a slow broker.
func (k *Kafka) HoldProduce(node int32) *Hold {
	k.t.Helper()
	var started struct {
		ID int `json:"id"`
	}
	k.control(http.MethodPost, "/holds", map[string]int32{"node": node}, &started)
	return &Hold{k: k, path: fmt.Sprintf("/holds/%d", started.ID)}
}

// Held is the number of produce requests held so far.
func (h *Hold) Held() int64 {
	h.k.t.Helper()
	var c struct {
		Held int64 `json:"held"`
	}
	h.k.control(http.MethodGet, h.path, nil, &c)
	return c.Held
}

// Release lets the held requests (and later ones) be handled.
func (h *Hold) Release() {
	h.k.t.Helper()
	h.k.control(http.MethodDelete, h.path, nil, nil)
}

// control calls the broker's control endpoint and fails the test on error.
func (k *Kafka) control(method, path string, body, out any) {
	k.t.Helper()
	if err := k.tryControl(method, path, body, out); err != nil {
		k.t.Fatal(err)
	}
}

func (k *Kafka) tryControl(method, path string, body, out any) error {
	return callJSON(http.DefaultClient, method, k.ep.KafkaControl+path, body, out)
}
