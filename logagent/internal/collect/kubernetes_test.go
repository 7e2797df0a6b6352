package collect

import (
	"strings"
	"testing"
)

func TestKubernetesEntries(t *testing.T) {
	for _, tc := range []struct {
		config, wantErr string
	}{
		{`[{"type":"kubernetes","topic":"k8s_log"}]`, ""},
		{`[{"type":"kubernetes","topic":"k8s_log","namespaces":["web","api"],"selector":"app in (web,api),tier!=cache","start":"beginning"}]`, ""},
		{`[{"type":"kubernetes","topic":"k8s_log","selector":"app in web"}]`, `field "selector": "app in web" is not a label selector`},
		{`[{"type":"kubernetes","topic":"k8s_log","namespaces":["Web_1"]}]`, `field "namespaces": "Web_1" is not a namespace name`},
		{`[{"type":"kubernetes","topic":"k8s_log","path":"/var/log/pods/*/*/*.log"}]`, `field "path": a "type":"kubernetes" entry finds its files itself`},
		{`[{"type":"kubernetes","topic":"k8s_log","units":["a"]}]`, `field "units": only applies to "type":"journald" entries`},
		{`[{"type":"kubernetes","topic":"bad topic"}]`, `field "topic"`},
		{`[{"type":"kubernetes","topic":"k8s_log","format":"xml"}]`, `field "format"`},
		{`[{"path":"/var/log/a.log","topic":"t","selector":"app=web"}]`, `field "selector": only applies to "type":"kubernetes" entries`},
		{`[{"type":"journald","topic":"t","namespaces":["web"]}]`, `field "namespaces": only applies to "type":"kubernetes" entries`},
		{`[{"type":"kubernetes","topic":"k8s_log","selector":"app=web"},{"type":"kubernetes","topic":"k8s_log","selector":"app=web","format":"docker"}]`,
			`entry 2 (kubernetes): field "selector": entry 1 already follows these pods into "k8s_log"`},
	} {
		entries, err := Policy{AllowedPaths: []string{"/var/log/**"}}.Load([]byte(tc.config))
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.config, err)
			} else if entries[0].Format != "cri" || entries[0].LabelSelector == nil {
				t.Errorf("%s: format %q, selector %v: want cri and a compiled selector", tc.config, entries[0].Format, entries[0].LabelSelector)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s:\n got  %v\n want ...%s...", tc.config, err, tc.wantErr)
		}
	}
}

func TestKubernetesEntrySelectsPods(t *testing.T) {
	entries, err := Parse([]byte(`[{"type":"kubernetes","topic":"k8s_log","namespaces":["web"],"selector":"app=web"}]`))
	if err != nil {
		t.Fatal(err)
	}
	e := entries[0]
	for _, tc := range []struct {
		ns     string
		labels map[string]string
		want   bool
	}{
		{"web", map[string]string{"app": "web", "x": "y"}, true},
		{"web", map[string]string{"app": "api"}, false},
		{"api", map[string]string{"app": "web"}, false},
		{"web", nil, false},
	} {
		if got := e.SelectsPod(tc.ns, tc.labels); got != tc.want {
			t.Errorf("SelectsPod(%s, %v) = %v, want %v", tc.ns, tc.labels, got, tc.want)
		}
	}
	// The key follows which pods and where, not how they are read.
	again, _ := Parse([]byte(`[{"type":"kubernetes","topic":"k8s_log","namespaces":["web"],"selector":"app=web","format":"docker"}]`))
	other, _ := Parse([]byte(`[{"type":"kubernetes","topic":"k8s_log","namespaces":["api"],"selector":"app=web"}]`))
	if e.Key() != again[0].Key() || e.Key() == other[0].Key() {
		t.Errorf("keys %s %s %s: want the first two equal, the third different", e.Key(), again[0].Key(), other[0].Key())
	}
}
