package proc

import (
	"strings"
	"testing"
	"time"
)

func TestStartStopAndUsage(t *testing.T) {
	p, err := Start(Spec{Name: "sh", Path: "/bin/sh", Args: []string{"-c", "echo started; trap 'echo bye; exit 0' TERM; while :; do sleep 0.05; done"}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.Output(), "started") {
		if time.Now().After(deadline) {
			t.Fatal("no output")
		}
		time.Sleep(10 * time.Millisecond)
	}
	u, err := p.Usage()
	if err != nil || u.PeakRSS <= 0 || u.RSS <= 0 || u.CPUSeconds < 0 {
		t.Fatalf("Usage = %+v, %v", u, err)
	}
	if err := p.Stop(5 * time.Second); err != nil {
		t.Fatalf("Stop = %v, want clean exit", err)
	}
	if !strings.Contains(p.Output(), "bye") {
		t.Errorf("SIGTERM handler did not run: %q", p.Output())
	}
}

func TestKillIsACrash(t *testing.T) {
	p, err := Start(Spec{Name: "sleep", Path: "/bin/sh", Args: []string{"-c", "trap '' TERM; sleep 30"}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.Kill()
	if exited, err := p.Exited(); !exited || err == nil {
		t.Fatalf("after Kill: exited=%v err=%v, want exited with a signal error", exited, err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("Kill waited for the child's sleep")
	}
}

func TestStopKillsAfterGrace(t *testing.T) {
	p, err := Start(Spec{Name: "stubborn", Path: "/bin/sh", Args: []string{"-c", "trap '' TERM; while :; do sleep 0.05; done"}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the shell install its trap
	if err := p.Stop(200 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Stop = %v, want a 'killed' error", err)
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	tb := &tailBuffer{max: 5}
	tb.Write([]byte("abc"))
	tb.Write([]byte("defg"))
	if got := tb.String(); got != "cdefg" {
		t.Errorf("tail = %q", got)
	}
}
