package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/suite/target"
)

// Failure is what a case returns when the backend does not conform.
type Failure struct {
	// Expected is what a conforming backend does.
	Expected string
	// Actual is what this backend did.
	Actual string
}

// Error implements error.
func (f *Failure) Error() string { return "expected " + f.Expected + "; got " + f.Actual }

// Skipped is what a case returns when it cannot apply to the target.
type Skipped struct{ Reason string }

// Error implements error.
func (s *Skipped) Error() string { return "skipped: " + s.Reason }

// Class is how the backend's answer was classified.
type Class string

// Answer classes.
const (
	Accepted     Class = "accepted"
	Rejected     Class = "rejected"
	Challenged   Class = "challenge"
	Unclassified Class = "unclassified"
	NoAnswer     Class = "no answer"
)

// Env is what a case function works with: one endpoint of the target, the
// mock, and a record of what the case did, for its report. An Env is used
// by one goroutine.
type Env struct {
	s        *Session
	ep       *target.Endpoint
	classify *target.Classify
	kind     mockserver.KeyKind
	startSeq uint64
	tokens   []string
	notes    map[string]string // token -> description
	rules    []string
	hangs    map[string]bool // IDs of the case's rules that hold calls unanswered (FaultHang)
	steps    []string
	connLost bool // a request got no answer for another reason than its timeout
	// hangClosed is set when cleanup deleted a hang rule: the mock then
	// closes the calls it held, and a backend that cannot take a closed
	// connection dies a moment later.
	hangClosed bool
}

// Kind is the target's key type.
func (e *Env) Kind() mockserver.KeyKind { return e.kind }

// Endpoint is the endpoint under test, with placeholders expanded.
func (e *Env) Endpoint() *target.Endpoint { return e.ep }

// Policy is the target's declared outage policy.
func (e *Env) Policy() string { return e.s.target.Outage.Policy }

// AnswerWithin is the target's declared answer time when siteverify hangs.
func (e *Env) AnswerWithin() time.Duration { return e.s.target.Outage.AnswerWithin.D() }

// Secret is the secret the backend is configured with.
func (e *Env) Secret() string { return e.s.site.Secret }

// rawOutput is what the backend the harness started has written so far
// (as much as the 256 KiB buffer holds), before the secret is redacted,
// and how many earlier bytes were dropped; ok is false when the harness
// did not start the backend. Only cases that look for the secret read it.
func (e *Env) rawOutput() (out string, dropped int64, ok bool) {
	if e.s.backend() == nil {
		return "", 0, false
	}
	b := e.s.out
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.bytes()), b.dropped, true
}

// minSearchableSecret is the shortest secret the cases look for in the
// backend's answers and output (LEAK-003, ENT-006): a shorter one would
// turn up by chance in ordinary text.
const minSearchableSecret = 8

// skipShortSecret returns a *Skipped when secret (what names it) is too
// short to look for without false alarms, else nil.
func (e *Env) skipShortSecret(secret, what string) error {
	if len(secret) < minSearchableSecret {
		return e.Skip("%s is %d characters long, too short to look for without false alarms", what, len(secret))
	}
	return nil
}

// SiteKey is the sitekey the backend is configured with.
func (e *Env) SiteKey() string { return e.s.site.SiteKey }

// MinScore is the endpoint's v3 threshold (0 for other kinds).
func (e *Env) MinScore() float64 {
	if e.ep.MinScore == nil {
		return 0
	}
	return *e.ep.MinScore
}

// HighScore is a score the endpoint must accept: 0.9, or 1.0 when the
// threshold is 0.9 or more.
func (e *Env) HighScore() float64 {
	if e.MinScore() < 0.9 {
		return 0.9
	}
	return 1.0
}

// Name is the endpoint's allowed hostname (or package name) used for valid
// tokens.
func (e *Env) Name() string {
	if e.kind == mockserver.Android {
		return e.ep.PackageNames[0]
	}
	return e.ep.Hostnames[0]
}

