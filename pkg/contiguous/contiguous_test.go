package contiguous

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// added adds positions in order and returns their sequence numbers.
func added[P int64 | uint64](t testing.TB, tr *Tracker[P], positions ...P) []uint64 {
	t.Helper()
	seqs := make([]uint64, 0, len(positions))
	for _, p := range positions {
		s, err := tr.Add(p)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, s)
	}
	return seqs
}

func TestRunIsContiguous(t *testing.T) {
	tests := []struct {
		name     string
		start    int64
		pos      []int64
		acks     [][2]int // {index, n}: AckRun(seqs[index], n), in this order
		want     int64
		pending  int
		advances []int64
	}{
		{"none acked", 5, []int64{10, 20, 30}, nil, 5, 3, nil},
		{"in order", 5, []int64{10, 20, 30}, [][2]int{{0, 1}, {1, 1}, {2, 1}}, 30, 0, []int64{10, 20, 30}},
		{"gap holds", 5, []int64{10, 20, 30}, [][2]int{{1, 1}, {2, 1}}, 5, 1, nil},
		{"gap filled", 5, []int64{10, 20, 30}, [][2]int{{2, 1}, {1, 1}, {0, 1}}, 30, 0, []int64{30}},
		{"first only", 5, []int64{10, 20, 30}, [][2]int{{0, 1}, {2, 1}}, 10, 1, []int64{10}},
		{"double ack", 5, []int64{10, 20}, [][2]int{{0, 1}, {0, 1}}, 10, 1, []int64{10}},
		{"one run, one advance", 0, []int64{1, 2, 3, 4}, [][2]int{{0, 4}}, 4, 0, []int64{4}},
		{"run past the end", 0, []int64{1, 2, 3}, [][2]int{{1, 9}}, 0, 1, nil},
		{"run over acked items", 0, []int64{1, 2, 3}, [][2]int{{0, 2}, {0, 3}}, 3, 0, []int64{2, 3}},
		{"empty run", 0, []int64{1, 2}, [][2]int{{0, 0}, {0, -1}}, 0, 2, nil},
		// Kafka: positions are next offsets, with gaps (compacted topic).
		{"gaps in positions", -1, []int64{6, 10, 21}, [][2]int{{1, 1}, {0, 1}, {2, 1}}, 21, 0, []int64{10, 21}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var advances []int64
			tr := New(tt.start, func(p int64) { advances = append(advances, p) })
			seqs := added(t, tr, tt.pos...)
			for _, a := range tt.acks {
				tr.AckRun(seqs[a[0]], a[1])
			}
			if tr.Position() != tt.want || tr.Pending() != tt.pending {
				t.Fatalf("position %d pending %d, want %d %d", tr.Position(), tr.Pending(), tt.want, tt.pending)
			}
			if !equal(advances, tt.advances) {
				t.Fatalf("advances %v, want %v", advances, tt.advances)
			}
		})
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestUnknownSeqIgnored(t *testing.T) {
	tr := New[int64](0, nil)
	s := added(t, tr, 4)[0]
	tr.Ack(s + 7)
	if tr.Position() != 0 {
		t.Fatal("ack of an unknown item advanced the run")
	}
	tr.Ack(s)
	tr.Ack(s) // stale after the advance
	if tr.Position() != 4 || tr.Pending() != 0 {
		t.Fatalf("position %d pending %d", tr.Position(), tr.Pending())
	}
}

// An item that is never acked (failed, or retried forever) pins the run
// however many later items are acked: that is what makes a crash resend it.
func TestUnackedItemPinsTheRun(t *testing.T) {
	tr := New[int64](0, nil)
	var pos []int64
	for i := 1; i <= 100; i++ {
		pos = append(pos, int64(i*10))
	}
	seqs := added(t, tr, pos...)
	for i, s := range seqs {
		if i != 42 {
			tr.Ack(s)
		}
	}
	if tr.Position() != 420 || tr.Pending() != 1 {
		t.Fatalf("position %d pending %d, want 420 (end of item 42) and 1", tr.Position(), tr.Pending())
	}
	tr.Ack(seqs[42]) // the retry succeeded
	if tr.Position() != 1000 {
		t.Fatalf("position %d, want 1000", tr.Position())
	}
}

func TestAddRejectsPositionsThatDoNotIncrease(t *testing.T) {
	tr := New[int64](5, nil)
	if _, err := tr.Add(5); !errors.Is(err, ErrNotAfter) {
		t.Fatalf("Add(start) = %v, want ErrNotAfter", err)
	}
	added(t, tr, 10)
	for _, p := range []int64{10, 7} {
		if _, err := tr.Add(p); !errors.Is(err, ErrNotAfter) {
			t.Fatalf("Add(%d) after 10 = %v, want ErrNotAfter", p, err)
		}
	}
	if tr.Pending() != 1 {
		t.Fatalf("pending %d after rejected adds, want 1", tr.Pending())
	}
}

func TestCancelOnlyTheLastItem(t *testing.T) {
	tr := New[int64](0, nil)
	seqs := added(t, tr, 10, 20)
	tr.Cancel(seqs[0]) // not the last: ignored
	if tr.Pending() != 2 {
		t.Fatal("cancel of a middle item removed it")
	}
	tr.Cancel(seqs[1])
	// The withdrawn item's sequence number and position can be added
	// again (the journal task resends the same entry number).
	again := added(t, tr, 20)[0]
	if again != seqs[1] {
		t.Fatalf("seq after cancel %d, want %d", again, seqs[1])
	}
	tr.Cancel(again)
	tr.Ack(seqs[0])
	if tr.Pending() != 0 || tr.Position() != 10 {
		t.Fatalf("pending %d position %d", tr.Pending(), tr.Position())
	}
	if err := tr.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	acked := added(t, tr, 30)[0]
	tr.Ack(acked)
	tr.Cancel(acked) // acked: nothing to withdraw
	if tr.Position() != 30 {
		t.Fatalf("position %d", tr.Position())
	}
}

func TestCloseAbandonsWithoutAdvancing(t *testing.T) {
	var advances []int64
	tr := New(-1, func(p int64) { advances = append(advances, p) })
	seqs := added(t, tr, 1, 2, 3)
	tr.Ack(seqs[0])
	if n := tr.Close(); n != 2 {
		t.Fatalf("Close abandoned %d, want 2", n)
	}
	tr.Ack(seqs[1])
	tr.AckRun(seqs[1], 2)
	if !equal(advances, []int64{1}) || tr.Position() != 1 {
		t.Fatalf("advances after close %v position %d, want [1] and 1", advances, tr.Position())
	}
	if _, err := tr.Add(4); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close = %v, want ErrClosed", err)
	}
	if !tr.Closed() || tr.Close() != 0 {
		t.Fatal("Closed() false, or a second Close abandoned items again")
	}
}

