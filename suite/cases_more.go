package suite

// Cases added for issue 9 (REJECT-015, WIRE-009, LEAK-002), kept apart from
// cases.go so that their checks read as one block.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// ---- REJECT-015: a v3 answer without an action ----

// rejectMissingAction answers a valid v3 token with success, a high score
// and the allowed hostname, but no action: what a backend sees if it
// guesses the key type from the answer's fields and takes an answer
// without an action for a v2 one.
func rejectMissingAction(ctx context.Context, e *Env) error {
	body := fmt.Sprintf("{\n  \"success\": true,\n  \"challenge_ts\": %q,\n  \"hostname\": %q,\n  \"score\": %s\n}",
		time.Now().UTC().Format("2006-01-02T15:04:05Z"), e.Name(), formatScore(e.HighScore()))
	r, err := submitWithAnswer(ctx, e, mockserver.Rule{Body: body},
		fmt.Sprintf("success:true, score %s, hostname %q and no action", formatScore(e.HighScore()), e.Name()))
	if err != nil {
		return err
	}
	if err := e.Expect(r, Rejected); err != nil {
		f := err.(*Failure)
		if r.Class == Accepted {
			f.Actual += " (an answer without an action was judged without the action check, as if it came from a v2 key)"
		}
		return f
	}
	return nil
}

// ---- WIRE-009: no resend after a timeout ----

// timeoutDelay is how much longer than answer_within the mock holds the
// first call of WIRE-009 before it answers normally: a backend that gives
// up within its declared time has given up by then.
const timeoutDelay = hangMargin / 2

// wireNoRetryAfterTimeout holds the token's first siteverify call for
// longer than the backend may wait (answer_within plus timeoutDelay), then
// answers it normally; later calls are answered at once. A backend that
// times out and sends the token again (itself, or through an HTTP client
// that retries idempotent requests, as Ruby's Net::HTTP does) makes a
// second call.
func wireNoRetryAfterTimeout(ctx context.Context, e *Env) error {
	within := e.AnswerWithin()
	tok, err := e.MintValid(ctx)
	if err != nil {
		return err
	}
	delay := within + timeoutDelay
	if err := e.Rule(ctx, mockserver.Rule{Match: mockserver.Match{Token: tok}, Delay: delay}); err != nil {
		return err
	}
	ruleID := e.rules[len(e.rules)-1]
	r, err := e.Submit(ctx, Submission{Token: tok, Timeout: delay + hangMargin,
		What: e.notes[tok] + fmt.Sprintf(", siteverify holding the first call for %v", delay)})
	if err != nil {
		return err
	}
	// The held call is journaled when it ends: when the backend hangs up
	// or, at the latest, when the delay runs out (measured from its
	// arrival, after the submission started). Wait for it, then for late
	// calls.
	var calls []mockserver.Request
	for deadline := time.Now().Add(max(0, delay-r.Duration) + time.Second); ; {
		e.Settle(ctx)
		if calls, err = e.Calls(ctx, tok); err != nil {
			return err
		}
		if heldCall(calls, ruleID) != nil || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
	}
	held := heldCall(calls, ruleID)
	// The backend gave up on the held call if it hung up, or if it
	// answered before the mock could have answered that call.
	gaveUp := held != nil && strings.Contains(held.Outcome, "interrupted") || r.Err == nil && r.Duration < delay
	switch {
	case len(calls) > 1:
		return e.Fail("exactly 1 siteverify call for the token",
			"%d calls: after its call timed out the backend sent the token again (%s)", len(calls), describeCalls(calls))
	case len(calls) == 0:
		return e.Fail("exactly 1 siteverify call for the token", "no siteverify call for the token (%s)", r)
	case !gaveUp:
		return e.Skip("the backend did not give up on the held call (it waited %v for it, %s), so no resend after a timeout could be seen; OUTAGE-007 judges the wait",
			r.Duration.Round(time.Millisecond), r)
	}
	return nil
}

// heldCall returns the call the rule answered, or nil.
func heldCall(calls []mockserver.Request, ruleID string) *mockserver.Request {
	for i := range calls {
		if calls[i].Rule == ruleID {
			return &calls[i]
		}
	}
	return nil
}

