//go:build !linux

package processor

import "time"

func threadCPU() (time.Duration, bool) { return 0, false }
