package audit

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/logcollect/logcollect/pkg/fleet"
)

// Host is what the audit reads of one agent's status document (the JSON at
// /logagent/<ip>/status): its identity, groups and followed files.
type Host struct {
	IP           string
	Hostname     string
	Groups       []string
	Files        []File
	FilesOmitted int // files the status document left out (it lists at most 500)
}

// File is one followed file generation as the agent reports it.
type File struct {
	Path  string
	Topic string
	// ID is the generation's id: its documents carry it as log.file.id.
	// Empty from agents older than the audit.
	ID     string
	Device uint64
	Inode  uint64
	// Offset is the end of the contiguous run Kafka acknowledged; Events
	// and Dropped count the lines from CountedSince up to it. CountedSince
	// is nil when the agent keeps no counts for the file (an agent older
	// than the audit, or a checkpoint written by one).
	Offset       int64
	Events       uint64
	Dropped      uint64
	CountedSince *int64
}

// DecodeStatus reads an agent's status document (fleet.Status). ip, when
// not empty, is the IP of the key it was read from, used when the
// document names none.
func DecodeStatus(data []byte, ip string) (Host, error) {
	var st fleet.Status
	if err := json.Unmarshal(data, &st); err != nil {
		return Host{}, fmt.Errorf("decode status document: %w", err)
	}
	return FromStatus(st, ip), nil
}

// FromStatus is what the audit reads of a decoded status document.
func FromStatus(st fleet.Status, ip string) Host {
	h := Host{IP: st.IP, Hostname: st.Hostname, FilesOmitted: st.FilesOmitted}
	if h.IP == "" {
		h.IP = ip
	}
	for _, g := range st.Groups {
		h.Groups = append(h.Groups, g.Group)
	}
	for _, f := range st.Files {
		h.Files = append(h.Files, File{Path: f.Path, Topic: f.Topic, ID: f.ID, Device: f.Device, Inode: f.Inode,
			Offset: f.Offset, Events: f.Events, Dropped: f.Dropped, CountedSince: f.CountedSince})
	}
	return h
}

// Filter keeps the hosts in group (when not empty) with IP ip (when not
// empty).
func Filter(hosts []Host, group, ip string) []Host {
	var out []Host
	for _, h := range hosts {
		if group != "" && !slices.Contains(h.Groups, group) {
			continue
		}
		if ip != "" && h.IP != ip {
			continue
		}
		out = append(out, h)
	}
	return out
}
