package contiguous

import "testing"

// BenchmarkAddAckRun is the agent's hot path at full speed: lines added in
// file order with chan_max_size (10,000) pending, acked in the producer's
// runs of 64 (one AckRun each). "swapped" acks every other run before the
// one ahead of it, so half of the AckRuns cannot advance. One op is one
// line; the old ack.Tracker ran the same loop (see BENCHMARKS.md).
func BenchmarkAddAckRun(b *testing.B) {
	for _, bc := range []struct {
		name    string
		swapped bool
	}{{"in-order", false}, {"swapped", true}} {
		b.Run(bc.name, func(b *testing.B) {
			const pending, run = 10000, 64
			tr := New[int64](0, nil)
			var end int64
			add := func() uint64 {
				end += 200
				s, err := tr.Add(end)
				if err != nil {
					b.Fatal(err)
				}
				return s
			}
			for range pending {
				add()
			}
			var oldest uint64
			b.ResetTimer()
			for i := 0; i < b.N; i += 2 * run {
				for range 2 * run {
					add()
				}
				if bc.swapped {
					tr.AckRun(oldest+run, run)
					tr.AckRun(oldest, run)
				} else {
					tr.AckRun(oldest, run)
					tr.AckRun(oldest+run, run)
				}
				oldest += 2 * run
			}
		})
	}
}

// BenchmarkAckPending acks single lines in file order with chan_max_size
// (10,000) lines pending (one Ack and one Add per op). It is the old
// ack.Tracker's benchmark, kept so BENCHMARKS.md's issue history can be
// re-run: before the tracker kept a head index, each ack copied every
// pending entry.
func BenchmarkAckPending(b *testing.B) {
	tr := New[int64](0, nil)
	const pending = 10000
	seqs := make([]uint64, 0, pending)
	for i := range pending {
		s, err := tr.Add(int64(i+1) * 200)
		if err != nil {
			b.Fatal(err)
		}
		seqs = append(seqs, s)
	}
	end := int64(pending+1) * 200
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr.Ack(seqs[i%pending])
		s, err := tr.Add(end)
		if err != nil {
			b.Fatal(err)
		}
		seqs[i%pending] = s
		end += 200
	}
}
