package mockserver

import (
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"
)

// within reports whether sub's bytes lie inside s's memory.
func within(sub, s string) bool {
	if len(sub) == 0 || len(s) == 0 {
		return false
	}
	p, lo := uintptr(unsafe.Pointer(unsafe.StringData(sub))), uintptr(unsafe.Pointer(unsafe.StringData(s)))
	return p >= lo && p < lo+uintptr(len(s))
}

// TestKeepCopiesAndTruncatesFirst checks the journal's copy: what it keeps
// never shares memory with the request, and is at most n bytes, marker
// included, cut at a rune boundary.
func TestKeepCopiesAndTruncatesFirst(t *testing.T) {
	body := strings.Repeat("x", 100) + strings.Repeat("é", 400) // 'é' is 2 bytes
	for _, tc := range []struct {
		s string
		n int
	}{{body[:10], 512}, {body[:100], 100}, {body, 512}, {body, 64}, {body[:101], 64}, {body[90:], 30}, {body, 5}} {
		got := keep(tc.s, tc.n)
		if within(got, body) {
			t.Errorf("keep(len %d, %d) shares the request's memory", len(tc.s), tc.n)
		}
		if len(got) > tc.n {
			t.Errorf("keep(len %d, %d) is %d bytes", len(tc.s), tc.n, len(got))
		}
		if len(tc.s) <= tc.n && got != tc.s {
			t.Errorf("keep(%q, %d) = %q, want it whole", tc.s, tc.n, got)
		}
		if len(tc.s) > tc.n && tc.n > len(truncMark) && (!strings.HasSuffix(got, truncMark) || !utf8.ValidString(got)) {
			t.Errorf("keep(len %d, %d) = %q: want a valid prefix and the marker", len(tc.s), tc.n, got)
		}
	}
}

// TestRedactorRecordsCopies checks every value the journal takes from a
// parsed request: none may point into the request's memory.
func TestRedactorRecordsCopies(t *testing.T) {
	s, err := NewServer(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	body := "response=" + strings.Repeat("t", 600) + "&remoteip=192.0.2.7&note=hello&" + strings.Repeat("k", 80) + "=v"
	form, err := parseForm(body)
	if err != nil {
		t.Fatal(err)
	}
	rd := s.newRedactor("", "")
	tok := rd.remember(0, form.Get("response"), MaxTokenLength)
	ip := rd.remember(1, form.Get("remoteip"), journalMaxFieldBytes)
	_, f := rd.params(nil, form)
	kept := []string{tok, ip}
	for k, vs := range f {
		kept = append(kept, k)
		kept = append(kept, vs...)
	}
	for _, v := range kept {
		if within(v, body) {
			t.Errorf("recorded %q points into the request body", truncate(v, 40))
		}
	}
	if f.Get("response") != tok || unsafe.StringData(f.Get("response")) != unsafe.StringData(tok) {
		t.Error("the token in the form and in Token should be one copy")
	}
}

// TestSecretLengthBound ties maxSecretLength to Site.validate: the redactor
// skips its lookup for longer values, so no longer secret may register.
func TestSecretLengthBound(t *testing.T) {
	ok := Site{SiteKey: "6Lsite", Secret: strings.Repeat("s", maxSecretLength)}
	tooLong := Site{SiteKey: "6Lsite", Secret: strings.Repeat("s", maxSecretLength+1)}
	if ok.validate() != nil || tooLong.validate() == nil {
		t.Fatalf("Site.validate must accept secrets of %d bytes and refuse longer ones", maxSecretLength)
	}
}

func TestNamesSecret(t *testing.T) {
	for k, want := range map[string]bool{"secret": true, "Secret": true, "SECRET": true, "secret_key": true,
		"recaptchaSecret": true, "response": false, "remoteip": false, "secre": false, "": false,
		strings.Repeat("x", 300) + "Secret": true} {
		if namesSecret(k) != want {
			t.Errorf("namesSecret(%.20q) = %v, want %v", k, !want, want)
		}
	}
}
