package logging

import (
	"bytes"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, "warn", "json")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown", "k", 1)
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown"`) {
		t.Errorf("output = %q", out)
	}
	if _, err := New(&buf, "loud", "text"); err == nil {
		t.Error("bad level accepted")
	}
	if _, err := New(&buf, "info", "xml"); err == nil {
		t.Error("bad format accepted")
	}
}