// ValidSpec describes a token the endpoint must accept.
func (e *Env) ValidSpec() mockserver.TokenSpec {
	spec := mockserver.TokenSpec{Kind: e.kind}
	switch e.kind {
	case mockserver.V3:
		spec.Score, spec.Action, spec.Hostname = e.HighScore(), e.ep.Action, e.Name()
	case mockserver.Android:
		spec.PackageName = e.Name()
	case mockserver.HCaptchaEnterprise:
		spec.Score, spec.Hostname = e.safeScore(), e.Name()
	case mockserver.TurnstileStandard:
		spec.Action, spec.CData, spec.Hostname = e.ep.Action, e.ep.CData, e.Name()
	case mockserver.EnterpriseScore, mockserver.EnterpriseCheckbox:
		// A checkbox key's assessment has a score too; the endpoint's action
		// (a checkbox endpoint may have none: the mock's default then).
		spec.Score, spec.Action, spec.Hostname = e.HighScore(), e.ep.Action, e.Name()
	default:
		spec.Hostname = e.Name()
	}
	return spec
}

// enterprise reports whether the target is a reCAPTCHA Enterprise one.
func (e *Env) enterprise() bool { return e.provider() == mockserver.Enterprise }

// Mint issues a token on the mock for the target's site and remembers it
// for the case's journal excerpt.
func (e *Env) Mint(ctx context.Context, spec mockserver.TokenSpec) (string, error) {
	spec.SiteKey = e.s.site.SiteKey
	if spec.Kind == "" {
		spec.Kind = e.kind
	}
	iss, err := e.s.mock.Issue(ctx, spec)
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	e.Track(iss.Token, describeSpec(spec))
	return iss.Token, nil
}

// MintValid issues a token the endpoint must accept.
func (e *Env) MintValid(ctx context.Context) (string, error) { return e.Mint(ctx, e.ValidSpec()) }

// Track records a token the case uses without minting it (a forged one),
// with a description for the report.
func (e *Env) Track(token, desc string) {
	if !slices.Contains(e.tokens, token) {
		e.tokens = append(e.tokens, token)
	}
	if e.notes == nil {
		e.notes = map[string]string{}
	}
	e.notes[token] = desc
}

func describeSpec(s mockserver.TokenSpec) string {
	var parts []string
	switch s.Kind {
	case mockserver.V3:
		switch {
		case s.OmitScore:
			parts = append(parts, "no score")
		case s.Score == mockserver.ExactlyZero:
			parts = append(parts, "score 0")
		default:
			parts = append(parts, "score "+formatScore(s.Score))
		}
		parts = append(parts, fmt.Sprintf("action %q", s.Action), fmt.Sprintf("hostname %q", s.Hostname))
	case mockserver.Android:
		parts = append(parts, fmt.Sprintf("apk_package_name %q", s.PackageName))
	case mockserver.HCaptchaEnterprise:
		score := "score " + formatScore(s.Score)
		if s.Score == mockserver.ExactlyZero {
			score = "score 0"
		}
		parts = append(parts, score+" (1 is a bot)", fmt.Sprintf("hostname %q", s.Hostname))
	case mockserver.TurnstileStandard:
		parts = append(parts, fmt.Sprintf("action %q", s.Action), fmt.Sprintf("cdata %q", s.CData), fmt.Sprintf("hostname %q", s.Hostname))
	case mockserver.EnterpriseScore, mockserver.EnterpriseCheckbox:
		score := "score " + formatScore(s.Score)
		if s.Score == mockserver.ExactlyZero {
			score = "score 0"
		}
		action := s.Action
		if action == "" {
			action = mockserver.DefaultAction
		}
		parts = append(parts, score, fmt.Sprintf("action %q", action), fmt.Sprintf("hostname %q", s.Hostname))
		if s.Reasons != "" {
			parts = append(parts, "reasons "+s.Reasons)
		}
	default:
		parts = append(parts, fmt.Sprintf("hostname %q", s.Hostname))
	}
	if s.IssuedAgo > 0 {
		parts = append(parts, "issued "+s.IssuedAgo.String()+" ago")
	}
	return string(s.Kind) + " token (" + strings.Join(parts, ", ") + ")"
}

func formatScore(s float64) string { return strconv.FormatFloat(s, 'f', -1, 64) }

