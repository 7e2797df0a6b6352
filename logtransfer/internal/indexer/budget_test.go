package indexer

import (
	"context"
	"testing"

	"github.com/logcollect/logcollect/pkg/budget"
)

// An item gives back exactly what it was charged, once, also when larger
// than the whole budget.
func TestItemChargeRelease(t *testing.T) {
	b := budget.New(100)
	ctx := context.Background()
	small, big := &Item{}, &Item{}
	if err := small.Charge(ctx, b, 60); err != nil {
		t.Fatal(err)
	}
	small.Release()
	small.Release() // twice: still given back once
	if u := b.InUse(); u != 0 {
		t.Fatalf("in use %d after release, want 0", u)
	}
	if err := big.Charge(ctx, b, 1000); err != nil {
		t.Fatal(err)
	}
	if u := b.InUse(); u != 100 {
		t.Fatalf("in use %d, want the whole budget 100", u)
	}
	big.Release()
	if u := b.InUse(); u != 0 {
		t.Fatalf("in use %d, want 0", u)
	}
	if err := (&Item{}).Charge(ctx, nil, 10); err != nil {
		t.Fatalf("no budget: %v", err)
	}
}
