package compose

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/logcollect/logcollect/devkit/testkit"
)

const repo = "github.com/logcollect/logcollect/"

// tooling is what only the devkit may bring in: the emulator's search
// engine, the Kafka-protocol broker and the etcd server.
var tooling = []string{"github.com/blevesearch/", "github.com/twmb/franz-go", "go.etcd.io/etcd/server/"}

// productModules are the modules the binaries are built from.
var productModules = []string{"pkg", "logagent", "logtransfer"}

// heavy reports whether a package or module path is tooling, or devkit
// other than testkit when testkit is allowed.
func heavy(path string, testkitAllowed bool) bool {
	for _, prefix := range tooling {
		if strings.HasPrefix(path, prefix) {
			return true
		}
	}
	if testkitAllowed && strings.HasPrefix(path, repo+"devkit/testkit") {
		return false
	}
	return path == repo+"devkit" || strings.HasPrefix(path, repo+"devkit/")
}

func goList(t *testing.T, dir string, workspace bool, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	if !workspace {
		cmd.Env = append(cmd.Env, "GOWORK=off")
	}
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list %s in %s: %v\n%s", strings.Join(args, " "), dir, err, msg)
	}
	// A test variant is listed as "path [path.test]": the path is enough.
	var paths []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, _, _ := strings.Cut(line, " ")
		paths = append(paths, path)
	}
	return paths
}

// TestBinariesLinkNoTooling: the binaries link none of devkit (testkit
// included) nor the tooling, and pkg/ holds only packages they link (and
// test support packages named like httptest).
func TestBinariesLinkNoTooling(t *testing.T) {
	root, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	linked := goList(t, root, true, "-deps", "./logagent/cmd/logagent", "./logtransfer/cmd/logtransfer")
	for _, p := range linked {
		if heavy(p, false) {
			t.Errorf("the binaries link %s", p)
		}
	}
	for _, p := range goList(t, filepath.Join(root, "pkg"), true, "./...") {
		// Test support beside its package, as net/http/httptest is
		// (kafkaconf/kafkaconftest), is for tests only.
		if strings.HasSuffix(path.Base(p), "test") {
			if slices.Contains(linked, p) {
				t.Errorf("the binaries link the test support %s", p)
			}
			continue
		}
		if !slices.Contains(linked, p) {
			t.Errorf("%s is in pkg/ but neither binary links it: move it to the module that uses it, or to devkit", p)
		}
	}
}

// TestProductModulesRequireNoTooling: outside the workspace each product
// module, tests included, builds from its own go.mod, which requires no
// devkit module but testkit and none of the tooling.
func TestProductModulesRequireNoTooling(t *testing.T) {
	root, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range append(productModules, "devkit/testkit") {
		dir := filepath.Join(root, m)
		for _, mod := range goList(t, dir, false, "-m", "-f", "{{.Path}}", "all") {
			if heavy(mod, true) {
				t.Errorf("%s/go.mod requires %s (go list -m all)", m, mod)
			}
		}
		// -e: a package that does not load (a test importing what no
		// requirement provides) is listed, marked "!", instead of
		// stopping the listing.
		for _, line := range goList(t, dir, false, "-e", "-deps", "-test", "-f", "{{if .Error}}!{{end}}{{.ImportPath}}", "./...") {
			p, failed := strings.CutPrefix(line, "!")
			switch {
			case failed:
				t.Errorf("%s (tests included) does not build outside the workspace: %s is not provided by its go.mod", m, p)
			case heavy(p, true):
				t.Errorf("%s (tests included) imports %s", m, p)
			}
		}
	}
}
