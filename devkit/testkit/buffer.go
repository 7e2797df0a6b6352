package testkit

import (
	"bytes"
	"sync"
)

// Buffer collects output written from many goroutines (logs, a child
// process' stderr) for tests and tools that read it back while the writers
// run.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
