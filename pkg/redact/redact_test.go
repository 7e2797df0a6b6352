package redact

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestURLAndText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://elastic:pw@es:9200", "http://elastic:xxxxx@es:9200"},
		{"https://u:p%40ss@es:9200/path?q=1", "https://u:xxxxx@es:9200/path?q=1"},
		{"http://es:9200", "http://es:9200"},
		{"http://onlyuser@es:9200", "http://onlyuser@es:9200"},
		{"http://:pw@es:9200", "http://:xxxxx@es:9200"},
	}
	for _, tc := range tests {
		if got := URL(tc.in); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := Text("at " + tc.in + ": refused"); got != "at "+tc.want+": refused" {
			t.Errorf("Text(%q) = %q, want the URL masked as %q", tc.in, got, tc.want)
		}
	}
	if got := Text(`Post "http://a:b@h/_bulk" and http://c:d@h2`); got != `Post "http://a:xxxxx@h/_bulk" and http://c:xxxxx@h2` {
		t.Errorf("Text masks each URL: %q", got)
	}
	if got := URLs([]string{"http://a:b@h", "h2:9200"}); got[0] != "http://a:xxxxx@h" || got[1] != "h2:9200" {
		t.Errorf("URLs = %q", got)
	}
}

func TestErrorKeepsTheChain(t *testing.T) {
	err := Error(fmt.Errorf("dial http://u:secret@h: %w", io.EOF))
	if err.Error() != "dial http://u:xxxxx@h: EOF" {
		t.Errorf("Error() = %q", err)
	}
	if !errors.Is(err, io.EOF) {
		t.Error("errors.Is lost the wrapped error")
	}
	if Error(nil) != nil {
		t.Error("Error(nil) is not nil")
	}
}
