package suite

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/suite/target"
)

// Values chosen so they cannot collide with what a target allows.
const (
	foreignHostname = "evil-clone.example"
	foreignPackage  = "com.example.evilclone"
	foreignAction   = "conform_other_action"
	oversizedLength = 6000
)

// ---- ACCEPT ----

func acceptValid(ctx context.Context, e *Env) error {
	tok, err := e.MintValid(ctx)
	if err != nil {
		return err
	}
	r, err := e.Submit(ctx, Submission{Token: tok})
	if err != nil {
		return err
	}
	return e.Expect(r, Accepted)
}

func acceptAtThreshold(ctx context.Context, e *Env) error {
	spec := e.ValidSpec()
	spec.Score = e.MinScore()
	if spec.Score == 0 {
		spec.Score = mockserver.ExactlyZero
	}
	tok, err := e.Mint(ctx, spec)
	if err != nil {
		return err
	}
	r, err := e.Submit(ctx, Submission{Token: tok})
	if err != nil {
		return err
	}
	return e.Expect(r, Accepted)
}

// ---- REJECT: what the answer says ----

// submitExpectRejected mints a token from spec, sends it and requires a
// rejection.
func submitExpectRejected(ctx context.Context, e *Env, spec mockserver.TokenSpec) error {
	tok, err := e.Mint(ctx, spec)
	if err != nil {
		return err
	}
	r, err := e.Submit(ctx, Submission{Token: tok})
	if err != nil {
		return err
	}
	return e.Expect(r, Rejected)
}

// lowScore returns a score below the threshold, or false if there is none.
func lowScore(e *Env, preferred float64) (float64, bool) {
	min := e.MinScore()
	switch {
	case min <= 0:
		return 0, false
	case preferred < min:
		return preferred, true
	default:
		return mockserver.ExactlyZero, true
	}
}

func rejectLowScore(ctx context.Context, e *Env) error {
	score, ok := lowScore(e, 0.1)
	if !ok {
		return e.Skip("min_score is 0, so no score is below the threshold")
	}
	spec := e.ValidSpec()
	spec.Score = score
	return submitExpectRejected(ctx, e, spec)
}

func rejectMissingScore(ctx context.Context, e *Env) error {
	spec := e.ValidSpec()
	spec.OmitScore = true
	return submitExpectRejected(ctx, e, spec)
}

func rejectActionMismatch(ctx context.Context, e *Env) error {
	spec := e.ValidSpec()
	spec.Action = foreignAction
	return submitExpectRejected(ctx, e, spec)
}

func rejectHostnameMismatch(ctx context.Context, e *Env) error {
	spec := e.ValidSpec()
	spec.Hostname = foreignHostname
	return submitExpectRejected(ctx, e, spec)
}

func rejectPackageMismatch(ctx context.Context, e *Env) error {
	spec := e.ValidSpec()
	spec.PackageName = foreignPackage
	return submitExpectRejected(ctx, e, spec)
}

func rejectExpiredToken(ctx context.Context, e *Env) error {
	spec := e.ValidSpec()
	spec.IssuedAgo = e.provider().TokenLifetime() + time.Minute
	return submitExpectRejected(ctx, e, spec)
}

// ---- REJECT: what the request carries ----

func rejectMissingToken(ctx context.Context, e *Env) error {
	r, err := e.Submit(ctx, Submission{OmitToken: true})
	if err != nil {
		return err
	}
	return e.Expect(r, Rejected)
}

func rejectEmptyToken(ctx context.Context, e *Env) error {
	r, err := e.Submit(ctx, Submission{Token: ""})
	if err != nil {
		return err
	}
	return e.Expect(r, Rejected)
}

