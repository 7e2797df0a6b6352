package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/logcollect/logcollect/pkg/fleet"
	"github.com/logcollect/logcollect/pkg/settings"
)

// readStatus reads the fleet status keys of [etcd]: status_key,
// status_ttl, status_interval, status_refresh and status_spread.
func readStatus(f *settings.File, e *Etcd) {
	e.StatusKey = f.String("etcd", "status_key", "")
	e.StatusTTL = f.Duration("etcd", "status_ttl", e.StatusTTL, time.Second, time.Second, 5*time.Minute)
	e.StatusInterval = f.Duration("etcd", "status_interval", e.StatusInterval, time.Second, 100*time.Millisecond, 5*time.Minute)
	e.StatusRefresh = f.Duration("etcd", "status_refresh", e.StatusRefresh, time.Second, 100*time.Millisecond, time.Hour)
	e.StatusSpread = f.Duration("etcd", "status_spread", e.StatusSpread, time.Second, 0, time.Minute)
	if e.StatusRefresh < e.StatusInterval {
		f.Check("etcd", "status_refresh", e.StatusRefresh.String(), fmt.Errorf("at least status_interval (%s): lag is rewritten on this slower period", e.StatusInterval))
	}
	if e.StatusKey != "" && !fleet.OnePlaceholder(e.StatusKey) {
		f.Check("etcd", "status_key", e.StatusKey, errors.New("a key with exactly one %s for the agent's IP, like /logagent/%s/status, or empty to derive it from collect_log_key"))
	}
	if e.StatusKey != "" && e.StatusKey == e.CollectLogKey {
		f.Check("etcd", "status_key", e.StatusKey, errors.New("a key other than collect_log_key"))
	}
}

// StatusKeyPattern is [etcd] status_key, or the collect key's part up to
// and including "%s" followed by "/status": /logagent/%s/collect_config
// gives /logagent/%s/status.
func (e Etcd) StatusKeyPattern() string {
	return fleet.StatusKeyPattern(e.CollectLogKey, e.StatusKey)
}

// StatusKey is the etcd key where the agent with ip publishes its status.
func (c Config) StatusKey(ip string) string { return fmt.Sprintf(c.Etcd.StatusKeyPattern(), ip) }

// StatusKeyParts splits the status key pattern around the IP, so a client
// can list every agent's status with a prefix read and recognise the keys.
func (e Etcd) StatusKeyParts() (prefix, suffix string) {
	prefix, suffix, _ = strings.Cut(e.StatusKeyPattern(), "%s")
	return prefix, suffix
}
