package audit

import (
	"encoding/json"
	"fmt"
	"slices"
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

// statusDoc is the part of the status document the audit needs; the full
// type lives with the agent (and pkg/fleet), this decode keeps the audit
// independent of the fields it does not read.
type statusDoc struct {
	IP       string `json:"ip"`
	Hostname string `json:"hostname"`
	Groups   []struct {
		Group string `json:"group"`
	} `json:"groups"`
	Files []struct {
		Path         string `json:"path"`
		Topic        string `json:"topic"`
		ID           string `json:"id"`
		Device       uint64 `json:"device"`
		Inode        uint64 `json:"inode"`
		Offset       int64  `json:"offset"`
		Events       uint64 `json:"events"`
		Dropped      uint64 `json:"dropped"`
		CountedSince *int64 `json:"counted_since"`
	} `json:"files"`
	FilesOmitted int `json:"files_omitted"`
}

// DecodeStatus reads an agent's status document. ip, when not empty, is the
// IP of the key it was read from, used when the document names none.
func DecodeStatus(data []byte, ip string) (Host, error) {
	var d statusDoc
	if err := json.Unmarshal(data, &d); err != nil {
		return Host{}, fmt.Errorf("decode status document: %w", err)
	}
	h := Host{IP: d.IP, Hostname: d.Hostname, FilesOmitted: d.FilesOmitted}
	if h.IP == "" {
		h.IP = ip
	}
	for _, g := range d.Groups {
		h.Groups = append(h.Groups, g.Group)
	}
	for _, f := range d.Files {
		h.Files = append(h.Files, File{Path: f.Path, Topic: f.Topic, ID: f.ID, Device: f.Device, Inode: f.Inode,
			Offset: f.Offset, Events: f.Events, Dropped: f.Dropped, CountedSince: f.CountedSince})
	}
	return h, nil
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
