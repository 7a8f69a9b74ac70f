package mockserver

import (
	"testing"
	"time"
)

// A sweep forgets exactly the entries expired at its reading: one expiring
// at that very millisecond goes, one a millisecond later stays.
func TestSpentSweepBoundary(t *testing.T) {
	const n = 1_800_000_000_000 // unix milliseconds
	sh := spentShard{expiry: map[[16]byte]int64{{1}: n - 1, {2}: n, {3}: n + 1}}
	sh.sweep(time.UnixMilli(n).Add(999 * time.Microsecond))
	if _, ok := sh.expiry[[16]byte{3}]; !ok || len(sh.expiry) != 1 {
		t.Fatalf("after a sweep at %d ms the shard holds %v, want only the entry expiring at %d", n, sh.expiry, n+1)
	}
}

// The amortised clean-up runs as soon as the shard holds nextSweep entries,
// not one later, and then waits until the shard has doubled (at least 1024).
func TestSpentSweepRunsAtThreshold(t *testing.T) {
	var clk clock
	clk.start()
	var set spentSet
	sh := &set.shards[0]
	past := clk.now().Add(-time.Hour).UnixMilli()
	sh.expiry = map[[16]byte]int64{{0, 1}: past, {0, 2}: past, {0, 3}: past}
	sh.nextSweep = 3
	if r := set.spend([16]byte{0, 4}, clk.now().Add(time.Hour), &clk, ""); r != spendFresh {
		t.Fatalf("spend: %v", r)
	}
	if len(sh.expiry) != 1 || sh.nextSweep != 1024 {
		t.Fatalf("shard at its threshold holds %d entries (next sweep at %d) after a spend, want the 3 expired ones swept (1, next at 1024)",
			len(sh.expiry), sh.nextSweep)
	}
	live := clk.now().Add(time.Hour).UnixMilli()
	for i := range 600 {
		sh.expiry[[16]byte{0, 5, byte(i), byte(i >> 8)}] = live
	}
	sh.sweep(clk.now())
	if sh.nextSweep != 2*601 {
		t.Fatalf("after a sweep keeping 601 live entries the next is at %d, want %d", sh.nextSweep, 2*601)
	}
}
