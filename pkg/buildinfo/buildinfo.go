// Package buildinfo reports the version the binaries print for -version and
// publish in metrics and fleet status.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

// Version is set at link time: -ldflags "-X github.com/logcollect/logcollect/pkg/buildinfo.Version=v1.2.3".
var Version = "dev"

// Revision is the VCS commit the binary was built from, when Go recorded it.
// Read once: ReadBuildInfo parses the whole module list on every call, and
// every status document carries the revision.
var Revision = sync.OnceValue(func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
})

// String is the one-line -version output of program.
func String(program string) string {
	return fmt.Sprintf("%s %s (revision %s, %s, %s/%s)", program, Version, Revision(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
