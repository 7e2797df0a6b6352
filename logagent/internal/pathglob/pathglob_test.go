package pathglob

import "testing"

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
