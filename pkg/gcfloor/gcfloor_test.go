package gcfloor

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestPercent(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		name               string
		floor, live, roots uint64
		want               int
	}{
		{"unknown live heap", 32 * mb, 0, 0, 100},
		{"small heap reaches the floor", 32 * mb, 4 * mb, 0, 700},
		{"roots count as Go counts them", 32 * mb, 4 * mb, 4 * mb, 350},
		{"half the floor", 32 * mb, 16 * mb, 0, 100},
		{"half the floor with roots", 32 * mb, 14 * mb, 4 * mb, 100},
		{"above the floor", 32 * mb, 40 * mb, 0, 100},
		{"just under half", 32 * mb, 15 * mb, 0, 113},
		{"tiny heap: the runtime's minimum decides", 32 * mb, 1, 0, 800},
		{"floor under the runtime's minimum", 2 * mb, 1, 0, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percent(tc.floor, tc.live, tc.roots); got != tc.want {
				t.Errorf("Percent(%d, %d, %d) = %d, want %d", tc.floor, tc.live, tc.roots, got, tc.want)
			}
		})
	}
}

func TestChanged(t *testing.T) {
	for _, tc := range []struct {
		cur, p int
		want   bool
	}{
		{100, 105, false}, {100, 120, true}, {700, 650, false}, {700, 600, true}, {700, 100, true}, {100, 100, false},
	} {
		if got := changed(tc.cur, tc.p); got != tc.want {
			t.Errorf("changed(%d, %d) = %v, want %v", tc.cur, tc.p, got, tc.want)
		}
	}
}

var sink []byte

// cycles counts the collections while mb MiB of garbage is allocated with
// almost nothing live.
func cycles(mb int) uint32 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range mb {
		sink = make([]byte, 1<<20)
	}
	sink = nil
	runtime.ReadMemStats(&after)
	return after.NumGC - before.NumGC
}

// A floor of 64 MiB makes a small heap collect about once per 64 MiB of
// garbage instead of once per few MiB, and Stop gives Go's rule back.
func TestFloorCollectsLessOften(t *testing.T) {
	if debug.SetGCPercent(100) != 100 {
		t.Skip("GOGC is set in the environment")
	}
	runtime.GC()
	plain := cycles(512)

	f := Keep(64 << 20)
	runtime.GC() // the floor applies from the collection after Keep
	runtime.GC()
	floored := cycles(512)
	f.Stop()
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("GOGC after Stop = %d, want 100", p)
	}
	runtime.GC()
	after := cycles(512)

	t.Logf("collections per 512 MiB of garbage: GOGC 100 %d, floor 64 MiB %d, after Stop %d", plain, floored, after)
	if plain < 32 {
		t.Fatalf("GOGC 100 collected %d times for 512 MiB with a tiny heap; the test's premise (about one per 4-8 MiB) is wrong", plain)
	}
	// One per 64 MiB is 8; fewer would mean the goal overshot the floor.
	if floored < 4 || floored > 20 {
		t.Errorf("with a 64 MiB floor: %d collections for 512 MiB, want 4 to 20", floored)
	}
	if after < 32 {
		t.Errorf("after Stop: %d collections for 512 MiB, want Go's own rule again (at least 32)", after)
	}
}
