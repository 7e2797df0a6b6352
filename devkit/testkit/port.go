package testkit

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// RestartablePort returns a free 127.0.0.1 port below the kernel's
// ephemeral range, for a server that a test stops and starts again on the
// same port.
//
// A port from the ephemeral range (what listening on :0 gives) can be taken
// while the server is down: by any outgoing connection on the host, and
// above all by a client retrying that very server, whose connect can pick
// the destination port as its own local port and connect to itself (TCP
// simultaneous open). The restart then fails with "address already in
// use"; CI saw it once when etcd came back in the chaos suite.
func RestartablePort() (int, error) {
	low := 32768 // Linux's default net.ipv4.ip_local_port_range start
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	const first = 10000
	if low-first < 1000 {
		return 0, fmt.Errorf("ephemeral ports start at %d: no room below for a restartable port", low)
	}
	var lastErr error
	for range 200 {
		port := first + rand.IntN(low-first)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			l.Close()
			return port, nil
		}
		lastErr = err
	}
	return 0, fmt.Errorf("no free port in [%d, %d): %w", first, low, lastErr)
}
