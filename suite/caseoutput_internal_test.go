package suite

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTailBufferBetween(t *testing.T) {
	b := newTailBuffer(16)
	b.Write([]byte("start\n")) // 6
	m1 := b.total()
	b.Write([]byte("case1\n")) // 12
	m2 := b.total()
	if got := b.between(m1, m2, 100); got != "case1\n" {
		t.Errorf("between = %q", got)
	}
	if got := b.between(m2, m2, 100); got != "" {
		t.Errorf("empty range = %q", got)
	}
	b.Write([]byte("case2 long line\n")) // 28: the ring holds the last 16 bytes
	m3 := b.total()
	if got := b.between(m2, m3, 100); got != "case2 long line\n" {
		t.Errorf("between = %q", got)
	}
	if got := b.between(m1, m2, 100); got != "[6 bytes no longer held]" {
		t.Errorf("a range no longer held = %q", got)
	}
	if got := b.between(m2, m3, 5); !strings.HasPrefix(got, "[11 earlier bytes of this case dropped]\n") || !strings.HasSuffix(got, "line\n") {
		t.Errorf("capped = %q", got)
	}
	if got := b.between(m2, m3+100, 100); got != "case2 long line\n" {
		t.Errorf("end beyond what was written = %q", got)
	}
}

// TestTailBufferWaitQuiet checks the wait for a backend's late log lines
// deterministically: the lines appear while waitQuiet pauses, as a
// backend's do a moment after its answer.
func TestTailBufferWaitQuiet(t *testing.T) {
	// Two late lines, one per pause, then quiet: both are waited for, and
	// the wait ends at the first look that finds nothing new.
	b := newTailBuffer(1 << 10)
	b.Write([]byte("answered\n"))
	var pauses []time.Duration
	b.pause = func(d time.Duration) {
		pauses = append(pauses, d)
		if len(pauses) <= 2 {
			fmt.Fprintf(b, "late line %d\n", len(pauses))
		}
	}
	end := b.waitQuiet(context.Background(), 7*time.Millisecond, time.Hour)
	if end != b.total() || b.String() != "answered\nlate line 1\nlate line 2\n" {
		t.Errorf("waitQuiet = %d with %q written (%d bytes); want both late lines", end, b.String(), b.total())
	}
	if want := []time.Duration{7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond}; !slices.Equal(pauses, want) {
		t.Errorf("pauses %v, want %v: one poll interval per look, until a look finds nothing new", pauses, want)
	}

	// A run that is over does not wait.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	pauses = nil
	if end := b.waitQuiet(ctx, time.Millisecond, time.Hour); end != b.total() || len(pauses) != 0 {
		t.Errorf("cancelled: waitQuiet = %d after %d pauses; want %d at once", end, len(pauses), b.total())
	}

	// A backend that never stops writing is waited for at most max.
	b.pause = func(d time.Duration) { time.Sleep(d); b.Write([]byte("x")) }
	if end := b.waitQuiet(context.Background(), time.Millisecond, 20*time.Millisecond); end == 0 {
		t.Errorf("endless output: waitQuiet = %d", end)
	}

	// Both settle windows are looked at several times.
	for _, w := range []struct{ window, poll time.Duration }{{outputSettleMax, outputQuiet}, {outputSettle, outputPoll}} {
		if w.poll <= 0 || w.window/w.poll < 5 {
			t.Errorf("a settle window of %v looked at every %v: want a positive poll, 5 looks or more", w.window, w.poll)
		}
	}
}
