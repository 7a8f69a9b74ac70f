package mockserver

import (
	"testing"
	"time"
)

// The clock may be advanced exactly MaxTimeRange in all, in one step or in
// several, and not a nanosecond more; an advance moves it by exactly d.
func TestClockAdvanceLimitIsExact(t *testing.T) {
	var c clock
	c.start()
	if err := c.advance(MaxTimeRange); err != nil {
		t.Fatalf("advance by exactly MaxTimeRange: %v", err)
	}
	if err := c.advance(time.Nanosecond); err == nil {
		t.Fatal("advance by 1ns past MaxTimeRange succeeded")
	}
	c.reset()
	if err := c.advance(MaxTimeRange - time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.advance(time.Second); err != nil {
		t.Fatalf("advance to exactly MaxTimeRange in two steps: %v", err)
	}
	if got := time.Duration(c.offset.Load()); got != MaxTimeRange {
		t.Fatalf("offset %v after advances totalling %v", got, MaxTimeRange)
	}
}

// An issue time exactly MaxTimeRange before or after now is accepted; one
// nanosecond further is not.
func TestCheckIssuedAtLimitIsExact(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{now, now.Add(-MaxTimeRange), now.Add(MaxTimeRange)} {
		if err := checkIssuedAt(at, now); err != nil {
			t.Errorf("issued %v from now: %v", now.Sub(at), err)
		}
	}
	for _, at := range []time.Time{now.Add(-MaxTimeRange - time.Nanosecond), now.Add(MaxTimeRange + time.Nanosecond)} {
		if err := checkIssuedAt(at, now); err == nil {
			t.Errorf("issued %v from now: accepted, want an error", now.Sub(at))
		}
	}
}
