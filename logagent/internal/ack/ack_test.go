package ack

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func TestContiguous(t *testing.T) {
	tests := []struct {
		name  string
		ends  []int64
		acks  []int // indexes acked, in this order
		want  int64
		pends int
	}{
		{"none acked", []int64{10, 20, 30}, nil, 5, 3},
		{"in order", []int64{10, 20, 30}, []int{0, 1, 2}, 30, 0},
		{"gap holds", []int64{10, 20, 30}, []int{1, 2}, 5, 3},
		{"gap filled", []int64{10, 20, 30}, []int{2, 1, 0}, 30, 0},
		{"first only", []int64{10, 20, 30}, []int{0, 2}, 10, 2},
		{"double ack", []int64{10, 20}, []int{0, 0}, 10, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []int64
			tr := New(5, func(o int64) { seen = append(seen, o) })
			var seqs []uint64
			for _, e := range tt.ends {
				seqs = append(seqs, tr.Add(e))
			}
			for _, i := range tt.acks {
				tr.Ack(seqs[i])
			}
			if tr.Offset() != tt.want || tr.Pending() != tt.pends {
				t.Fatalf("offset %d pending %d, want %d %d", tr.Offset(), tr.Pending(), tt.want, tt.pends)
			}
			for i := 1; i < len(seen); i++ {
				if seen[i] <= seen[i-1] {
					t.Fatalf("offset went back: %v", seen)
				}
			}
		})
	}
}

func TestUnknownSeqIgnored(t *testing.T) {
	tr := New(0, nil)
	s := tr.Add(4)
	tr.Ack(s + 7)
	if tr.Offset() != 0 {
		t.Fatal("ack of an unknown line advanced the offset")
	}
	tr.Ack(s)
	tr.Ack(s) // stale after the shift
	if tr.Offset() != 4 || tr.Pending() != 0 {
		t.Fatalf("offset %d", tr.Offset())
	}
}

// A failed line (never acked) pins the offset however many later lines are
// acked: that is what makes a crash resend it.
func TestFailurePinsOffset(t *testing.T) {
	tr := New(0, nil)
	var seqs []uint64
	for i := 1; i <= 100; i++ {
		seqs = append(seqs, tr.Add(int64(i*10)))
	}
	for i, s := range seqs {
		if i != 42 {
			tr.Ack(s)
		}
	}
	if tr.Offset() != 420 {
		t.Fatalf("offset %d, want 420 (end of line 42)", tr.Offset())
	}
	tr.Ack(seqs[42]) // the retry succeeded
	if tr.Offset() != 1000 {
		t.Fatalf("offset %d, want 1000", tr.Offset())
	}
}

func TestConcurrentShuffled(t *testing.T) {
	tr := New(0, nil)
	const n = 5000
	seqs := make([]uint64, n)
	for i := range seqs {
		seqs[i] = tr.Add(int64(i + 1))
	}
	rand.Shuffle(n, func(i, j int) { seqs[i], seqs[j] = seqs[j], seqs[i] })
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				tr.Ack(seqs[i])
			}
		}(w)
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := tr.WaitIdle(ctx); err != nil || tr.Offset() != n {
		t.Fatalf("offset %d err %v", tr.Offset(), err)
	}
}

func TestCancelLast(t *testing.T) {
	tr := New(0, nil)
	a := tr.Add(10)
	b := tr.Add(20)
	tr.Cancel(a) // not the last: ignored
	if tr.Pending() != 2 {
		t.Fatal("cancel of a middle line removed it")
	}
	tr.Cancel(b)
	tr.Ack(a)
	if tr.Pending() != 0 || tr.Offset() != 10 {
		t.Fatalf("pending %d offset %d", tr.Pending(), tr.Offset())
	}
}

// BenchmarkAckPending acks in file order with chan_max_size (10,000) lines
// pending, the agent's steady state at full speed. Before the tracker kept
// a head index, each ack copied every pending entry.
func BenchmarkAckPending(b *testing.B) {
	tr := New(0, nil)
	const pending = 10000
	seqs := make([]uint64, 0, pending)
	for i := range pending {
		seqs = append(seqs, tr.Add(int64(i+1)*200))
	}
	end := int64(pending+1) * 200
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr.Ack(seqs[i%pending])
		seqs[i%pending] = tr.Add(end)
		end += 200
	}
}

// TestAckRunMatchesAcks acks random runs (overlapping, repeated, reaching
// past the pending lines or before them) with AckRun on one tracker and
// line by line on another: offsets and pending counts must agree.
func TestAckRunMatchesAcks(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for round := range 200 {
		runs, lines := New(0, nil), New(0, nil)
		var added uint64
		for range 50 {
			for range rng.IntN(20) {
				end := int64(added+1) * 10
				runs.Add(end)
				lines.Add(end)
				added++
			}
			if added == 0 {
				continue
			}
			from := rng.Uint64N(added + 5)
			if from >= 3 && rng.IntN(4) == 0 {
				from -= 3 // sometimes before the acknowledged run
			}
			n := rng.IntN(12) - 1 // -1 and 0 ack nothing
			runs.AckRun(from, n)
			for s := from; n > 0 && s < from+uint64(n); s++ {
				lines.Ack(s)
			}
			if runs.Offset() != lines.Offset() || runs.Pending() != lines.Pending() {
				t.Fatalf("round %d: AckRun(%d, %d): offset %d pending %d, line by line %d %d",
					round, from, n, runs.Offset(), runs.Pending(), lines.Offset(), lines.Pending())
			}
		}
	}
}
