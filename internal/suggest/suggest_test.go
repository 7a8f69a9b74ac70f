package suggest

import "testing"

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"addr", "addr", 0}, {"adr", "addr", 1}, {"acton", "action", 1},
		{"timeuot", "timeout", 2}, {"kitten", "sitting", 3}, {"", "abc", 3},
	} {
		if got := Distance(c.a, c.b); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
	long := string(make([]byte, 65))
	if got := Distance(long, "x"); got != 64 {
		t.Errorf("Distance of a 65-byte word = %d, want the 64 cap", got)
	}
}