// Rule installs a scripted answer on the mock for one of the case's tokens;
// it is deleted when the case ends. r.Match.Token must be set, so the rule
// cannot touch another case's requests.
func (e *Env) Rule(ctx context.Context, r mockserver.Rule) error {
	if r.Match.Token == "" {
		return errors.New("install rule: a case's rule must match its own token")
	}
	got, err := e.s.mock.AddRule(ctx, r)
	if err != nil {
		return fmt.Errorf("install rule: %w", err)
	}
	e.rules = append(e.rules, got.ID)
	if r.Fault == mockserver.FaultHang {
		if e.hangs == nil {
			e.hangs = map[string]bool{}
		}
		e.hangs[got.ID] = true
	}
	return nil
}

// Submission is one request to the endpoint.
type Submission struct {
	// Token is the token to send.
	Token string
	// OmitToken sends no token field or header at all.
	OmitToken bool
	// Timeout bounds the request; 0 means the session's request timeout.
	Timeout time.Duration
	// What describes the submission in the report; default: the token's
	// description.
	What string
}

// Response is the backend's answer to a Submission.
type Response struct {
	// Status, Header and Body are the answer; Body is cut at 1 MiB.
	Status int
	Header http.Header
	Body   []byte
	// Class is how the target's classify section reads the answer.
	Class Class
	// Err is the transport error when there was no answer (Class NoAnswer).
	Err error
	// Duration is how long the backend took.
	Duration time.Duration
	// ClientIP is the address the suite sent in the client IP header ("" if
	// the endpoint has none).
	ClientIP string
}

// String summarises the answer for a report: status, a body excerpt and
// the class.
func (r Response) String() string {
	if r.Err != nil {
		return fmt.Sprintf("no answer after %v (%v)", r.Duration.Round(time.Millisecond), r.Err)
	}
	body := strings.TrimSpace(string(r.Body))
	if len(body) > 200 {
		body = body[:200] + "…"
	}
	if body == "" {
		body = "(empty body)"
	}
	return fmt.Sprintf("HTTP %d %s → %s", r.Status, body, r.Class)
}

// maxAnswerBytes bounds how much of the backend's answer is read.
const maxAnswerBytes = 1 << 20

// Submit sends one request to the endpoint: its fields and headers, the
// token where the target says, and a fresh documentation-range client IP in
// the endpoint's client IP header. A transport error is not returned but
// recorded in the Response (Class NoAnswer).
func (e *Env) Submit(ctx context.Context, sub Submission) (Response, error) {
	req, ip, err := e.buildRequest(ctx, sub)
	if err != nil {
		return Response{}, err
	}
	timeout := sub.Timeout
	if timeout == 0 {
		timeout = e.s.requestTimeout(e.ep)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req = req.WithContext(ctx)
	start := time.Now()
	resp, err := e.s.client.Do(req)
	r := Response{ClientIP: ip}
	if err == nil {
		r.Status, r.Header = resp.StatusCode, resp.Header
		r.Body, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
		resp.Body.Close()
	}
	r.Duration = time.Since(start)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			err = fmt.Errorf("no answer within %v", timeout)
		} else if ctx.Err() == nil {
			e.connLost = true
		}
		r.Err, r.Class = err, NoAnswer
	} else {
		r.Class = classifyAnswer(e.classify, r.Status, r.Header, r.Body)
	}
	what := sub.What
	if what == "" {
		switch {
		case sub.OmitToken:
			what = "no token"
		case sub.Token == "":
			what = "an empty token"
		default:
			what = e.notes[sub.Token]
			if what == "" {
				what = "token " + abbreviate(sub.Token, 16)
			}
		}
	}
	e.Step("sent %s → %s", what, r)
	return r, nil
}

// Step adds a line to the case's transcript.
func (e *Env) Step(format string, args ...any) {
	e.steps = append(e.steps, fmt.Sprintf(format, args...))
}