// describeCalls lists calls in arrival order, with their outcomes, for a
// failure message.
func describeCalls(calls []mockserver.Request) string {
	calls = slices.Clone(calls)
	slices.SortStableFunc(calls, func(a, b mockserver.Request) int { return a.Time.Compare(b.Time) })
	parts := make([]string, len(calls))
	for i, c := range calls {
		parts[i] = fmt.Sprintf("call %d: %s", i+1, c.Outcome)
	}
	return strings.Join(parts, "; ")
}

// ---- LEAK-002: nothing of the error in outage answers ----

// stackTrace matches stack frames of common runtimes.
var stackTrace = []*regexp.Regexp{
	regexp.MustCompile(`goroutine \d+ \[[a-zA-Z ,0-9]+\]:`),             // Go
	regexp.MustCompile(`\.go:\d+ \+0x[0-9a-f]+`),                        // Go frame
	regexp.MustCompile(`Traceback \(most recent call last\)`),           // Python
	regexp.MustCompile(`File "[^"\n]+", line \d+`),                      // Python frame
	regexp.MustCompile(`[\w/\\.@-]+\.(?:js|mjs|cjs|ts):\d+:\d+`),        // Node frame
	regexp.MustCompile(`\bnode:internal/`),                              // Node internals
	regexp.MustCompile(`\.rb:\d+:in `),                                  // Ruby frame
	regexp.MustCompile(`\.php(?:\(\d+\)|:\d+| on line \d+)`),            // PHP
	regexp.MustCompile(`Stack trace:|#\d+ \{main\}`),                    // PHP
	regexp.MustCompile(`\bat [\w$.]+\([\w$]+\.(?:java|kt|scala):\d+\)`), // JVM frame
	regexp.MustCompile(`\.cs:line \d+`),                                 // .NET frame
}

// exceptionText matches exception names and the messages of transport and
// JSON errors in common runtimes.
var exceptionText = []*regexp.Regexp{
	regexp.MustCompile(`\b[A-Z][A-Za-z0-9]*(?:Error|Exception)\b(?::|\()`), // TypeError: …, JSONDecodeError: …
	regexp.MustCompile(`\b[A-Z][A-Za-z0-9]*::[A-Z][A-Za-z0-9]*`),           // JSON::ParserError, Errno::ECONNRESET
	regexp.MustCompile(`\bUncaught\b`),
	regexp.MustCompile(`(?i)connection reset|\bECONN(?:RESET|REFUSED|ABORTED)\b|\bETIMEDOUT\b|socket hang up|broken pipe|unexpected EOF|\bEOFError\b`),
	regexp.MustCompile(`(?i)unexpected end of JSON input|invalid character '.{1,4}' looking for|Unexpected token .{1,6}(?:in JSON|is not valid JSON)|is not valid JSON|Expecting value: line \d+|unexpected token at '`),
}

// siteverifyAnswer matches parts of the answers LEAK-002 scripts: Google's
// HTML error page (its apostrophe raw, or escaped for HTML or JSON) and
// the malformed JSON's field.
var siteverifyAnswer = []*regexp.Regexp{
	regexp.MustCompile(`That(?:’|'|&#39;|&#x27;|&rsquo;|&#8217;|\\u2019|\\u0027)s an error`),
	regexp.MustCompile(`Please try again in 30 seconds|!!1`),
	regexp.MustCompile(`challenge_ts`),
}

// outageLeak finds what an answer shows of a failed verification.
type outageLeak struct {
	verifyHost string // host:port of the verify URL
	secret     string // redacted from excerpts
	probeCode  string // error code of the 503 answer
}

func (p outageLeak) find(r Response) []string {
	s := r.visibleText()
	var found []string
	first := func(what string, res []*regexp.Regexp) {
		for _, re := range res {
			if loc := re.FindStringIndex(s); loc != nil {
				found = append(found, fmt.Sprintf("%s (%q)", what, p.excerpt(s, loc[0], loc[1])))
				return
			}
		}
	}
	first("a stack trace", stackTrace)
	first("exception text", exceptionText)
	first("siteverify's answer", siteverifyAnswer)
	if i := strings.Index(s, p.probeCode); p.probeCode != "" && i >= 0 {
		found = append(found, fmt.Sprintf("siteverify's error code (%q)", p.excerpt(s, i, i+len(p.probeCode))))
	}
	for _, u := range []string{p.verifyHost, "api/siteverify"} {
		if i := strings.Index(s, u); u != "" && i >= 0 {
			found = append(found, fmt.Sprintf("the siteverify URL (%q)", p.excerpt(s, i, i+len(u))))
			break
		}
	}
	return found
}

