package mockserver_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// A named token issued exactly its lifetime ago is expired; a second less is
// not. Its challenge_ts is now minus IssuedAgo, to the second.
func TestNamedTokenExpiresAtItsLifetime(t *testing.T) {
	s := mockserver.New(t, mockserver.WithOptions(mockserver.Options{Tokens: []mockserver.NamedToken{
		{Token: "at-lifetime", Reusable: true, Spec: mockserver.TokenSpec{IssuedAgo: mockserver.DefaultTokenLifetime}},
		{Token: "at-own-lifetime", Reusable: true, Spec: mockserver.TokenSpec{Lifetime: time.Hour, IssuedAgo: time.Hour}},
		{Token: "just-alive", Reusable: true, Spec: mockserver.TokenSpec{Lifetime: time.Hour, IssuedAgo: time.Hour - time.Second}},
	}}))
	secret := s.Site().Secret
	wantCodes(t, post(t, s, secret, "at-lifetime"), "timeout-or-duplicate")
	wantCodes(t, post(t, s, secret, "at-own-lifetime"), "timeout-or-duplicate")
	before := s.Now()
	a := post(t, s, secret, "just-alive")
	after := s.Now()
	wantSuccess(t, a)
	ts, err := time.Parse(time.RFC3339, *a.ChallengeTS)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := before.Add(-time.Hour+time.Second).Truncate(time.Second), after.Add(-time.Hour+time.Second)
	if ts.Before(lo) || ts.After(hi) {
		t.Fatalf("challenge_ts %v, want now minus 59m59s (between %v and %v)", ts, lo, hi)
	}
}

// sendUnsized posts body with no Content-Length (as a chunked request
// arrives), so the handler reads it through its size limit.
func sendUnsized(t *testing.T, s *mockserver.Server, body string) answer {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, mockserver.VerifyPath, nil)
	req.Body, req.ContentLength = io.NopCloser(strings.NewReader(body)), -1
	req.Header.Set("Content-Type", formCT)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return answer{raw: rec.Body.String(), status: rec.Code, Success: strings.Contains(rec.Body.String(), `"success": true`)}
}

// The 64 KiB body limit is exact whether or not the client sends a
// Content-Length: a body of exactly 64 KiB is read whole (its last byte
// included), one byte more is bad-request.
func TestBodyLimitIsExactWithoutContentLength(t *testing.T) {
	s := mockserver.New(t)
	secret := s.Site().Secret
	const limit = 64 << 10
	body := func(size int, tok string) string {
		head := "secret=" + secret + "&pad="
		return head + strings.Repeat("p", size-len(head)-len("&response=")-len(tok)) + "&response=" + tok
	}
	tok := issue(t, s, mockserver.TokenSpec{})
	if a := sendUnsized(t, s, body(limit, tok)); !a.Success {
		t.Fatalf("a %d-byte body without Content-Length: %s, want success (the token is its last bytes)", limit, a.raw)
	}
	tok = issue(t, s, mockserver.TokenSpec{})
	if a := sendUnsized(t, s, body(limit+1, tok)); a.Success || !strings.Contains(a.raw, "bad-request") {
		t.Fatalf("a %d-byte body without Content-Length: %s, want bad-request", limit+1, a.raw)
	}
	// The same with a Content-Length.
	tok = issue(t, s, mockserver.TokenSpec{})
	wantSuccess(t, call(t, s, http.MethodPost, mockserver.VerifyPath, formCT, body(limit, tok)))
	tok = issue(t, s, mockserver.TokenSpec{})
	if a := call(t, s, http.MethodPost, mockserver.VerifyPath, formCT, body(limit+1, tok)); a.Success || !strings.Contains(a.raw, "bad-request") {
		t.Fatalf("a %d-byte body with Content-Length: %s, want bad-request", limit+1, a.raw)
	}
}
