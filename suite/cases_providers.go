package suite

// Cases of what only one provider has (issue 10): hCaptcha Enterprise's
// inverted score and its sitekey pinning, Turnstile's cdata and its
// idempotent retries.

import (
	"context"
	"fmt"
	"strings"

	"github.com/siteverify/siteverify/mockserver"
)

// provider is the target's provider.
func (e *Env) provider() *mockserver.Provider { return e.s.target.ProviderValue() }

// MaxScore is the endpoint's hCaptcha Enterprise risk threshold (0 for
// other kinds).
func (e *Env) MaxScore() float64 {
	if e.ep.MaxScore == nil {
		return 0
	}
	return *e.ep.MaxScore
}

// safeScore is an hCaptcha Enterprise score the endpoint must accept: 0.1,
// or 0 when the threshold is below 0.1.
func (e *Env) safeScore() float64 {
	if e.MaxScore() < 0.1 {
		return mockserver.ExactlyZero
	}
	return 0.1
}

func rejectRiskyScore(ctx context.Context, e *Env) error {
	limit := e.MaxScore()
	if limit >= 1 {
		return e.Skip("max_score is 1: the endpoint accepts every score, so no bot score can be sent")
	}
	spec := e.ValidSpec()
	spec.Score = min(1, max(0.9, limit+0.1))
	r, err := submitSpec(ctx, e, spec)
	if err != nil {
		return err
	}
	if err := e.Expect(r, Rejected); err != nil {
		f := err.(*Failure)
		if r.Class == Accepted {
			f.Actual += fmt.Sprintf(" (hCaptcha's score %v is a bot: 1 is the riskiest; read as reCAPTCHA's it looks human)", formatScore(spec.Score))
		}
		return f
	}
	return nil
}

func rejectCDataMismatch(ctx context.Context, e *Env) error {
	spec := e.ValidSpec()
	spec.CData = "another-session"
	if spec.CData == e.ep.CData {
		spec.CData = "yet-another-session"
	}
	r, err := submitSpec(ctx, e, spec)
	if err != nil {
		return err
	}
	return e.Expect(r, Rejected)
}

// submitSpec mints spec and submits it.
func submitSpec(ctx context.Context, e *Env, spec mockserver.TokenSpec) (Response, error) {
	tok, err := e.Mint(ctx, spec)
	if err != nil {
		return Response{}, err
	}
	return e.Submit(ctx, Submission{Token: tok})
}

func wireSendsSitekey(ctx context.Context, e *Env) error {
	_, _, calls, err := validCall(ctx, e)
	if err != nil {
		return err
	}
	c, err := firstCall(e, calls, "the sitekey")
	if err != nil {
		return err
	}
	switch got := c.Form.Get("sitekey"); got {
	case e.SiteKey():
		return nil
	case "":
		return e.Fail("sitekey="+e.SiteKey()+" in the siteverify call", "no sitekey: siteverify cannot pin the token to this site")
	default:
		return e.Fail("sitekey="+e.SiteKey()+" in the siteverify call", "sitekey %q", got)
	}
}

// wireIdempotentRetry makes Turnstile lose an answer after verifying the
// token (a reset), and then answer internal-error, and checks that every
// retry the backend makes carries the first call's idempotency_key.
func wireIdempotentRetry(ctx context.Context, e *Env) error {
	probes := []struct {
		rule mockserver.Rule
		what string
	}{
		{mockserver.Rule{Fault: mockserver.FaultReset, Spend: true}, "siteverify verifying the token and then resetting the connection (a lost answer)"},
		// Twice, so a backend that retries more than once shows its second
		// retry's key too.
		{mockserver.Rule{ErrorCodes: []string{mockserver.CodeInternalError}, Times: 2}, "siteverify answering internal-error twice"},
	}
	retried := false // by any probe
	for _, p := range probes {
		tok, err := e.MintValid(ctx)
		if err != nil {
			return err
		}
		p.rule.Match.Token = tok
		if err := e.Rule(ctx, p.rule); err != nil {
			return err
		}
		r, err := e.Submit(ctx, Submission{Token: tok, What: e.notes[tok] + ", " + p.what})
		if err != nil {
			return err
		}
		e.Settle(ctx)
		all, err := e.Calls(ctx, tok)
		if err != nil {
			return err
		}
		// Only the calls that carried this probe's token: tokenless calls
		// (the other probe's, or a token siteverify could not read) are no
		// retry of it.
		var calls []mockserver.Request
		for _, c := range all {
			if c.Token == tok {
				calls = append(calls, c)
			}
		}
		if len(calls) < 2 {
			continue
		}
		retried = true
		if !sameIdempotencyKey(calls) {
			return e.Fail("every retry with the first call's idempotency_key",
				"%s; the backend answered %s", describeKeys(calls), r)
		}
	}
	if !retried {
		return e.Skip("the backend did not retry after a lost answer or internal-error, so no retry's key could be seen")
	}
	return nil
}

// sameIdempotencyKey reports whether the calls all carry one non-empty
// idempotency_key: Turnstile's safe retry of a token, not a resend.
func sameIdempotencyKey(calls []mockserver.Request) bool {
	key := calls[0].Form.Get("idempotency_key")
	for _, c := range calls {
		if c.Form.Get("idempotency_key") != key {
			return false
		}
	}
	return key != ""
}

func describeKeys(calls []mockserver.Request) string {
	parts := make([]string, len(calls))
	for i, c := range calls {
		k := c.Form.Get("idempotency_key")
		if k == "" {
			k = "none"
		}
		parts[i] = fmt.Sprintf("call %d: idempotency_key %s (%s)", i+1, k, c.Outcome)
	}
	return strings.Join(parts, "; ")
}

// bodyTypeReadable reports whether the provider reads a siteverify body of
// this media type.
func (e *Env) bodyTypeReadable(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(strings.ToLower(mt))
	for _, t := range e.provider().RequestBodyTypes() {
		if mt == t {
			return true
		}
	}
	return false
}