func (e *Env) buildRequest(ctx context.Context, sub Submission) (*http.Request, string, error) {
	ep := e.ep
	u, err := url.Parse(ep.URL)
	if err != nil {
		return nil, "", fmt.Errorf("endpoint %s: parse url: %w", ep.Name, err)
	}
	tokenInField := ep.Token.In == target.TokenInField && !sub.OmitToken
	var body io.Reader
	var contentType string
	switch ep.Body {
	case target.BodyJSON:
		obj := map[string]any{}
		for k, v := range ep.Fields {
			obj[k] = v
		}
		if tokenInField {
			setPath(obj, ep.Token.Name, sub.Token)
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, "", fmt.Errorf("endpoint %s: encode json body: %w", ep.Name, err)
		}
		body, contentType = bytes.NewReader(b), "application/json"
	case target.BodyForm, target.BodyQuery:
		vals := url.Values{}
		for k, v := range ep.Fields {
			vals.Set(k, scalarString(v))
		}
		if tokenInField {
			vals.Set(ep.Token.Name, sub.Token)
		}
		if ep.Body == target.BodyForm {
			body, contentType = strings.NewReader(vals.Encode()), "application/x-www-form-urlencoded"
		} else {
			q := u.Query()
			for k, vs := range vals {
				q[k] = vs
			}
			u.RawQuery = q.Encode()
		}
	}
	req, err := http.NewRequestWithContext(ctx, ep.Method, u.String(), body)
	if err != nil {
		return nil, "", fmt.Errorf("endpoint %s: build request: %w", ep.Name, err)
	}
	for k, v := range ep.Headers {
		req.Header.Set(k, v)
	}
	if contentType != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", contentType)
	}
	if ep.Token.In == target.TokenInHeader && !sub.OmitToken {
		req.Header[http.CanonicalHeaderKey(ep.Token.Name)] = []string{sub.Token}
	}
	ip := ""
	if ep.ClientIPHeader != target.NoClientIPHeader {
		ip = e.s.nextClientIP()
		req.Header.Set(ep.ClientIPHeader, ip)
	}
	req.Header.Set("User-Agent", "siteverify-conform")
	return req, ip, nil
}

// setPath sets a dotted path in a JSON object, creating objects on the way.
func setPath(obj map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := obj[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[p] = next
		}
		obj = next
	}
	obj[parts[len(parts)-1]] = v
}

func scalarString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// Calls returns the siteverify calls made for token since the case
// started, oldest first. Calls in which the mock could read no token (a
// JSON body, say) are counted too: cases run one at a time, so such a call
// can only come from this case.
func (e *Env) Calls(ctx context.Context, token string) ([]mockserver.Request, error) {
	j, err := e.s.mock.JournalSince(ctx, e.startSeq)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	var out []mockserver.Request
	for _, r := range j.Since(e.startSeq) {
		if r.Token == token || r.Token == "" {
			out = append(out, r)
		}
	}
	return out, nil
}

// TokenlessCalls returns the journal entries since the case started that
// carry no token as users mean it (see Tokenless): none at all, an empty
// or blank one, or the literal "undefined" or "null" that JavaScript and
// JSON libraries send for a missing value.
func (e *Env) TokenlessCalls(ctx context.Context) ([]mockserver.Request, error) {
	j, err := e.s.mock.JournalSince(ctx, e.startSeq)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	var out []mockserver.Request
	for _, r := range j.Since(e.startSeq) {
		if Tokenless(r.Token) {
			out = append(out, r)
		}
	}
	return out, nil
}

// tokenlessValues lists the distinct response values of tokenless calls,
// e.g. `"" and "undefined"`.
func tokenlessValues(calls []mockserver.Request) string {
	var vals []string
	for _, c := range calls {
		if q := strconv.Quote(c.Token); !slices.Contains(vals, q) {
			vals = append(vals, q)
		}
	}
	return strings.Join(vals, " and ")
}

// Tokenless reports whether a siteverify call's response parameter stands
// for "no token": absent or empty, only white space, or "undefined" or
// "null" in any case (what String(undefined) in JavaScript, or a JSON null
// turned into text, produce).
func Tokenless(response string) bool {
	switch strings.ToLower(strings.TrimSpace(response)) {
	case "", "undefined", "null":
		return true
	}
	return false
}

// settleTime is how long counting cases wait before they read the journal,
// so a call the backend makes just after answering is counted too.
const settleTime = 50 * time.Millisecond

