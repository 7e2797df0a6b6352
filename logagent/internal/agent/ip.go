package agent

import (
	"errors"
	"fmt"
	"net"
)

// outboundIP returns the agent's IP for the etcd key and records, and why
// it was chosen: the ini override; else the local address the kernel picks
// for a UDP "connection" to a public address (no packet is sent: UDP
// connect only selects a route); else, on hosts without a default route,
// the first non-loopback interface address.
func outboundIP(override string) (ip, why string, err error) {
	if override != "" {
		return override, "set by [agent] ip", nil
	}
	if c, err := net.Dial("udp", "8.8.8.8:80"); err == nil {
		addr := c.LocalAddr().(*net.UDPAddr).IP.String()
		c.Close()
		return addr, "local address of the default route", nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", "", fmt.Errorf("list interface addresses: %w", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() && n.IP.To4() != nil {
			return n.IP.String(), "no default route; first non-loopback interface address", nil
		}
	}
	return "", "", errors.New("no default route and no non-loopback IPv4 address: set [agent] ip")
}
