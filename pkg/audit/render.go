package audit

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText prints the report as a table, one row per host and file, the
// missing ranges under their row, then the notes and a summary line:
//
//	audit: 2 hosts, 5 files: 1200 acked, 1180 indexed, 0 dead-lettered, 0 in flight, 20 missing: MISSING
func (rep Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tFILE\tRANGE\tACKED\tDROPPED\tINDEXED\tDEAD\tIN FLIGHT\tMISSING\tVERDICT")
	for _, r := range rep.Rows {
		rng, num := "-", func(n uint64) string { return fmt.Sprint(n) }
		if r.Verdict == Uncounted {
			num = func(uint64) string { return "-" }
		} else {
			rng = fmt.Sprintf("%d-%d", r.Since, r.Offset)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", r.IP, r.Path, rng, num(r.Acked), r.Dropped,
			num(r.Indexed), num(r.DeadLettered), num(r.InFlight), num(r.Missing), r.Verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rep.Rows {
		if len(r.Gaps) == 0 && r.Note == "" {
			continue
		}
		fmt.Fprintf(w, "%s %s (device %d, inode %d):", r.IP, r.Path, r.Device, r.Inode)
		if len(r.Gaps) > 0 {
			what := "missing lines in bytes"
			if r.Dropped > 0 {
				what = "missing (or dropped) lines in bytes"
			}
			parts := make([]string, 0, len(r.Gaps))
			for _, g := range r.Gaps {
				parts = append(parts, fmt.Sprintf("%d-%d", g.From, g.To))
			}
			fmt.Fprintf(w, " %s %s", what, strings.Join(parts, ", "))
			if r.GapsOmitted > 0 {
				fmt.Fprintf(w, " and %d more ranges", r.GapsOmitted)
			}
			if r.Note != "" {
				fmt.Fprint(w, ";")
			}
		}
		if r.Note != "" {
			fmt.Fprintf(w, " %s", r.Note)
		}
		fmt.Fprintln(w)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	_, err := fmt.Fprintln(w, rep.Summary())
	return err
}

// Summary is the report's last line.
func (rep Report) Summary() string {
	s := fmt.Sprintf("audit: %d hosts, %d files: %d acked, %d dropped, %d indexed, %d dead-lettered, %d in flight, %d missing",
		rep.Hosts, rep.Files, rep.Acked, rep.Dropped, rep.Indexed, rep.DeadLettered, rep.InFlight, rep.Missing)
	if rep.Uncounted > 0 {
		s += fmt.Sprintf(" (%d files uncounted)", rep.Uncounted)
	}
	return s + ": " + rep.Verdict
}
