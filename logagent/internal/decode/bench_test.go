package decode

import (
	"testing"
	"time"
)

var (
	dockerBench = []byte(`{"log":"203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] \"GET /api/v1/items?page=2 HTTP/1.1\" 200 5123 \"https://example.com/\" \"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0\"\n","stream":"stdout","time":"2026-12-02T10:00:00.000000001Z"}`)
	criBench    = []byte(`2026-12-02T10:00:00.000000001Z stdout F 203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET /api/v1/items?page=2 HTTP/1.1" 200 5123 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"`)
)

// BenchmarkDecode is the decoder's cost per container line (ns/op is per line).
func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		format string
		line   []byte
	}{{"docker", dockerBench}, {"cri", criBench}} {
		b.Run(bc.format, func(b *testing.B) {
			d, now := New(bc.format, 1<<20, nil), time.Now()
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.line)))
			for i := 0; b.Loop(); i++ {
				if evs := d.Add(bc.line, int64(i), int64(i+1), false, now); len(evs) != 1 {
					b.Fatal(len(evs))
				}
			}
		})
	}
}
