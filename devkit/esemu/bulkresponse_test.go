package esemu

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAppendJSONString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", `""`},
		{"logs-web-2026.11.21", `"logs-web-2026.11.21"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"tab\tnl\ncr\r", `"tab\tnl\ncr\r"`},
		{"\x00\x01\x1f", `"\u0000\u0001\u001f"`},
		{"é日本<>&\u2028", "\"é日本<>&\u2028\""},
		{"bad\xffutf8\xc3", `"bad\ufffdutf8\ufffd"`},
	} {
		got := string(appendJSONString([]byte("x"), c.in))
		if got != "x"+c.want {
			t.Errorf("appendJSONString(%q) = %s, want x%s", c.in, got, c.want)
		}
		var back string
		if err := json.Unmarshal([]byte(got[1:]), &back); err != nil || back != strings.ToValidUTF8(c.in, "\ufffd") {
			t.Errorf("appendJSONString(%q) decodes to %q, %v", c.in, back, err)
		}
	}
}
