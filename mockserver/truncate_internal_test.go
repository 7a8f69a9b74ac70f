package mockserver

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// truncate cuts before a rune that would be split, backing off over at most
// utf8.UTFMax-1 continuation bytes; on invalid UTF-8 (a longer run of
// continuation bytes) it gives up after three, and it never cuts before the
// first byte.
func TestTruncateBacksOffToRuneStart(t *testing.T) {
	cont := string([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80})
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		// A 4-byte rune that the limit would cut after its first byte, then after its third.
		{"abcd" + "😀" + strings.Repeat("z", 40), 4 + 1 + len(truncMark), "abcd" + truncMark},
		{"abcd" + "😀" + strings.Repeat("z", 40), 4 + 3 + len(truncMark), "abcd" + truncMark},
		{"abcd" + "😀" + strings.Repeat("z", 40), 4 + 4 + len(truncMark), "abcd😀" + truncMark},
		// Invalid UTF-8: at most three bytes of back-off.
		{"abcd" + cont + strings.Repeat("z", 40), 4 + 6 + len(truncMark), "abcd" + cont[:3] + truncMark},
		// Nothing before the cut but continuation bytes: cut at the start.
		{cont[:2] + strings.Repeat("z", 40), 1 + len(truncMark), truncMark},
	} {
		if got := truncate(tc.s, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

// A limit that leaves no room for the marker cuts without it, and keep
// copies then too; a value of exactly the limit is kept whole, as a copy.
func TestTruncateShortLimits(t *testing.T) {
	long := strings.Repeat("v", 100)
	for _, n := range []int{1, len(truncMark) - 1, len(truncMark)} {
		if got := truncate(long, n); got != long[:n] {
			t.Errorf("truncate(100 bytes, %d) = %q, want the first %d bytes", n, got, n)
		}
		if got := keep(long, n); got != long[:n] || within(got, long) {
			t.Errorf("keep(100 bytes, %d) = %q: want a copy of the first %d bytes", n, got, n)
		}
	}
	if got := truncate(long, len(truncMark)+1); got != "v"+truncMark {
		t.Errorf("truncate(100 bytes, %d) = %q, want one byte and the marker", len(truncMark)+1, got)
	}
	if got := truncate(long, len(long)); got != long {
		t.Errorf("truncate of a value exactly at its limit: %q; want it whole", got)
	}
	if got := keep(long, len(long)); got != long || within(got, long) {
		t.Errorf("keep of a value exactly at its limit: %q; want it whole, as a copy", got)
	}
	if !utf8.ValidString(truncate("é"+long, len(truncMark)+1)) {
		t.Error("truncate split a rune")
	}
}

// containsFold is an ASCII case-insensitive Contains for any lower-case
// needle, at every position, including the edges of the alphabet.
func TestContainsFold(t *testing.T) {
	for _, tc := range []struct {
		s, needle string
		want      bool
	}{
		{"A", "a", true}, {"Z", "z", true}, {"@", "`", false}, {"[", "{", false},
		{"xxAZ", "az", true}, {"AZxx", "az", true}, {"az", "az", true}, {"a", "az", false},
		{"", "", true}, {"abc", "", true}, {"", "a", false}, {"ab", "abc", false},
		{"SeCrEt", "secret", true}, {"secre", "secret", false}, {"xsecrex", "secret", false},
		{"éSECRET", "secret", true}, {"sécret", "secret", false},
	} {
		if got := containsFold(tc.s, tc.needle); got != tc.want {
			t.Errorf("containsFold(%q, %q) = %v, want %v", tc.s, tc.needle, got, tc.want)
		}
	}
}
