package harvester

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestTopicChangeContinuesStream edits an entry's topic back and forth
// (start=end): each topic's stream continues where the other's was
// acknowledged, so every line goes to exactly one topic, none is lost in a
// switch and none is sent again when the topic goes back. Another entry
// reading the same file to a third topic is a deliberate fan-out: it starts
// where its start says (the end), and then gets every new line too.
func TestTopicChangeContinuesStream(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.dir, "app.log")
	appendTo(t, p, nl("history", 1, 2)...)
	sent := map[string]*fakeSender{}
	run := func(path, topic string) {
		e.snd = &fakeSender{}
		sent[topic] = e.snd
		e.start(t, `{"path":"`+path+`","topic":"`+topic+`"}`)
	}
	expect := func(topic string, want []string) {
		t.Helper()
		waitFor(t, topic+"'s lines", func() bool { return hasAll(t, sent[topic].all(), want) })
		time.Sleep(200 * time.Millisecond) // several scans: nothing more
		if got := sent[topic].messages(); !slices.Equal(got, want) {
			t.Fatalf("%s got %q, want %q", topic, got, want)
		}
	}
	run("DIR/app.log", "t1")
	time.Sleep(200 * time.Millisecond) // positioned at the end
	appendTo(t, p, nl("a", 1, 3)...)
	expect("t1", trimmed(nl("a", 1, 3)))
	e.task.Close()

	appendTo(t, p, nl("a", 4, 5)...) // written while the entry is edited
	run("DIR/app.log", "t2")
	appendTo(t, p, nl("a", 6, 6)...)
	expect("t2", trimmed(nl("a", 4, 6)))
	e.task.Close()

	appendTo(t, p, nl("a", 7, 7)...)
	run("DIR/app.log", "t1") // back: a4 to a6 went to t2 and are not sent again
	expect("t1", trimmed(nl("a", 7, 7)))

	run("DIR/*.log", "t3") // fan-out, while t1 goes on
	time.Sleep(200 * time.Millisecond)
	appendTo(t, p, nl("a", 8, 8)...)
	expect("t3", trimmed(nl("a", 8, 8)))
	expect("t1", trimmed(nl("a", 7, 8)))
}