func TestWaitIdle(t *testing.T) {
	tr := New[int64](0, nil)
	if err := tr.WaitIdle(context.Background()); err != nil {
		t.Fatalf("WaitIdle with nothing pending: %v", err)
	}
	seqs := added(t, tr, 1, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := tr.WaitIdle(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitIdle with items pending = %v before the deadline", err)
	}
	done := make(chan error, 2)
	for range 2 { // two waiters share the idle signal
		go func() { done <- tr.WaitIdle(context.Background()) }()
	}
	tr.Ack(seqs[1])
	select {
	case err := <-done:
		t.Fatalf("WaitIdle returned %v with item 0 pending", err)
	case <-time.After(20 * time.Millisecond):
	}
	tr.Ack(seqs[0])
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("WaitIdle did not return once every item was acked")
		}
	}
	// Idle again, then busy: a new wait waits for the new item.
	s := added(t, tr, 3)[0]
	go func() { done <- tr.WaitIdle(context.Background()) }()
	tr.Cancel(s)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitIdle did not return when the last pending item was cancelled")
	}
}

// TestAckRunMatchesAcks acks random runs (overlapping, repeated, reaching
// past the pending items or before them) with AckRun on one tracker and
// item by item on another: positions and pending counts must agree.
func TestAckRunMatchesAcks(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for round := range 200 {
		runs, items := New[int64](0, nil), New[int64](0, nil)
		var n uint64
		for range 50 {
			for range rng.IntN(20) {
				n++
				added(t, runs, int64(n)*10)
				added(t, items, int64(n)*10)
			}
			if n == 0 {
				continue
			}
			from := rng.Uint64N(n + 5)
			if from >= 3 && rng.IntN(4) == 0 {
				from -= 3 // sometimes before the completed run
			}
			k := rng.IntN(12) - 1 // -1 and 0 ack nothing
			runs.AckRun(from, k)
			for s := from; k > 0 && s < from+uint64(k); s++ {
				items.Ack(s)
			}
			if runs.Position() != items.Position() || runs.Pending() != items.Pending() {
				t.Fatalf("round %d: AckRun(%d, %d): position %d pending %d, item by item %d %d",
					round, from, k, runs.Position(), runs.Pending(), items.Position(), items.Pending())
			}
		}
	}
}

