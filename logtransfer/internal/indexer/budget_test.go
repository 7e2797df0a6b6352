package indexer

import (
	"context"
	"testing"
	"time"
)

func TestBudget(t *testing.T) {
	b := NewBudget(100, nil)
	ctx := context.Background()
	if err := b.Acquire(ctx, 60); err != nil {
		t.Fatal(err)
	}
	if err := b.Acquire(ctx, 40); err != nil {
		t.Fatal(err)
	}
	// Full: the next one waits for a release.
	got := make(chan error, 1)
	go func() { got <- b.Acquire(ctx, 30) }()
	select {
	case err := <-got:
		t.Fatalf("Acquire over the budget returned %v at once", err)
	case <-time.After(100 * time.Millisecond):
	}
	b.Release(60)
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Acquire still waiting after a release made room")
	}
	if u := b.Used(); u != 70 {
		t.Errorf("used = %d, want 70", u)
	}
	// Cancellation ends a wait and takes nothing.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := b.Acquire(cctx, 50); err == nil {
		t.Error("Acquire over the budget succeeded")
	}
	if u := b.Used(); u != 70 {
		t.Errorf("used = %d after a cancelled Acquire, want 70", u)
	}
	// A record larger than the whole budget passes alone.
	b.Release(70)
	if err := b.Acquire(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	it := &Item{budget: b, charged: 1000}
	it.Release()
	it.Release() // twice: still given back once
	if u := b.Used(); u != 0 {
		t.Errorf("used = %d, want 0", u)
	}
}
