package suite

import (
	"strings"
	"testing"
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
