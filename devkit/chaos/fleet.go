package chaos

import (
	"fmt"
	"os"
	"path/filepath"
)

// FleetAgent describes one more agent of a fleet on the cluster: its own
// IP (the etcd keys it uses), hostname, data_dir and groups.
type FleetAgent struct {
	IP, Hostname string
	Groups       string // [agent] groups, comma-separated
	// AllowedPaths defaults to the cluster's log directory.
	AllowedPaths string
}

// NewFleetAgent writes the ini of an agent of a fleet and returns it (not
// yet started). Several can run beside each other: each has its own
// data_dir below the cluster's directory and publishes its status at
// /logagent/<IP>/status.
func (c *Cluster) NewFleetAgent(a FleetAgent) (*Service, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(c.cfg.Dir, "fleet", a.IP)
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	if a.AllowedPaths == "" {
		a.AllowedPaths = c.LogDir + "/**"
	}
	text := iniText(map[string][]string{
		"kafka": {"brokers = " + c.Endpoints.Kafka},
		"etcd":  {"endpoints = " + c.Endpoints.Etcd, "dial_timeout = 2s", "status_interval = 1s", "status_refresh = 2s"},
		"agent": {"ip = " + a.IP, "hostname = " + a.Hostname, "host_id = " + a.Hostname, "groups = " + a.Groups, "data_dir = " + data,
			fmt.Sprintf("http_listen = 127.0.0.1:%d", port), "allowed_paths = " + a.AllowedPaths, "scan_interval = 1s",
			"partial_flush_timeout = 2s", "shutdown_timeout = 5s"},
	}, nil)
	return c.newService("logagent-"+a.Hostname, c.cfg.Bin.Agent, text, port)
}
