package processor

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The examples in docs/logagent.md's Processors section compile, so the
// documentation cannot drift from what Parse accepts.
func TestDocExamplesCompile(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/logagent.md")
	if err != nil {
		t.Skip("docs not found:", err)
	}
	_, section, ok := strings.Cut(string(doc), "## Processors")
	if !ok {
		t.Fatal("docs/logagent.md has no Processors section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	examples := regexp.MustCompile("`(\\{\"type\":[^`]*\\})`").FindAllStringSubmatch(section, -1)
	if len(examples) < 6 {
		t.Fatalf("found %d examples", len(examples))
	}
	for _, ex := range examples {
		if _, err := Parse([]byte("["+ex[1]+"]"), Options{}); err != nil {
			t.Errorf("example %s: %v", ex[1], err)
		}
	}
	// The entry in the code block.
	_, block, _ := strings.Cut(section, "```json\n")
	block, _, _ = strings.Cut(block, "```")
	var entries []struct {
		Processors json.RawMessage `json:"processors"`
	}
	if err := json.Unmarshal([]byte(block), &entries); err != nil || len(entries) != 1 {
		t.Fatalf("code block: %v", err)
	}
	c, err := Parse(entries[0].Processors, Options{})
	if err != nil {
		t.Fatalf("code block: %v", err)
	}
	if _, v := run(c, `10.0.0.1 - - [21/Nov/2026:10:00:00 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29"`); v != Drop {
		t.Errorf("the example keeps health checks")
	}
}
