package suite

import (
	"bytes"
	"strings"
	"testing"
)

// TestTailBufferBounded writes far more than the buffer keeps, in writes
// smaller and larger than it, and checks that the memory held stays at the
// bound and the tail is exactly the last bytes written.
func TestTailBufferBounded(t *testing.T) {
	const max = 1000
	b := newTailBuffer(max)
	var all bytes.Buffer
	for i, size := range []int{1, 7, 999, 1000, 1001, 4096, 3, 250000, 17} {
		chunk := bytes.Repeat([]byte{byte('a' + i)}, size)
		chunk[len(chunk)-1] = '\n'
		if n, err := b.Write(chunk); n != size || err != nil {
			t.Fatalf("Write(%d bytes) = %d, %v", size, n, err)
		}
		all.Write(chunk)
		if cap(b.ring) != max || b.size > max {
			t.Fatalf("after a %d-byte write: ring cap %d, size %d; want cap %d, size <= %d", size, cap(b.ring), b.size, max, max)
		}
		want := all.Bytes()
		if len(want) > max {
			want = want[len(want)-max:]
		}
		if got := b.bytes(); !bytes.Equal(got, want) {
			t.Fatalf("after a %d-byte write: tail differs (got %d bytes, want %d)", size, len(got), len(want))
		}
	}
	if want := int64(all.Len() - max); b.dropped != want {
		t.Errorf("dropped = %d, want %d", b.dropped, want)
	}
	if s := b.String(); !strings.HasPrefix(s, "[") || !strings.Contains(s, "earlier bytes dropped]") {
		t.Errorf("String() does not say bytes were dropped: %.60q", s)
	}
}

func TestTailBufferLastLines(t *testing.T) {
	b := newTailBuffer(1 << 10)
	for i := range 30 {
		b.Write([]byte(strings.Repeat("x", i) + "\n"))
	}
	got := strings.Split(b.lastLines(0, 3, 1<<10), "\n")
	if len(got) != 3 || got[2] != strings.Repeat("x", 29) || got[0] != strings.Repeat("x", 27) {
		t.Errorf("lastLines(3) = %q", got)
	}
	if s := b.lastLines(0, 100, 10); len(s) > 10+len("…") {
		t.Errorf("lastLines(0, 100, 10) returned %d bytes", len(s))
	}
	off := b.total()
	b.Write([]byte("after\n"))
	if s := b.lastLines(off, 100, 1<<10); s != "after" {
		t.Errorf("lastLines since an offset = %q, want only what came after it", s)
	}
}
