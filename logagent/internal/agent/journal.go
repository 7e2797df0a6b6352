package agent

import (
	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/harvester"
	"github.com/logcollect/logcollect/logagent/internal/journaltask"
)

// task is what reconcile runs per collect entry: a harvester task for
// files, a journal task for "type":"journald".
type task interface {
	Stop()
	Live(checkpoint.Key) bool
}

var (
	_ task = (*harvester.Task)(nil)
	_ task = (*journaltask.Task)(nil)
)

// startJournal starts the task of a journald entry.
func (a *Agent) startJournal(e collect.Entry) task {
	ag := a.cfg.Agent
	return journaltask.Start(journaltask.Options{Entry: e, HostName: a.hostname, HostIP: a.ip, HostID: a.hostID, Journalctl: ag.Journalctl,
		AllowedPaths: ag.AllowedPaths, AllowJournal: ag.AllowJournal, StopTimeout: ag.ShutdownTimeout, Store: a.store, Sender: a.sink, Metrics: a.m,
		Log: a.log.With("topic", e.Topic)})
}