// Settle waits briefly for late siteverify calls.
func (e *Env) Settle(ctx context.Context) {
	t := time.NewTimer(settleTime)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Fail returns a *Failure.
func (e *Env) Fail(expected string, actualFormat string, args ...any) error {
	return &Failure{Expected: expected, Actual: fmt.Sprintf(actualFormat, args...)}
}

// Skip returns a *Skipped.
func (e *Env) Skip(format string, args ...any) error {
	return &Skipped{Reason: fmt.Sprintf(format, args...)}
}

// Expect checks that r is one of the classes in want.
func (e *Env) Expect(r Response, want ...Class) error {
	if slices.Contains(want, r.Class) {
		return nil
	}
	return e.Fail(e.describeClasses(want), "%s", r)
}

// describeClasses explains classes with the matchers that define them,
// e.g. "rejected (status 403 or 503)".
func (e *Env) describeClasses(want []Class) string {
	parts := make([]string, len(want))
	for i, c := range want {
		parts[i] = string(c)
		var m *target.Matcher
		switch c {
		case Accepted:
			m = e.classify.Accepted
		case Rejected:
			m = e.classify.Rejected
		case Challenged:
			m = e.classify.Challenge
		}
		if m != nil {
			parts[i] += " (" + describeMatcher(m) + ")"
		}
	}
	return strings.Join(parts, " or ")
}

// PolicyClass is the class a backend's answer must have during an outage,
// per its declared policy.
func (e *Env) PolicyClass() Class {
	switch e.Policy() {
	case target.FailOpen:
		return Accepted
	case target.Challenge:
		return Challenged
	}
	return Rejected
}

func describeMatcher(m *target.Matcher) string {
	var parts []string
	if len(m.Status) > 0 {
		s := make([]string, len(m.Status))
		for i, st := range m.Status {
			s[i] = strconv.Itoa(st)
		}
		parts = append(parts, "status "+strings.Join(s, " or "))
	}
	if m.BodyContains != "" {
		parts = append(parts, fmt.Sprintf("body contains %q", m.BodyContains))
	}
	if m.JSON != nil {
		b, _ := json.Marshal(m.JSON.Equals)
		parts = append(parts, fmt.Sprintf("json %s = %s", m.JSON.Path, b))
	}
	if m.Header != nil {
		parts = append(parts, fmt.Sprintf("header %s contains %q", m.Header.Name, m.Header.Contains))
	}
	return strings.Join(parts, ", ")
}

// classifyAnswer tries challenge, then rejected, then accepted.
func classifyAnswer(c *target.Classify, status int, h http.Header, body []byte) Class {
	var doc any
	parsed := false
	match := func(m *target.Matcher) bool {
		if m == nil {
			return false
		}
		if len(m.Status) > 0 && !slices.Contains(m.Status, status) {
			return false
		}
		if m.BodyContains != "" && !bytes.Contains(body, []byte(m.BodyContains)) {
			return false
		}
		if m.Header != nil && !strings.Contains(strings.Join(h.Values(m.Header.Name), ", "), m.Header.Contains) {
			return false
		}
		if m.JSON != nil {
			if !parsed {
				parsed = true
				if json.Unmarshal(body, &doc) != nil {
					doc = nil
				}
			}
			v, ok := lookupPath(doc, m.JSON.Path)
			if !ok || !jsonEqual(v, m.JSON.Equals) {
				return false
			}
		}
		return true
	}
	switch {
	case match(c.Challenge):
		return Challenged
	case match(c.Rejected):
		return Rejected
	case match(c.Accepted):
		return Accepted
	}
	return Unclassified
}

func lookupPath(doc any, path string) (any, bool) {
	cur := doc
	for _, p := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[p]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// jsonEqual compares a decoded JSON value with a YAML value by giving the
// YAML value the same JSON round trip (so 200 equals 200.0).
func jsonEqual(got, want any) bool {
	b, err := json.Marshal(want)
	if err != nil {
		return false
	}
	var norm any
	if json.Unmarshal(b, &norm) != nil {
		return false
	}
	if gf, ok := got.(float64); ok {
		if wf, ok := norm.(float64); ok {
			return math.Abs(gf-wf) < 1e-9
		}
	}
	return reflect.DeepEqual(got, norm)
}

func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
