package agent

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
	"github.com/logcollect/logcollect/pkg/record"
)

// HostIDFile holds the agent's host identity inside data_dir.
const HostIDFile = "host_id"

// MachineIDPath is systemd's machine id, read only to notice a data_dir
// that moved to another machine.
const MachineIDPath = "/etc/machine-id"

// hostIDState is the content of data_dir/host_id.
type hostIDState struct {
	HostID    string `json:"host_id"`
	MachineID string `json:"machine_id,omitempty"` // /etc/machine-id when the id was made, if readable
	Created   string `json:"created"`
	Origin    string `json:"origin"` // how the id was chosen, for the operator
}

// Origins of a host id.
const (
	originGenerated = "generated"
	originLegacyIP  = "the IP of an agent version before host ids (keeps the event ids of lines in flight across the upgrade)"
)

// hostID returns the identity event ids hash, and why it is that one.
//
// Event ids must not change between a line's send and its re-send after a
// crash, whatever happened to the host meanwhile, or Elasticsearch holds the
// line twice. The IP changes (DHCP, a moved VM, a rescheduled pod), so the
// id is kept in data_dir, next to the checkpoints: the re-sends that need
// it are exactly those the checkpoints cause, so it lives and dies with
// them. It is not seeded from /etc/machine-id: VM images cloned without
// clearing it share it, containers see their image's (or none), and a
// fresh data_dir re-reads under new file ids anyway. The machine id only
// guards the id: a data_dir whose recorded machine id differs from the
// host's was copied from another machine (a restored backup, a golden
// image), and a copied id would make this host's documents overwrite the
// other's, so a new one is made.
//
// [agent] host_id overrides all this. A missing file is created: with the
// IP when checkpoints exist (an older agent ran here and hashed its IP, so
// lines it left in flight keep their ids), else random. A corrupt file is
// moved aside and replaced the same way (the old id is lost, so at most the
// lines in flight get new ids: duplicates, never overwrites). An unreadable
// file, or one that cannot be written, stops the agent: running under an id
// the next start cannot know would duplicate every re-sent line.
func hostID(dataDir, ip, override, machineIDPath string, log *slog.Logger) (id, why string, err error) {
	if override != "" {
		return override, "set by [agent] host_id", nil
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return "", "", fmt.Errorf("create data dir %s: %w", dataDir, err)
	}
	path := filepath.Join(dataDir, HostIDFile)
	machineID := readMachineID(machineIDPath)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return newHostID(path, dataDir, ip, machineID, "")
	case err != nil:
		return "", "", fmt.Errorf("read host id: %w: make it readable by the agent (or set [agent] host_id); deleting it makes a new id, under which lines re-sent after the restart are indexed a second time", err)
	}
	var st hostIDState
	if err = json.Unmarshal(data, &st); err == nil {
		err = record.CheckHostID(st.HostID)
	}
	if err != nil {
		aside := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(path, aside); rerr != nil {
			return "", "", fmt.Errorf("move corrupt host id %s aside: %w", path, rerr)
		}
		log.Error("host id file is corrupt; moved aside and made a new id (lines in flight before this start may be indexed twice)",
			"path", path, "moved_to", aside, "err", err)
		return newHostID(path, dataDir, ip, machineID, "corrupt "+HostIDFile+" replaced")
	}
	if st.MachineID != "" && machineID != "" && st.MachineID != machineID {
		log.Warn("data_dir was made on another machine (its machine id differs from "+machineIDPath+"); a new host id keeps this host's event ids apart from that machine's",
			"path", path, "old_host_id", st.HostID, "old_machine_id", st.MachineID, "machine_id", machineID)
		return newHostID(path, dataDir, "", machineID, "data_dir from another machine")
	}
	return st.HostID, "kept in " + path + " (" + st.Origin + ")", nil
}

// newHostID makes and saves a host id: ip when it is set and an older agent
// ran in dataDir (its checkpoints exist), else 128 random bits.
func newHostID(path, dataDir, ip, machineID, reason string) (id, why string, err error) {
	st := hostIDState{MachineID: machineID, Created: time.Now().UTC().Format(time.RFC3339), Origin: originGenerated}
	if _, serr := os.Stat(filepath.Join(dataDir, checkpoint.FileName)); serr == nil && ip != "" {
		st.HostID, st.Origin = ip, originLegacyIP
	} else {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", "", fmt.Errorf("generate host id: %w", err)
		}
		st.HostID = hex.EncodeToString(b[:])
	}
	data, err := json.Marshal(st)
	if err != nil {
		return "", "", fmt.Errorf("encode host id: %w", err)
	}
	if err := checkpoint.WriteFileAtomic(path, append(data, '\n')); err != nil {
		return "", "", fmt.Errorf("save host id %s: %w: data_dir must be writable", path, err)
	}
	why = "created in " + path + " (" + st.Origin + ")"
	if reason != "" {
		why = reason + "; " + why
	}
	return st.HostID, why, nil
}

// readMachineID returns the machine id at path, or "" when there is none
// (containers, non-systemd hosts) or it is unreadable: then data_dir moves
// are not detected, nothing else changes.
func readMachineID(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	id := strings.TrimSpace(string(data))
	if record.CheckHostID(id) != nil || id == "uninitialized" {
		return ""
	}
	return id
}