// randomTokenChars returns n characters of the base64url alphabet real
// tokens use.
func randomTokenChars(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on supported platforms
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func rejectMalformedToken(ctx context.Context, e *Env) error {
	forged := "03A" + randomTokenChars(517)
	e.Track(forged, "a forged token (520 plausible characters, not issued by reCAPTCHA)")
	odd := "03A" + randomTokenChars(8) + `"'<script>&response=x%00+/= é` + randomTokenChars(8)
	e.Track(odd, "a token with characters no token has (quotes, <script>, &, %, +, /, =, non-ASCII)")
	if e.ep.Token.In == target.TokenInHeader {
		// Header values cannot carry every character; keep the printable ones.
		odd = "03A" + randomTokenChars(8) + `"'<script>&response=x%00+/=` + randomTokenChars(8)
		e.Track(odd, "a token with characters no token has (quotes, <script>, &, %, +, /, =)")
	}
	var failures []string
	for _, tok := range []string{forged, odd} {
		r, err := e.Submit(ctx, Submission{Token: tok})
		if err != nil {
			return err
		}
		if r.Class != Rejected {
			failures = append(failures, fmt.Sprintf("%s: %s", e.notes[tok], r))
		}
	}
	if len(failures) > 0 {
		return e.Fail(e.describeClasses([]Class{Rejected})+" for each", "%s", strings.Join(failures, "; "))
	}
	return nil
}

func rejectOversizedToken(ctx context.Context, e *Env) error {
	tok := "03A" + randomTokenChars(oversizedLength-3)
	e.Track(tok, fmt.Sprintf("a %d-character token", len(tok)))
	r, err := e.Submit(ctx, Submission{Token: tok})
	if err != nil {
		return err
	}
	if r.Class == Unclassified && r.Status >= 500 {
		return e.Fail(e.describeClasses([]Class{Rejected}), "%s (a server error: did it crash?)", r)
	}
	return e.Expect(r, Rejected)
}

// submitWithAnswer mints a valid token, scripts the mock's answer for it
// and sends it.
func submitWithAnswer(ctx context.Context, e *Env, rule mockserver.Rule, what string) (Response, error) {
	tok, err := e.MintValid(ctx)
	if err != nil {
		return Response{}, err
	}
	rule.Match.Token = tok
	if rule.Times == 0 {
		rule.Times = mockserver.Forever
	}
	if err := e.Rule(ctx, rule); err != nil {
		return Response{}, err
	}
	return e.Submit(ctx, Submission{Token: tok, What: e.notes[tok] + ", siteverify answering " + what})
}

func rejectInvalidInputResponse(ctx context.Context, e *Env) error {
	r, err := submitWithAnswer(ctx, e, mockserver.Rule{ErrorCodes: []string{mockserver.CodeInvalidInputResponse}},
		"success:false [invalid-input-response]")
	if err != nil {
		return err
	}
	return e.Expect(r, Rejected)
}

func rejectUnknownErrorCode(ctx context.Context, e *Env) error {
	r, err := submitWithAnswer(ctx, e, mockserver.Rule{ErrorCodes: []string{"browser-error"}},
		"success:false [browser-error]")
	if err != nil {
		return err
	}
	return e.Expect(r, Rejected)
}

// legacyFailureBody is Google's 2016 answer to a used token: success false,
// no error codes, but a challenge time and hostname (or package name).
func legacyFailureBody(e *Env) string {
	field := "hostname"
	if e.kind == mockserver.Android {
		field = "apk_package_name"
	}
	return fmt.Sprintf("{\n  \"success\": false,\n  \"challenge_ts\": %q,\n  %q: %q\n}",
		time.Now().UTC().Format("2006-01-02T15:04:05Z"), field, e.Name())
}

func rejectNoErrorCodes(ctx context.Context, e *Env) error {
	r, err := submitWithAnswer(ctx, e, mockserver.Rule{Body: legacyFailureBody(e)}, "success:false without error-codes")
	if err != nil {
		return err
	}
	return e.Expect(r, Rejected)
}

func rejectReplayedToken(ctx context.Context, e *Env) error {
	tok, err := e.MintValid(ctx)
	if err != nil {
		return err
	}
	if _, err := e.Submit(ctx, Submission{Token: tok, What: e.notes[tok] + " (first use)"}); err != nil {
		return err
	}
	r, err := e.Submit(ctx, Submission{Token: tok, What: "the same token again (replay)"})
	if err != nil {
		return err
	}
	return e.Expect(r, Rejected)
}

// ---- WIRE ----

// validCall sends a valid token and returns the siteverify calls it caused.
func validCall(ctx context.Context, e *Env) (string, Response, []mockserver.Request, error) {
	tok, err := e.MintValid(ctx)
	if err != nil {
		return "", Response{}, nil, err
	}
	r, err := e.Submit(ctx, Submission{Token: tok})
	if err != nil {
		return "", Response{}, nil, err
	}
	e.Settle(ctx)
	calls, err := e.Calls(ctx, tok)
	return tok, r, calls, err
}

func wireExactlyOnce(ctx context.Context, e *Env) error {
	_, _, calls, err := validCall(ctx, e)
	if err != nil {
		return err
	}
	if len(calls) != 1 {
		return e.Fail("exactly 1 siteverify call for the token", "%d calls", len(calls))
	}
	return nil
}

func wireNoCache(ctx context.Context, e *Env) error {
	tok, err := e.MintValid(ctx)
	if err != nil {
		return err
	}
	for _, what := range []string{" (first submission)", " (second submission)"} {
		if _, err := e.Submit(ctx, Submission{Token: tok, What: e.notes[tok] + what}); err != nil {
			return err
		}
	}
	e.Settle(ctx)
	calls, err := e.Calls(ctx, tok)
	if err != nil {
		return err
	}
	if len(calls) < 2 {
		return e.Fail("a siteverify call for each of the 2 submissions", "%d call(s): the second submission was answered without asking siteverify", len(calls))
	}
	return nil
}

// firstCall returns the first call or a failure saying there was none.
func firstCall(e *Env, calls []mockserver.Request, what string) (mockserver.Request, error) {
	if len(calls) == 0 {
		return mockserver.Request{}, e.Fail("a siteverify call to check "+what, "no siteverify call for the token")
	}
	return calls[0], nil
}

func wireSendsSecret(ctx context.Context, e *Env) error {
	_, _, calls, err := validCall(ctx, e)
	if err != nil {
		return err
	}
	c, err := firstCall(e, calls, "the secret")
	if err != nil {
		return err
	}
	want := mockserver.Fingerprint(e.Secret())
	switch c.SecretFingerprint {
	case want:
		return nil
	case "":
		return e.Fail("secret="+want+" (the configured secret)", "no secret parameter that siteverify can read (content type %q)", c.ContentType)
	case mockserver.Fingerprint(e.SiteKey()):
		return e.Fail("secret="+want+" (the configured secret)", "secret=%s, which is the public sitekey", c.SecretFingerprint)
	default:
		return e.Fail("secret="+want+" (the configured secret)", "secret=%s, another key", c.SecretFingerprint)
	}
}

func wireSecretNotInURL(ctx context.Context, e *Env) error {
	_, _, calls, err := validCall(ctx, e)
	if err != nil {
		return err
	}
	if _, err := firstCall(e, calls, "where the secret goes"); err != nil {
		return err
	}
	for _, c := range calls {
		if c.SecretIn == "query" || c.Query.Has("secret") {
			return e.Fail("the secret in the POST body only", "%s %s?secret=%s…: the secret is in the URL query", c.Method, c.Path, c.Query.Get("secret"))
		}
	}
	return nil
}

func wireFormPost(ctx context.Context, e *Env) error {
	tok, _, calls, err := validCall(ctx, e)
	if err != nil {
		return err
	}
	c, err := firstCall(e, calls, "its encoding")
	if err != nil {
		return err
	}
	var problems []string
	if c.Method != http.MethodPost {
		problems = append(problems, "method "+c.Method)
	}
	if !e.bodyTypeReadable(c.ContentType) {
		problems = append(problems, fmt.Sprintf("content type %q", c.ContentType))
	}
	field := "response"
	if e.enterprise() {
		field = "event.token" // the Assessment's event, as the mock's journal names it
	}
	if c.Form.Get(field) != tok {
		problems = append(problems, "the token is not the "+field+" field of the body")
	}
	if len(problems) > 0 {
		return e.Fail(fmt.Sprintf("POST with a body of type %s carrying %s=<token>", strings.Join(e.provider().RequestBodyTypes(), " or "), field), "%s", strings.Join(problems, "; "))
	}
	return nil
}

func wireRemoteIP(ctx context.Context, e *Env) error {
	_, r, calls, err := validCall(ctx, e)
	if err != nil {
		return err
	}
	c, err := firstCall(e, calls, "remoteip")
	if err != nil {
		return err
	}
	if r.ClientIP == "" {
		// No client IP header: the backend sees the suite's own address.
		if c.RemoteIP == "127.0.0.1" || c.RemoteIP == "::1" {
			return nil
		}
		return e.Fail("remoteip=127.0.0.1 (the connection's address; client_ip_header is none)", "remoteip=%q", c.RemoteIP)
	}
	if c.RemoteIP != r.ClientIP {
		return e.Fail(fmt.Sprintf("remoteip=%s (sent in %s)", r.ClientIP, e.ep.ClientIPHeader), "remoteip=%q", c.RemoteIP)
	}
	return nil
}

func wireNoCallWithoutToken(ctx context.Context, e *Env) error {
	if _, err := e.Submit(ctx, Submission{OmitToken: true}); err != nil {
		return err
	}
	if _, err := e.Submit(ctx, Submission{Token: ""}); err != nil {
		return err
	}
	e.Settle(ctx)
	calls, err := e.TokenlessCalls(ctx)
	if err != nil {
		return err
	}
	if len(calls) > 0 {
		return e.Fail("no siteverify call for requests without a token", "%d siteverify call(s) without a token (response %s)", len(calls), tokenlessValues(calls))
	}
	return nil
}

func wireNoRetry(ctx context.Context, e *Env) error {
	tok, err := e.MintValid(ctx)
	if err != nil {
		return err
	}
	if err := e.Rule(ctx, mockserver.Rule{Match: mockserver.Match{Token: tok}, Status: http.StatusServiceUnavailable, Times: mockserver.Forever}); err != nil {
		return err
	}
	if _, err := e.Submit(ctx, Submission{Token: tok, What: e.notes[tok] + ", siteverify answering HTTP 503"}); err != nil {
		return err
	}
	e.Settle(ctx)
	calls, err := e.Calls(ctx, tok)
	if err != nil {
		return err
	}
	if len(calls) != 1 {
		return e.Fail("exactly 1 siteverify call for the token", "%d calls: the backend resent the token after the failure", len(calls))
	}
	return nil
}

// ---- OUTAGE ----

// expectPolicy requires the answer the declared outage policy calls for.
func expectPolicy(e *Env, r Response) error {
	if err := e.Expect(r, e.PolicyClass()); err != nil {
		f := err.(*Failure)
		f.Expected += fmt.Sprintf(", as outage.policy %s says", e.Policy())
		return f
	}
	return nil
}

func outage(ctx context.Context, e *Env, rule mockserver.Rule, what string) error {
	r, err := submitWithAnswer(ctx, e, rule, what)
	if err != nil {
		return err
	}
	return expectPolicy(e, r)
}

func outageHTTP500(ctx context.Context, e *Env) error {
	return outage(ctx, e, mockserver.Rule{Status: http.StatusInternalServerError}, "HTTP 500 (HTML error page)")
}

func outageHTTP503(ctx context.Context, e *Env) error {
	return outage(ctx, e, mockserver.Rule{Status: http.StatusServiceUnavailable, Body: successBody(e)}, "HTTP 503 with a JSON body claiming success")
}

// successBody is a success answer for a valid token of the endpoint, with
// every field its kind's answers carry, for rules that send it where no
// success belongs.
func successBody(e *Env) string {
	if e.enterprise() {
		return validAssessment(e).body(e)
	}
	spec := e.ValidSpec()
	a := map[string]any{"success": true, "challenge_ts": time.Now().UTC().Format("2006-01-02T15:04:05Z")}
	switch e.kind {
	case mockserver.Android:
		a["apk_package_name"] = e.Name()
	default:
		a["hostname"] = e.Name()
	}
	switch e.kind {
	case mockserver.V3:
		a["score"], a["action"] = spec.Score, spec.Action
	case mockserver.HCaptchaEnterprise:
		a["score"] = max(spec.Score, 0) // ExactlyZero is 0
	case mockserver.TurnstileStandard:
		a["action"], a["cdata"], a["error-codes"] = spec.Action, spec.CData, []string{}
	}
	b, _ := json.MarshalIndent(a, "", "  ")
	return string(b)
}

func outageHTMLPage(ctx context.Context, e *Env) error {
	return outage(ctx, e, mockserver.Rule{Fault: mockserver.FaultHTMLError, Status: http.StatusOK}, "HTTP 200 with an HTML page")
}

// outageMalformedJSON: the mock breaks the provider's own success answer
// (an assessment off after "valid": true for Enterprise).
func outageMalformedJSON(ctx context.Context, e *Env) error {
	return outage(ctx, e, mockserver.Rule{Fault: mockserver.FaultMalformedJSON}, "HTTP 200 with malformed JSON")
}

func outageTruncated(ctx context.Context, e *Env) error {
	return outage(ctx, e, mockserver.Rule{Fault: mockserver.FaultTruncate}, "a truncated answer")
}

func outageReset(ctx context.Context, e *Env) error {
	return outage(ctx, e, mockserver.Rule{Fault: mockserver.FaultReset}, "a connection reset")
}

// hangMargin is how much longer than the declared answer time the suite
// waits for the backend; the mock hangs longer still, so a backend without
// a timeout is caught, and the run never waits for the mock. It is seconds
// wide so that a late answer (after answer_within) is told apart from no
// answer even on a loaded machine.
const hangMargin = 4 * time.Second

func outageHang(ctx context.Context, e *Env) error {
	within := e.AnswerWithin()
	tok, err := e.MintValid(ctx)
	if err != nil {
		return err
	}
	rule := mockserver.Rule{Match: mockserver.Match{Token: tok}, Fault: mockserver.FaultHang, Delay: within + 2*hangMargin, Times: mockserver.Forever}
	if err := e.Rule(ctx, rule); err != nil {
		return err
	}
	r, err := e.Submit(ctx, Submission{Token: tok, Timeout: within + hangMargin,
		What: e.notes[tok] + fmt.Sprintf(", siteverify hanging for %v", rule.Delay)})
	if err != nil {
		return err
	}
	want := fmt.Sprintf("an answer within %v (outage.answer_within) that is %s", within, e.describeClasses([]Class{e.PolicyClass()}))
	switch {
	case r.Err != nil:
		return e.Fail(want, "no answer after %v: the backend waits for siteverify without a timeout, or longer than declared", r.Duration.Round(time.Millisecond))
	case r.Duration > within:
		return e.Fail(want, "an answer after %v: %s", r.Duration.Round(time.Millisecond), r)
	}
	return expectPolicy(e, r)
}

func outageInvalidSecret(ctx context.Context, e *Env) error {
	rule, what := invalidSecretRule(e)
	r, err := submitWithAnswer(ctx, e, rule, what)
	if err != nil {
		return err
	}
	if err := e.Expect(r, Rejected, Challenged); err != nil {
		f := err.(*Failure)
		if r.Class == Accepted {
			f.Actual += " (a configuration error treated as an outage and let through)"
		}
		return f
	}
	return nil
}

// ---- LEAK ----

// visibleText is everything an answer shows its client: the body, then
// each header as "Name: values" on its own line. The LEAK cases search it.
func (r Response) visibleText() string {
	var b strings.Builder
	b.Write(r.Body)
	for k, vs := range r.Header {
		b.WriteString("\n" + k + ": " + strings.Join(vs, ", "))
	}
	return b.String()
}

// leakProbe is what must not show up in a rejection.
type leakProbe struct {
	field string // "hostname" or "apk_package_name"
	name  string // distinctive hostname or package name
	score string // distinctive score, "" when none
}

func (p leakProbe) find(r Response) []string {
	s := r.visibleText()
	var found []string
	if strings.Contains(s, p.name) {
		found = append(found, fmt.Sprintf("%s %q", p.field, p.name))
	}
	if p.score != "" && strings.Contains(s, p.score) {
		found = append(found, "the score "+p.score)
	}
	if strings.Contains(s, "challenge_ts") {
		found = append(found, "challenge_ts")
	}
	return found
}

func leakNothing(ctx context.Context, e *Env) error {
	probe := leakProbe{field: "hostname", name: "leak-probe-" + strings.ToLower(randomTokenChars(8)) + ".example"}
	if e.kind == mockserver.Android {
		probe.field = "apk_package_name"
		probe.name = "com.example.leakprobe" + strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(randomTokenChars(8)))
	}
	var failures []string
	check := func(r Response, what string) {
		switch {
		case r.Class != Rejected:
			failures = append(failures, fmt.Sprintf("%s was not rejected: %s", what, r))
		default:
			if found := probe.find(r); len(found) > 0 {
				failures = append(failures, fmt.Sprintf("rejecting %s, the backend shows %s: %s", what, strings.Join(found, ", "), r))
			}
		}
	}

	// Probe 1: a failed verification whose answer carries distinctive
	// fields, as Google's legacy answers did (Enterprise: an invalid
	// assessment that still names its hostname and score).
	body := fmt.Sprintf("{\n  \"success\": false,\n  \"challenge_ts\": %q,\n  %q: %q", time.Now().UTC().Format("2006-01-02T15:04:05Z"), probe.field, probe.name)
	if e.kind == mockserver.V3 || e.kind == mockserver.EnterpriseScore {
		if s, ok := lowScore(e, 0.137); ok && s != mockserver.ExactlyZero {
			probe.score = formatScore(s)
			body += ",\n  \"score\": " + probe.score + ",\n  \"action\": " + fmt.Sprintf("%q", e.ep.Action)
		}
	}
	body += ",\n  \"error-codes\": [\n    \"invalid-input-response\"\n  ]\n}"
	what := "success:false with score, hostname and challenge_ts"
	if e.enterprise() {
		a := assessment{invalidReason: "MALFORMED", hostname: probe.name, action: e.expectedAction(), createTime: time.Now()}
		if probe.score != "" {
			a.score, _ = lowScore(e, 0.137)
		}
		body, what = a.body(e), "valid:false with score, hostname and createTime"
	}
	r, err := submitWithAnswer(ctx, e, mockserver.Rule{Body: body}, what)
	if err != nil {
		return err
	}
	check(r, "a token siteverify refused")

	// Probe 2 (v3, Enterprise score keys): a token that fails on score,
	// action and hostname at once, so whichever check the backend makes
	// first rejects it.
	if (e.kind == mockserver.V3 || e.kind == mockserver.EnterpriseScore) && probe.score != "" {
		s, _ := lowScore(e, 0.137)
		tok, err := e.Mint(ctx, mockserver.TokenSpec{Score: s, Action: foreignAction, Hostname: probe.name})
		if err != nil {
			return err
		}
		r, err := e.Submit(ctx, Submission{Token: tok})
		if err != nil {
			return err
		}
		check(r, "a low-score token")
	}
	if len(failures) > 0 {
		return e.Fail("a rejection that shows nothing of siteverify's answer (no score, hostname or challenge_ts)", "%s", strings.Join(failures, "; "))
	}
	return nil
}
