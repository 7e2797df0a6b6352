package journald

import (
	"github.com/logcollect/logcollect/pkg/record"
)

// keptFields are the journal fields a record carries, under "journald",
// by their journal name: the ones people filter on (unit, priority,
// identifier) and Docker's journald log driver's container fields.
var keptFields = map[string]string{
	"_SYSTEMD_UNIT":     "unit",
	"PRIORITY":          "priority",
	"SYSLOG_IDENTIFIER": "identifier",
	"_PID":              "pid",
	"_HOSTNAME":         "hostname",
	"_TRANSPORT":        "transport",
	"_COMM":             "comm",
	"CONTAINER_NAME":    "container_name",
	"CONTAINER_ID":      "container_id",
	"CONTAINER_TAG":     "container_tag",
}

// Source is the record's log.file.path for journal entries: there is no
// file, so it names the journal that was read.
func (o Options) Source() string {
	switch {
	case o.File != "":
		return "journald:" + o.File
	case o.Directory != "":
		return "journald:" + o.Directory
	}
	return "journald"
}

// Fill sets r from the entry. The event id derives from hostID (the
// agent's stable host identity) and the cursor, which identifies an entry
// for good, so a re-read entry keeps its id.
func (e Entry) Fill(r *record.Record, source, hostID string) {
	r.Timestamp = e.Realtime
	r.Message = e.Message
	r.Path = source
	r.EventID = record.EventID(hostID, "journal|"+e.Cursor, 0)
	r.ExtraKey = "journald"
	r.Extra = make(map[string]string, len(keptFields))
	for field, key := range keptFields {
		if v, ok := e.Fields[field]; ok {
			r.Extra[key] = v
		}
	}
	if !record.ValidUTF8(e.Message) {
		r.Flags = append(r.Flags, record.FlagInvalidUTF8)
	}
}
