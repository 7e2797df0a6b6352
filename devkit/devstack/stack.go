package devstack

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/logcollect/logcollect/devkit/esemu"
)

// StackConfig configures all three parts. Zero ports pick free ones.
type StackConfig struct {
	EtcdPort, KafkaPort, ESPort int
	// DataDir, when set, keeps each part's state in a subdirectory so a
	// restarted stack has the same config, records, offsets and documents.
	DataDir string
	Topics  map[string]int32
	// ESUsername/ESPassword turn on basic auth in the emulator.
	ESUsername, ESPassword string
	// ESBlackhole makes the emulator acknowledge bulks without indexing
	// (throughput benchmarks of the transfer).
	ESBlackhole bool
	// KafkaSyncWrites fsyncs every produce, so a killed broker process
	// keeps every acknowledged record (crash tests).
	KafkaSyncWrites bool
	// KafkaPorts, when set, runs one broker per port (KafkaPort unused).
	KafkaPorts []int
	// KafkaShuffleLeaders moves every partition leader at this interval.
	KafkaShuffleLeaders time.Duration
	// KafkaControlAddr, when set, serves the broker's fault controls over
	// HTTP there (see Kafka.ServeControl).
	KafkaControlAddr string
	// KafkaNoAutoCreate refuses unknown topics instead of creating them.
	KafkaNoAutoCreate bool
	// KafkaMaxMessageBytes caps a produce batch (0: the broker's default).
	KafkaMaxMessageBytes int
	// KafkaSASL turns on SASL with these users (mechanism → user → password).
	KafkaSASL map[string]map[string]string
	// ESRefreshInterval is the emulator's refresh interval (0: 1s).
	ESRefreshInterval time.Duration
	// ESControlAddr, when set, serves the emulator's down switch over HTTP
	// there (see ServeESControl): a down emulator cannot take the request
	// that brings it back on its own port.
	ESControlAddr string
	// TLS, when its certificate is set, serves every part over TLS.
	TLS TLSFiles
	// Skip parts, to run each part as its own process (crash tests kill
	// one at a time).
	NoEtcd, NoKafka, NoES bool
}

// Stack is the running dev stack.
type Stack struct {
	Etcd  *Etcd
	Kafka *Kafka
	ES    *esemu.Server
	// esControl is the emulator's control server, when served.
	esControl *http.Server
	esCtlURL  string
}

// Endpoints is what clients need to reach the stack; the devstack command
// prints it and writes it as JSON for scripts.
type Endpoints struct {
	Etcd          string `json:"etcd"`
	Kafka         string `json:"kafka"`
	Elasticsearch string `json:"elasticsearch"`
	// KafkaControl is the broker's fault-control URL, when served.
	KafkaControl string `json:"kafka_control,omitempty"`
	// ESControl is the emulator's control URL, when served.
	ESControl string `json:"es_control,omitempty"`
}

// Start starts etcd, the broker and the emulator; on error the parts already
// started are stopped.
func Start(cfg StackConfig) (*Stack, error) {
	sub := func(name string) string {
		if cfg.DataDir == "" {
			return ""
		}
		return filepath.Join(cfg.DataDir, name)
	}
	serverTLS, err := cfg.TLS.serverConfig()
	if err != nil {
		return nil, err
	}
	s := &Stack{}
	if !cfg.NoEtcd {
		ec := EtcdConfig{Port: cfg.EtcdPort, Dir: sub("etcd")}
		if serverTLS != nil {
			ec.CertFile, ec.KeyFile, ec.TrustedCAFile, ec.ClientCertAuth = cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.TLS.ClientCAFile, cfg.TLS.ClientCAFile != ""
		}
		if s.Etcd, err = StartEtcd(ec); err != nil {
			return nil, err
		}
	}
	if !cfg.NoKafka {
		kc := KafkaConfig{Port: cfg.KafkaPort, DataDir: sub("kafka"), Topics: cfg.Topics, AutoCreateTopics: !cfg.KafkaNoAutoCreate, SyncWrites: cfg.KafkaSyncWrites,
			Ports: cfg.KafkaPorts, ShuffleLeaders: cfg.KafkaShuffleLeaders, MaxMessageBytes: cfg.KafkaMaxMessageBytes, SASL: cfg.KafkaSASL, TLS: serverTLS}
		if s.Kafka, err = StartKafka(kc); err != nil {
			s.Close()
			return nil, err
		}
		if cfg.KafkaControlAddr != "" {
			if _, err := s.Kafka.ServeControl(cfg.KafkaControlAddr); err != nil {
				s.Close()
				return nil, err
			}
		}
	}
	if cfg.NoES {
		return s, nil
	}
	if dir := sub("es"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			s.Close()
			return nil, fmt.Errorf("emulator data dir: %w", err)
		}
	}
	s.ES, err = esemu.Start(esemu.Config{
		Addr: fmt.Sprintf("127.0.0.1:%d", cfg.ESPort), DataDir: sub("es"),
		Username: cfg.ESUsername, Password: cfg.ESPassword, Blackhole: cfg.ESBlackhole,
		RefreshInterval: cfg.ESRefreshInterval, TLS: serverTLS,
	})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("start elasticsearch emulator: %w", err)
	}
	if cfg.ESControlAddr != "" {
		if err := s.serveESControl(cfg.ESControlAddr); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Endpoints returns the addresses of the running parts ("" for a part not
// started).
func (s *Stack) Endpoints() Endpoints {
	var ep Endpoints
	if s.Etcd != nil {
		ep.Etcd = s.Etcd.Endpoint()
	}
	if s.Kafka != nil {
		ep.Kafka = s.Kafka.Addrs()
		ep.KafkaControl = s.Kafka.ControlURL()
	}
	if s.ES != nil {
		ep.Elasticsearch = s.ES.URL()
		ep.ESControl = s.esCtlURL
	}
	return ep
}

// WriteEndpoints writes the endpoints as JSON to path (atomically, so a
// script polling for the file never reads half of it).
func (s *Stack) WriteEndpoints(path string) error {
	data, err := json.MarshalIndent(s.Endpoints(), "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write endpoints: %w", err)
	}
	return os.Rename(tmp, path)
}

// Close stops the parts from the sink back to the source: the emulator, the
// broker, then etcd. Safe to call twice.
func (s *Stack) Close() error {
	var errs []error
	if s.esControl != nil {
		_ = s.esControl.Close()
	}
	if s.ES != nil {
		errs = append(errs, s.ES.Close())
	}
	if s.Kafka != nil {
		s.Kafka.Close()
	}
	if s.Etcd != nil {
		s.Etcd.Close()
	}
	return errors.Join(errs...)
}