// TestRandomConcurrentAcks is the property test: one goroutine adds items
// (with gaps between positions) while several ack them in random order, in
// random runs, some twice. Every advance must land on the position of an
// item whose whole prefix is acked (the highest contiguous one when the
// advance happens), never move back, and memory must follow the pending
// items. Run it with -race.
func TestRandomConcurrentAcks(t *testing.T) {
	for round := range 4 {
		seed := uint64(round)
		t.Run("", func(t *testing.T) {
			const n = 20000
			var (
				mu       sync.Mutex
				acked          = make([]bool, n) // by seq, set before the ack
				returned       = make([]bool, n) // by seq, set once its AckRun returned
				posSeq         = make(map[int64]int, n)
				lastSeen int64 = -1
				advances int
			)
			var tr *Tracker[int64]
			tr = New[int64](-1, func(p int64) {
				// Called under tr's lock: the tracker cannot be
				// read here, only what the ackers recorded.
				mu.Lock()
				defer mu.Unlock()
				advances++
				if p <= lastSeen {
					t.Errorf("advance to %d not above %d", p, lastSeen)
				}
				s, ok := posSeq[p]
				if !ok {
					t.Errorf("advance to %d, the position of no item", p)
					return
				}
				for i := 0; i <= s; i++ {
					if !acked[i] {
						t.Errorf("advance to %d (item %d) with item %d not acked", p, s, i)
						return
					}
				}
				if s+1 < n && returned[s+1] {
					// Item s+1's ack returned before this
					// advance: the run stopped short.
					t.Errorf("advance to %d stops before acked item %d", p, s+1)
				}
				lastSeen = p
			})
			rng := rand.New(rand.NewPCG(seed, 99))
			work := make(chan uint64, 256)
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(seed, uint64(w)))
					var held []uint64
					flush := func() {
						r.Shuffle(len(held), func(i, j int) { held[i], held[j] = held[j], held[i] })
						for len(held) > 0 {
							k := 1 + r.IntN(len(held))
							for _, s := range held[:k] {
								mu.Lock()
								acked[s] = true
								mu.Unlock()
							}
							// Ack the taken ones; adjacent seqs
							// go as one run, as the producer does.
							for i := 0; i < k; {
								j := i + 1
								for j < k && held[j] == held[j-1]+1 {
									j++
								}
								tr.AckRun(held[i], j-i)
								mu.Lock()
								for _, s := range held[i:j] {
									returned[s] = true
								}
								mu.Unlock()
								if r.IntN(10) == 0 {
									tr.Ack(held[i]) // a stale, repeated ack
								}
								i = j
							}
							held = held[k:]
						}
					}
					for s := range work {
						held = append(held, s)
						if len(held) >= 1+r.IntN(64) {
							flush()
						}
					}
					flush()
				})
			}
			var p int64
			for i := range n {
				p += 1 + rng.Int64N(3)
				mu.Lock()
				posSeq[p] = i
				mu.Unlock()
				s, err := tr.Add(p)
				if err != nil || s != uint64(i) {
					t.Fatalf("Add(%d) = %d, %v; want seq %d", p, s, err, i)
				}
				work <- s
			}
			close(work)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := tr.WaitIdle(ctx); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			if tr.Position() != p || lastSeen != p || tr.Pending() != 0 {
				t.Fatalf("position %d, last advance %d, pending %d; want %d, %d, 0", tr.Position(), lastSeen, tr.Pending(), p, p)
			}
			if advances == 0 {
				t.Error("the run never advanced")
			}
			if len(tr.items) > 64 || cap(tr.items) > 4*n {
				t.Errorf("%d items kept (capacity %d) after everything was acked", len(tr.items), cap(tr.items))
			}
		})
	}
}

// TestMemoryFollowsPendingItems: a long stream with a bounded number of
// items pending keeps a bounded slice (the completed prefix is compacted).
func TestMemoryFollowsPendingItems(t *testing.T) {
	tr := New[int64](0, nil)
	const window = 1000
	var seqs []uint64
	for i := range int64(200 * window) {
		seqs = append(seqs, added(t, tr, i+1)...)
		if len(seqs) == window {
			tr.AckRun(seqs[0], window/2)
			seqs = seqs[window/2:]
		}
		if cap(tr.items) > 4*window {
			t.Fatalf("after %d items: capacity %d with at most %d pending", i+1, cap(tr.items), window)
		}
	}
}
