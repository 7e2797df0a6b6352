package harvester

import (
	"context"
	"testing"

	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/pkg/logging"
)

// ownerTask is a task that only takes part in claims.
func ownerTask(o *Owners, order int, path, topic string, exclude ...string) *Task {
	ctx, cancel := context.WithCancel(context.Background())
	t := &Task{o: Options{Entry: collect.Entry{Path: path, Topic: topic, Exclude: exclude}, Order: order, Owners: o, Log: logging.Discard()},
		ctx: ctx, cancel: cancel, kick: make(chan struct{}, 1)}
	o.join(t)
	return t
}

func TestOwnersClaim(t *testing.T) {
	o := NewOwners()
	all := ownerTask(o, 0, "/var/log/app/*.log", "t")
	aOnly := ownerTask(o, 1, "/var/log/app/a*.log", "t")
	other := ownerTask(o, 2, "/var/log/app/a*.log", "u")
	noGz := ownerTask(o, 3, "/var/log/app/*", "v", "*.gz")
	late := ownerTask(o, 4, "/var/log/app/*", "v")
	for _, tc := range []struct {
		name string
		task *Task
		key  checkpoint.Key
		path string
		want bool
	}{
		{"a later entry yields to an earlier one matching the file, even when it asks first", aOnly, checkpoint.FileKey(1, 1, "t"), "/var/log/app/a.log", false},
		{"the earlier entry claims it", all, checkpoint.FileKey(1, 1, "t"), "/var/log/app/a.log", true},
		{"and may claim it again", all, checkpoint.FileKey(1, 1, "t"), "/var/log/app/a.log", true},
		{"another topic is a fan-out, not a conflict", other, checkpoint.FileKey(1, 1, "u"), "/var/log/app/a.log", true},
		{"a file only the later entry matches is its own", aOnly, checkpoint.FileKey(1, 2, "t"), "/var/log/app/a.old", true},
		{"once claimed, an earlier entry matching it after a rename waits", all, checkpoint.FileKey(1, 2, "t"), "/var/log/app/a2.log", false},
		{"an earlier entry that excludes the file does not take it", late, checkpoint.FileKey(1, 3, "v"), "/var/log/app/x.gz", true},
		{"the earlier entry finds it claimed", noGz, checkpoint.FileKey(1, 3, "v"), "/var/log/app/x.gz", false},
	} {
		if got := tc.task.claim(tc.key, tc.path); got != tc.want {
			t.Errorf("%s: claim = %v, want %v", tc.name, got, tc.want)
		}
	}

	// Released (the owner's harvester ended): the other matching entry is
	// asked to scan and may claim it; the owner's entry is stopping, so it
	// no longer comes first.
	all.cancel()
	all.release(checkpoint.FileKey(1, 1, "t"))
	select {
	case <-aOnly.kick:
	default:
		t.Fatal("the other entry matching the released file was not asked to scan")
	}
	select {
	case <-other.kick:
		t.Fatal("an entry of another topic was asked to scan")
	default:
	}
	if !aOnly.claim(checkpoint.FileKey(1, 1, "t"), "/var/log/app/a.log") {
		t.Fatal("the released file was not handed to the other entry")
	}
	if e, _ := o.Owner(checkpoint.FileKey(1, 1, "t")); e != "/var/log/app/a*.log" {
		t.Fatalf("owner %q, want the second entry", e)
	}
}
