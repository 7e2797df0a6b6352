package harvester

import (
	"sync"

	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
)

// Owners makes one file go to one topic once, whatever the collect entries
// look like. Two entries whose globs overlap (/var/log/app/*.log and
// /var/log/app/a*.log) with the same topic would each run a harvester on the
// same checkpoint key: every line sent twice, and a truncated generation
// given two ids. Validation cannot catch it (globs overlap through the files
// that happen to exist, and through renames), so the tasks of one agent
// share this registry of claims, keyed by checkpoint key (device, inode,
// topic). The same file to two topics has two keys: a deliberate
// fan-out.
//
// Who wins is deterministic: of the running entries with the topic whose
// glob matches the file's name, the first in the collect config (Order)
// claims it; a later one does not, even if it scans first. A claim lasts as
// long as the harvester: when it ends (the entry was removed or changed,
// the file was closed for inactivity) the claim is released after the
// harvester's lines were acknowledged, and the other entries are asked to
// scan, so one of them continues the file from the checkpoint the first
// left, under the same file id: nothing re-read, nothing skipped.
type Owners struct {
	mu     sync.Mutex
	claims map[checkpoint.Key]claim // checkpoint key → who reads it
	tasks  map[*Task]bool
	told   map[checkpoint.Key]*Task // key → the task last told it does not own it (logged once)
}

type claim struct {
	t    *Task
	path string // the file's name when it was claimed
}

// NewOwners returns an empty registry for the tasks of one agent.
func NewOwners() *Owners {
	return &Owners{claims: map[checkpoint.Key]claim{}, tasks: map[*Task]bool{}, told: map[checkpoint.Key]*Task{}}
}

// Owner is the collect entry (its path) whose task holds the key.
func (o *Owners) Owner(key checkpoint.Key) (entry string, ok bool) {
	if o == nil {
		return "", false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	c, ok := o.claims[key]
	if !ok {
		return "", false
	}
	return c.t.o.Entry.Path, true
}

// beingRead reports whether a harvester of t, or of the task that claimed
// key, reads it.
func (o *Owners) beingRead(t *Task, key checkpoint.Key) bool {
	if t.Live(key) {
		return true
	}
	if o == nil {
		return false
	}
	o.mu.Lock()
	c, ok := o.claims[key]
	o.mu.Unlock()
	return ok && c.t != t && c.t.Live(key)
}

func (o *Owners) join(t *Task) {
	if o == nil {
		return
	}
	o.mu.Lock()
	o.tasks[t] = true
	o.mu.Unlock()
}

// leave drops a stopped task; its harvesters have released their claims.
func (o *Owners) leave(t *Task) {
	if o == nil {
		return
	}
	o.mu.Lock()
	delete(o.tasks, t)
	for k, u := range o.told {
		if u == t {
			delete(o.told, k)
		}
	}
	o.mu.Unlock()
}

// before reports whether u comes before t in the collect config.
func before(u, t *Task) bool {
	if u.o.Order != t.o.Order {
		return u.o.Order < t.o.Order
	}
	return u.o.Entry.Path < t.o.Entry.Path // orders go stale when a reload only reorders entries
}

// claim reports whether t may harvest the file with key, known as path:
// nobody else holds it and no earlier running entry with the topic matches
// path (that one takes it).
func (t *Task) claim(key checkpoint.Key, path string) bool {
	o := t.o.Owners
	if o == nil {
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	owner := o.claims[key].t
	if owner == nil {
		for u := range o.tasks {
			if u != t && u.o.Entry.Topic == t.o.Entry.Topic && u.ctx.Err() == nil && before(u, t) && u.matches(path) {
				owner = u
				break
			}
		}
	}
	if owner != nil && owner != t {
		if o.told[key] != t {
			o.told[key] = t
			t.o.Log.Info("file matched by an earlier collect entry with the same topic: that entry reads it, not this one", "path", path, "entry", t.o.Entry.Path, "owner", owner.o.Entry.Path)
		}
		return false
	}
	o.claims[key] = claim{t, path}
	return true
}

// release gives up t's claim on key once its harvester ended (or never
// started), and asks the other entries with the topic that match the file
// to scan: one of them may take it over.
func (t *Task) release(key checkpoint.Key) {
	o := t.o.Owners
	if o == nil {
		return
	}
	o.mu.Lock()
	c := o.claims[key]
	if c.t != t {
		o.mu.Unlock()
		return
	}
	delete(o.claims, key)
	var wake []*Task
	for u := range o.tasks {
		if u != t && u.o.Entry.Topic == t.o.Entry.Topic && u.matches(c.path) {
			wake = append(wake, u)
		}
	}
	o.mu.Unlock()
	for _, u := range wake {
		u.rescanSoon()
	}
}

// matches reports whether the task's entry collects path.
func (t *Task) matches(path string) bool { return t.o.Entry.Matches(path) }
