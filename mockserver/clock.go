package mockserver

import (
	"sync/atomic"
	"time"
)

// clock is real time plus an offset that only moves forward. Real time keeps
// running so tokens expire on their own; the offset lets a test jump ahead.
type clock struct {
	offset atomic.Int64 // nanoseconds
}

func (c *clock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func (c *clock) reset() { c.offset.Store(0) }
