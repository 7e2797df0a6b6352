package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/logcollect/logcollect/pkg/record"
)

var (
	paths  = []string{"/api/orders", "/api/cart/items", "/static/app.js", "/index.html", "/api/users/profile", "/img/logo.png", "/api/search", "/checkout"}
	agents = []string{
		"Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1",
		"curl/8.5.0 (x86_64-pc-linux-gnu) libcurl/8.5.0 OpenSSL/3.0.11 zlib/1.3",
	}
	statuses = []int{200, 200, 200, 200, 304, 404, 500, 201}
)

// secretPrefix starts every password the generator writes: a masking
// chain must leave none of them in Kafka.
const secretPrefix = "pw-"

var base = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// appendLine appends nginx combined-log line seq (without newline). Lines
// are deterministic (a function of seq only), about 195 bytes, and carry
// "s<seq>" as a searchable token for the end-to-end latency probe. One line
// in 16 carries a password in its query string and one in 16 an e-mail
// address as its user, so a masking chain (-chain nginx) has work to do.
func appendLine(dst []byte, seq int64) []byte {
	h := uint64(seq)*0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019
	h ^= h >> 29
	dst = strconv.AppendUint(dst, 10+h%240, 10)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, (h>>8)%256, 10)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, (h>>16)%256, 10)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, 1+(h>>24)%254, 10)
	if (h>>48)%16 == 1 {
		dst = append(dst, " - user"...)
		dst = strconv.AppendUint(dst, (h>>20)%1000, 10)
		dst = append(dst, "@shop.example ["...)
	} else {
		dst = append(dst, " - - ["...)
	}
	dst = base.Add(time.Duration(seq)*time.Millisecond).AppendFormat(dst, "02/Jan/2006:15:04:05 -0700")
	dst = append(dst, `] "GET `...)
	dst = append(dst, paths[(h>>32)%uint64(len(paths))]...)
	dst = append(dst, "?id=s"...)
	dst = strconv.AppendInt(dst, seq, 10)
	if (h>>44)%16 == 0 {
		dst = append(dst, "&password="...)
		dst = append(dst, secretPrefix...)
		dst = strconv.AppendUint(dst, h%1_000_000, 16)
	}
	dst = append(dst, ` HTTP/1.1" `...)
	dst = strconv.AppendInt(dst, int64(statuses[(h>>36)%uint64(len(statuses))]), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, 200+(h>>40)%48000, 10)
	dst = append(dst, ` "https://shop.example/" "`...)
	dst = append(dst, agents[(h>>56)%uint64(len(agents))]...)
	return append(dst, '"')
}

// writeFiles writes lines [0, n) over the files: file i of k gets the
// contiguous block of seqs i*n/k up to (i+1)*n/k, each line passed through
// frame (nil: as it is; container.go frames them as a container runtime
// does). It returns the bytes written.
func writeFiles(paths []string, n int64, frame func(dst, line []byte, seq int64) []byte) (int64, error) {
	var total int64
	k := int64(len(paths))
	var line, framed []byte
	for i, p := range paths {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return 0, err
		}
		f, err := os.Create(p)
		if err != nil {
			return 0, err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		for seq := int64(i) * n / k; seq < (int64(i)+1)*n/k; seq++ {
			line = appendLine(line[:0], seq)
			if frame != nil {
				framed = frame(framed[:0], line, seq)
				line, framed = framed, line
			}
			line = append(line, '\n')
			w.Write(line)
			total += int64(len(line))
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return 0, fmt.Errorf("write %s: %w", p, err)
		}
		if err := f.Close(); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// agentRecord is the Kafka value the agent would send for line seq.
func agentRecord(dst []byte, seq int64, offset int64, line []byte) []byte {
	r := record.Record{
		Timestamp: base.Add(time.Duration(seq) * time.Millisecond),
		Message:   string(line),
		HostName:  "bench-host", HostIP: "10.0.0.5",
		Path: "/var/log/nginx/access.log", Device: 2049, Inode: 1234, Offset: offset,
		EventID: record.EventID("10.0.0.5", "bench-file", offset),
	}
	return r.AppendJSON(dst)
}