// excerpt returns s[i:j] with up to 30 bytes of context either side, the
// secret redacted.
func (p outageLeak) excerpt(s string, i, j int) string {
	i, j = max(0, i-30), min(len(s), j+30)
	for i > 0 && !isRuneStart(s[i]) {
		i--
	}
	for j < len(s) && !isRuneStart(s[j]) {
		j++
	}
	x := s[i:j]
	if p.secret != "" {
		x = strings.ReplaceAll(x, p.secret, "[secret]")
	}
	return x
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// leakNothingOnOutage scripts the siteverify failures that a backend
// survives with an answer (an HTTP 500 or 503, an HTML page, malformed
// JSON) and looks for the failure in each answer: a stack trace, exception
// text, the siteverify URL or siteverify's own answer. Transport faults
// (reset, truncation, hang) are left out: several real backends die on
// them, which the harness reports as a crash, and their error paths are
// the ones the parse failures already take.
func leakNothingOnOutage(ctx context.Context, e *Env) error {
	p := outageLeak{secret: e.Secret(), probeCode: "leak-probe-" + strings.ToLower(randomTokenChars(10))}
	if u, err := url.Parse(e.s.mock.VerifyURL()); err == nil {
		p.verifyHost = u.Host
	}
	probes := []struct {
		rule mockserver.Rule
		what string
	}{
		{mockserver.Rule{Status: http.StatusInternalServerError}, "HTTP 500 with Google's HTML error page"},
		{mockserver.Rule{Status: http.StatusServiceUnavailable, Body: fmt.Sprintf("{\n  \"success\": false,\n  \"error-codes\": [\n    %q\n  ]\n}", p.probeCode)},
			"HTTP 503 with a JSON body [" + p.probeCode + "]"},
		{mockserver.Rule{Fault: mockserver.FaultHTMLError, Status: http.StatusOK}, "HTTP 200 with an HTML page"},
		{mockserver.Rule{Fault: mockserver.FaultMalformedJSON}, "HTTP 200 with malformed JSON"},
	}
	var failures []string
	for _, pr := range probes {
		r, err := submitWithAnswer(ctx, e, pr.rule, pr.what)
		if err != nil {
			return err
		}
		if r.Err != nil {
			continue // no answer shows nothing; the OUTAGE cases judge it
		}
		if found := p.find(r); len(found) > 0 {
			failures = append(failures, fmt.Sprintf("siteverify answering %s, the backend shows %s", pr.what, strings.Join(found, ", ")))
		}
	}
	if len(failures) > 0 {
		return e.Fail("answers during a siteverify failure that show nothing of it (no stack trace, exception text, siteverify URL or siteverify's answer)",
			"%s", strings.Join(failures, "; "))
	}
	return nil
}

// ---- OUTAGE-009: the backend survives an outage ----

// survivalProbes are the siteverify failures OUTAGE-009 puts the backend
// through, in this order: the transport faults first (those that kill
// real backends), then the answers it must parse and refuse.
var survivalProbes = []struct {
	rule mockserver.Rule
	what string
}{
	{mockserver.Rule{Fault: mockserver.FaultClose}, "a closed connection (no answer)"},
	{mockserver.Rule{Fault: mockserver.FaultReset}, "a connection reset"},
	{mockserver.Rule{Status: http.StatusInternalServerError}, "HTTP 500 with Google's HTML error page"},
	{mockserver.Rule{Fault: mockserver.FaultMalformedJSON}, "HTTP 200 with malformed JSON"},
}

// outageSurvival puts the backend through each siteverify failure of
// survivalProbes, each for its own token, and after each one sends a
// fresh valid token, which the backend must still accept: an outage must
// not take the process down (nor leave it wedged). What the backend
// answers to the failure itself is the other OUTAGE cases' business. A
// backend that refuses a valid token even before any outage is left to
// ACCEPT-001 (skipped).
func outageSurvival(ctx context.Context, e *Env) error {
	fresh := func(after string) (Response, error) {
		tok, err := e.MintValid(ctx)
		if err != nil {
			return Response{}, err
		}
		return e.Submit(ctx, Submission{Token: tok, What: e.notes[tok] + ", " + after})
	}
	r, err := fresh("before any outage")
	if err != nil {
		return err
	}
	if r.Class != Accepted {
		return e.Skip("the backend does not accept a valid token even before an outage (%s); ACCEPT-001 judges that", r)
	}
	for _, p := range survivalProbes {
		if _, err := submitWithAnswer(ctx, e, p.rule, p.what); err != nil {
			return err
		}
		r, err := fresh("after siteverify answered the previous token with " + p.what)
		if err != nil {
			return err
		}
		if r.Class != Accepted {
			return e.Fail("the backend keeps answering after a siteverify outage: a fresh valid token is accepted",
				"after siteverify answered one token with %s, a fresh valid token got %s", p.what, survivalAnswer(r))
		}
	}
	return nil
}

// survivalAnswer describes what a fresh valid token got after an outage,
// saying so when the backend no longer answered at all.
func survivalAnswer(r Response) string {
	if r.Err != nil {
		return r.String() + ": the backend no longer answers"
	}
	return r.String()
}

// ---- LEAK-003: the secret stays secret ----

// secretForms are the forms of the secret LEAK-003 looks for: as is, and
// URL-encoded when that differs (a logged form body or query).
func secretForms(secret string) []string {
	forms := []string{secret}
	if q := url.QueryEscape(secret); q != secret {
		forms = append(forms, q)
	}
	return forms
}

// findSecret returns an excerpt around the first occurrence of a form of
// the secret in s, right after one of prefixes if any are given (a URL's
// "?key="), the secret itself redacted, and whether there is one.
func findSecret(s, secret string, prefixes ...string) (string, bool) {
	if len(prefixes) == 0 {
		prefixes = []string{""}
	}
	for _, f := range secretForms(secret) {
		for _, p := range prefixes {
			if i := strings.Index(s, p+f); i >= 0 {
				x := outageLeak{secret: f}.excerpt(s, i, i+len(p)+len(f))
				return strings.ReplaceAll(x, secret, "[secret]"), true
			}
		}
	}
	return "", false
}

// outputSettle bounds the wait of LEAK-003 and ENT-006 for the backend's
// log lines about their last requests, which usually follow the answer;
// the output is looked at every outputPoll, and once it has not grown
// between two looks it is taken as settled.
const (
	outputSettle = 500 * time.Millisecond
	outputPoll   = 50 * time.Millisecond
)

// secretNeverShown sends a valid token, a refused one, one that meets a
// siteverify outage and a request without a token, and looks for the
// secret in every answer (body and headers); then, when the harness
// started the backend, in everything the backend wrote since it started.
func secretNeverShown(ctx context.Context, e *Env) error {
	secret := e.Secret()
	if err := e.skipShortSecret(secret, "the secret"); err != nil {
		return err
	}
	var answers []Response
	tok, err := e.MintValid(ctx)
	if err != nil {
		return err
	}
	r, err := e.Submit(ctx, Submission{Token: tok})
	if err != nil {
		return err
	}
	answers = append(answers, r)
	refused, refusedWhat := refusedRule(e)
	for _, p := range []struct {
		rule mockserver.Rule
		what string
	}{
		{refused, refusedWhat},
		{mockserver.Rule{Status: http.StatusInternalServerError}, "HTTP 500 with Google's HTML error page"},
	} {
		if r, err = submitWithAnswer(ctx, e, p.rule, p.what); err != nil {
			return err
		}
		answers = append(answers, r)
	}
	if r, err = e.Submit(ctx, Submission{OmitToken: true}); err != nil {
		return err
	}
	answers = append(answers, r)

	var found []string
	for _, a := range answers {
		if x, ok := findSecret(a.visibleText(), secret); ok {
			found = append(found, fmt.Sprintf("the answer HTTP %d (%q)", a.Status, x))
		}
	}
	if out, ok := e.settledOutput(ctx, "the secret"); ok {
		if x, ok := findSecret(out, secret); ok {
			found = append(found, fmt.Sprintf("the backend's output (%q)", x))
		}
	} else {
		e.Step("the harness did not start the backend: only its answers were searched for the secret, not its logs")
	}
	if len(found) > 0 {
		return e.Fail("the secret in no answer and no line of the backend's output",
			"the secret (%d characters, shown here as [secret]) in %s", len(secret), strings.Join(found, "; "))
	}
	return nil
}
