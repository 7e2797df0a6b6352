package esemu

import (
	"slices"
	"sync"
)

// bulkBuffers recycles the two large buffers of a bulk request, the
// parser's line buffer and the blackhole's response: allocating and zeroing
// them was most of the blackhole's remaining allocation (~0.5 MB per
// 1000-document bulk) and of the garbage collector's work.
var bulkBuffers sync.Pool // of *[]byte

const (
	scanBufferSize = 256 << 10
	// maxPooledBuffer keeps a buffer that a huge bulk grew out of the pool.
	maxPooledBuffer = 8 << 20
)

// getBulkBuffer returns an empty buffer with room for at least n bytes.
func getBulkBuffer(n int) []byte {
	if b, ok := bulkBuffers.Get().(*[]byte); ok {
		return slices.Grow((*b)[:0], n)
	}
	return make([]byte, 0, n)
}

// putBulkBuffer recycles b, which its user must no longer hold.
func putBulkBuffer(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledBuffer {
		return
	}
	bulkBuffers.Put(&b)
}
