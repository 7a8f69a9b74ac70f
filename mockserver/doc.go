// Package mockserver is a programmable, wire-faithful stand-in for the
// siteverify endpoints of Google reCAPTCHA
// (https://www.google.com/recaptcha/api/siteverify), hCaptcha
// (https://api.hcaptcha.com/siteverify) and Cloudflare Turnstile
// (https://challenges.cloudflare.com/turnstile/v0/siteverify), all three at
// once, each on its real path. What differs between them is a [Provider].
//
// A test mints tokens with the exact score, action, hostname and age it needs,
// points the code under test at [Server.VerifyURL], and reads back what that
// code sent from the request journal. Scripted [Rule]s make the mock misbehave
// the way a real provider does during an outage: HTTP 503, an HTML error page,
// malformed or truncated JSON, a reset connection, a hang.
//
// In a Go test:
//
//	s := mockserver.New(t)
//	iss, err := s.Issue(t.Context(), mockserver.TokenSpec{Kind: mockserver.V3, Score: 0.3, Action: "login"})
//	// ... call the code under test with s.VerifyURL(), s.Site().Secret and iss.Token ...
//	j, err := s.Journal(t.Context())
//	for _, e := range j.Entries { t.Log(e.Outcome) }
//
// The same state is reachable over HTTP under /__admin/ (see [Server.Handler])
// and from another process through [Dial]; both satisfy [Mock].
//
// Tokens are self-describing and signed (claims plus an HMAC under a
// per-server key), so issuing a token costs no memory; only tokens that have
// been verified are remembered, and only until they would have expired.
//
// The clock is real time plus an offset that [Server.Advance] moves forward,
// so tokens expire on their own (after two minutes for reCAPTCHA) and a test
// can make them expire at once without sleeping.
//
// This package imports the standard library only.
package mockserver
