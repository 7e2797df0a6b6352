package pathglob

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"/var/log/**", "/var/log/a.log", true},
		{"/var/log/**", "/var/log/nginx/access.log", true},
		{"/var/log/**", "/var/lib/x", false},
		{"/var/log/**", "/etc/shadow", false},
		{"/var/log/*.log", "/var/log/a.log", true},
		{"/var/log/*.log", "/var/log/x/a.log", false},
		{"/var/log/**/*.log", "/var/log/a/b/c.log", true},
		{"/var/log/**/*.log", "/var/log/c.txt", false},
		{"/var/log/app/*.log", "/var/log/app/*.log", true}, // a collect pattern checked as a path
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.name); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
	if err := Validate("var/log"); err == nil {
		t.Error("relative pattern accepted")
	}
	if err := Validate("/var/[log"); err == nil {
		t.Error("bad pattern accepted")
	}
}

func TestExpand(t *testing.T) {
	tests := []struct {
		pattern string
		want    []string // the first three globs (all of them when fewer)
		n       int
	}{
		{"/var/log/*.log", []string{"/var/log/*.log"}, 1},
		{"/var/log/**/*.log", []string{"/var/log/*.log", "/var/log/*/*.log", "/var/log/*/*/*.log"}, MaxDepth + 1},
		{"/var/log/**", []string{"/var/log/*", "/var/log/*/*", "/var/log/*/*/*"}, MaxDepth + 1},
		{"/srv/**/logs/app.log", []string{"/srv/logs/app.log", "/srv/*/logs/app.log", "/srv/*/*/logs/app.log"}, MaxDepth + 1},
		{"/a/**/b/**/c", []string{"/a/b/*/c", "/a/*/b/*/c", "/a/*/*/b/*/c"}, MaxDepth + 1},
		{"/var/log/app**.log", []string{"/var/log/app**.log"}, 1}, // not a whole segment: filepath's "*" twice
	}
	for _, tt := range tests {
		got := Expand(tt.pattern)
		if len(got) != tt.n {
			t.Errorf("Expand(%q) has %d globs, want %d: %q", tt.pattern, len(got), tt.n, got)
			continue
		}
		for i, w := range tt.want {
			if got[i] != w {
				t.Errorf("Expand(%q)[%d] = %q, want %q", tt.pattern, i, got[i], w)
			}
		}
		if Recursive(tt.pattern) != (tt.n > 1) {
			t.Errorf("Recursive(%q) = %v", tt.pattern, !(tt.n > 1))
		}
	}
	for pattern, want := range map[string]int{"/var/log/*.log": 0, "/var/log/app**.log": 0, "/a/**/b": 1, "/a/**": 1, "/a/**/b/**/c": 2, "/a/**/**/c": 2} {
		if got := Recursions(pattern); got != want {
			t.Errorf("Recursions(%q) = %d, want %d", pattern, got, want)
		}
	}
	deepest := Expand("/var/log/**/*.log")[MaxDepth]
	if want := "/var/log" + strings.Repeat("/*", MaxDepth) + "/*.log"; deepest != want {
		t.Errorf("deepest glob %q, want %q", deepest, want)
	}
}
