package mockserver

import (
	"fmt"
	"sync/atomic"
	"time"
)

// MaxTimeRange bounds every time input: the clock's total advance, and how
// far a token's issue time (IssuedAt, IssuedAgo) may lie from the mock's
// now. Within it no time arithmetic can overflow (time.Duration spans 292
// years, UnixNano ends in 2262). It is 100 years.
const MaxTimeRange = 100 * 365 * 24 * time.Hour

// clock is the wall time at start, plus the monotonic time elapsed since,
// plus an offset that only moves forward and stays within MaxTimeRange. Real
// time keeps running so tokens expire on their own; the offset lets a test
// jump ahead. Readings never go backwards (a wall-clock step does not move
// it) until reset; the spent set relies on that (see spentSet).
type clock struct {
	base   time.Time    // wall time at start, with its monotonic reading
	offset atomic.Int64 // nanoseconds, in [0, MaxTimeRange]
}

func (c *clock) start() { c.base = time.Now() }

// now reads the monotonic time first and the offset second, so two readings
// ordered by a lock are ordered in time.
func (c *clock) now() time.Time {
	elapsed := time.Since(c.base)
	return c.base.Add(elapsed + time.Duration(c.offset.Load()))
}

// advance moves the clock forward by d > 0, refusing to go beyond
// MaxTimeRange ahead of real time.
func (c *clock) advance(d time.Duration) error {
	for {
		old := time.Duration(c.offset.Load())
		if d > MaxTimeRange-old { // no overflow: old is in [0, MaxTimeRange]
			return fmt.Errorf("advance %v: the clock is %v ahead of real time and may be at most %v (100 years) ahead; reset it to start again", d, old, MaxTimeRange)
		}
		if c.offset.CompareAndSwap(int64(old), int64(old+d)) {
			return nil
		}
	}
}

func (c *clock) reset() { c.offset.Store(0) }

// checkIssuedAt reports an issue time too far from now for the clock's range.
func checkIssuedAt(issuedAt, now time.Time) error {
	// Sub saturates instead of overflowing, so any IssuedAt is safe here.
	if d := now.Sub(issuedAt); d > MaxTimeRange || d < -MaxTimeRange {
		return fmt.Errorf("issued_at %s: want within %v (100 years) of the mock's now, %s",
			issuedAt.Format(time.RFC3339), MaxTimeRange, now.UTC().Format(time.RFC3339))
	}
	return nil
}
