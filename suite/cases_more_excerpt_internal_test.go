package suite

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// TestOutageLeakExcerpt checks the excerpts LEAK-002 quotes in a failure:
// 30 bytes of context either side, whole runes, the secret redacted, and a
// leak found at an answer's first byte too.
func TestOutageLeakExcerpt(t *testing.T) {
	p := outageLeak{verifyHost: "127.0.0.1:40123", secret: "6LcSecretSecretSecret", probeCode: "leak-probe-abcdef"}
	a30, b30 := strings.Repeat("a", 30), strings.Repeat("b", 30)
	tests := []struct {
		s    string
		i, j int
		want string
	}{
		{strings.Repeat("a", 40) + "CODE" + strings.Repeat("b", 40), 40, 44, a30 + "CODE" + b30},
		// 30 bytes back lands inside "é" (2 bytes): the excerpt starts at it.
		{"xé" + strings.Repeat("a", 29) + "CODE", 32, 36, "é" + strings.Repeat("a", 29) + "CODE"},
		// 30 bytes on lands inside "€" (3 bytes): the excerpt ends after it.
		{"CODE" + strings.Repeat("b", 29) + "€y", 0, 4, "CODE" + strings.Repeat("b", 29) + "€"},
		// A stray continuation byte at the start: the excerpt stops there.
		{"\x80CODE", 1, 5, "\x80CODE"},
		{"key 6LcSecretSecretSecret here: CODE", 32, 36, "y [secret] here: CODE"},
	}
	for _, tt := range tests {
		if got := p.excerpt(tt.s, tt.i, tt.j); got != tt.want {
			t.Errorf("excerpt(%q, %d, %d) = %q, want %q", tt.s, tt.i, tt.j, got, tt.want)
		}
	}
	for body, want := range map[string]string{
		"leak-probe-abcdef":                         `siteverify's error code ("leak-probe-abcdef")`,
		"127.0.0.1:40123 refused":                   `the siteverify URL ("127.0.0.1:40123 refused")`,
		"api/siteverify " + strings.Repeat("x", 40): `the siteverify URL ("api/siteverify ` + strings.Repeat("x", 29) + `")`,
	} {
		got := strings.Join(p.find(Response{Status: http.StatusServiceUnavailable, Body: []byte(body)}), "; ")
		if got != want {
			t.Errorf("find(%q) = %q, want %q", body, got, want)
		}
	}
}

// TestEnvDescribeCalls checks how WIRE-009 lists a token's calls: in the
// order they arrived, numbered from 1.
func TestEnvDescribeCalls(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	calls := []mockserver.Request{{Time: t0.Add(time.Second), Outcome: "success"}, {Time: t0, Outcome: "interrupted"}}
	if got, want := describeCalls(calls), "call 1: interrupted; call 2: success"; got != want {
		t.Errorf("describeCalls = %q, want %q", got, want)
	}
}

// TestEnvDescribeKeys checks how WIRE-010's failure lists the calls'
// idempotency keys: numbered from 1, "none" for a call without one.
func TestEnvDescribeKeys(t *testing.T) {
	calls := []mockserver.Request{
		{Form: url.Values{"idempotency_key": {"k-1"}}, Outcome: "reset"},
		{Form: url.Values{}, Outcome: "success"},
	}
	if got, want := describeKeys(calls), "call 1: idempotency_key k-1 (reset); call 2: idempotency_key none (success)"; got != want {
		t.Errorf("describeKeys = %q, want %q", got, want)
	}
}

// TestEnvSurvivalAnswer checks OUTAGE-009's words for the answer a fresh
// token got: "no longer answers" only when there was no answer.
func TestEnvSurvivalAnswer(t *testing.T) {
	refused := Response{Status: http.StatusServiceUnavailable, Body: []byte(`{"error":"captcha-unavailable"}`), Class: Rejected}
	if got := survivalAnswer(refused); got != refused.String() {
		t.Errorf("an answered refusal: %q, want %q", got, refused.String())
	}
	gone := Response{Err: errors.New("connection refused"), Duration: 3 * time.Millisecond}
	if got, want := survivalAnswer(gone), gone.String()+": the backend no longer answers"; got != want {
		t.Errorf("no answer: %q, want %q", got, want)
	}
}

// TestEnvFindSecret checks the secret search of LEAK-003 and ENT-006:
// found at an answer's first byte too, right after a prefix when one is
// given, URL-encoded too, and quoted redacted with 30 bytes of context.
func TestEnvFindSecret(t *testing.T) {
	const secret = "6LcSecret+Value/0123"
	if x, ok := findSecret(secret+" leaked", secret); !ok || x != "[secret] leaked" {
		t.Errorf("at the first byte: %q, %v", x, ok)
	}
	s := strings.Repeat("a", 40) + "GET /v1?key=" + secret + "&x=" + strings.Repeat("b", 40)
	if x, ok := findSecret(s, secret, "?key=", "&key="); !ok || x != strings.Repeat("a", 23)+"GET /v1?key=[secret]&x="+strings.Repeat("b", 27) {
		t.Errorf("after a prefix: %q, %v", x, ok)
	}
	if x, ok := findSecret("key "+secret, secret, "?key="); ok {
		t.Errorf("without the prefix: found %q", x)
	}
	if x, ok := findSecret("secret=6LcSecret%2BValue%2F0123&response=t", secret); !ok || x != "secret=[secret]&response=t" {
		t.Errorf("URL-encoded: %q, %v", x, ok)
	}
}
