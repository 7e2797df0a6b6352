package console

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/logcollect/logcollect/pkg/audit"
)

// Delivery is what /ui/api/delivery answers: the audit of every followed
// file (pkg/audit, the logic of `logagent audit`), filtered by group and
// host. A file short of documents is looked at again for up to
// deliverySettle: a deficit that stays the same that long is missing, one
// that still moves is in flight (the page asks again every 5 s).
type Delivery struct {
	Enabled bool          `json:"enabled"`
	Reason  string        `json:"reason,omitempty"`
	Group   string        `json:"group,omitempty"`
	Host    string        `json:"host,omitempty"`
	Report  *audit.Report `json:"report,omitempty"`
	Groups  []string      `json:"groups"` // every group some agent is in, for the filter
	TookMS  int64         `json:"took_ms"`
}

// deliverySettle is how long a deficit must stay unchanged to be called
// missing: a page should answer within seconds, so shorter than the
// command's 5 s.
const deliverySettle = 3 * time.Second

func (c *Console) getDelivery(ctx context.Context, w http.ResponseWriter, r *http.Request, s *snapshot) {
	start := time.Now()
	group, host := r.URL.Query().Get("group"), r.URL.Query().Get("host")
	d := Delivery{Enabled: true, Group: group, Host: host, Groups: []string{}}
	var hosts []audit.Host
	groups := map[string]bool{}
	for ip, data := range s.Statuses {
		h, err := audit.DecodeStatus(data, ip)
		if err != nil {
			httpError(w, http.StatusBadGateway, fmt.Errorf("status of %s: %w", ip, err))
			return
		}
		for _, g := range h.Groups {
			groups[g] = true
		}
		if group != "" && !slices.Contains(h.Groups, group) || host != "" && host != h.IP && host != h.Hostname {
			continue
		}
		hosts = append(hosts, h)
	}
	for g := range groups {
		d.Groups = append(d.Groups, g)
	}
	sort.Strings(d.Groups)
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].IP < hosts[j].IP })
	rep, err := audit.Run(ctx, hosts, c.o.ES, audit.Options{Indices: c.o.Indices, DeadLetterIndex: c.o.DeadLetterIndex,
		Poll: 500 * time.Millisecond, Settle: deliverySettle, Wait: 2 * deliverySettle})
	if err != nil {
		httpError(w, http.StatusBadGateway, fmt.Errorf("audit: %w", err))
		return
	}
	d.Report, d.TookMS = &rep, time.Since(start).Milliseconds()
	writeJSON(w, d)
}
