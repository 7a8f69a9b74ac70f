package suite

// reCAPTCHA Enterprise's cases (issue 12, ENT-*): what an assessment has
// that a siteverify answer has not (tokenProperties.valid and its
// invalidReason, riskAnalysis.reasons, Google's API error envelope, an API
// key that may travel in the URL), and the Enterprise forms of the answers
// the older cases script.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// assessment describes an Assessment answer to script: the fields a
// backend judges.
type assessment struct {
	valid         bool
	invalidReason string // "" means INVALID_REASON_UNSPECIFIED
	score         float64
	hostname      string
	action        string
	createTime    time.Time
}

// body renders a as Google's v1 REST answer (wire-facts §2.2), for the
// endpoint's site.
func (a assessment) body(e *Env) string {
	reason := a.invalidReason
	if reason == "" {
		reason = "INVALID_REASON_UNSPECIFIED"
	}
	created := "1970-01-01T00:00:00Z"
	if !a.createTime.IsZero() {
		created = a.createTime.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	type event struct {
		Token          string `json:"token"`
		SiteKey        string `json:"siteKey"`
		UserAgent      string `json:"userAgent"`
		UserIPAddress  string `json:"userIpAddress"`
		ExpectedAction string `json:"expectedAction"`
	}
	doc := struct {
		Name         string `json:"name"`
		Event        event  `json:"event"`
		RiskAnalysis struct {
			Score   float64  `json:"score"`
			Reasons []string `json:"reasons"`
		} `json:"riskAnalysis"`
		TokenProperties struct {
			Valid              bool   `json:"valid"`
			InvalidReason      string `json:"invalidReason"`
			Hostname           string `json:"hostname"`
			AndroidPackageName string `json:"androidPackageName"`
			IOSBundleID        string `json:"iosBundleId"`
			Action             string `json:"action"`
			CreateTime         string `json:"createTime"`
		} `json:"tokenProperties"`
	}{Name: "projects/844488852392/assessments/fb332488a8000000", Event: event{SiteKey: e.SiteKey(), ExpectedAction: e.ep.Action}}
	// ExactlyZero is 0; the cases that test reasons mint them on the mock
	// (ENT-004), so a scripted assessment has none: [] as Google sends.
	doc.RiskAnalysis.Score, doc.RiskAnalysis.Reasons = max(a.score, 0), []string{}
	tp := &doc.TokenProperties
	tp.Valid, tp.InvalidReason, tp.Hostname, tp.Action, tp.CreateTime = a.valid, reason, a.hostname, a.action, created
	b, _ := json.MarshalIndent(doc, "", "  ")
	return string(b)
}

// expectedAction is the action a valid token of the endpoint carries: the
// endpoint's, or the mock's default when it declares none.
func (e *Env) expectedAction() string {
	if e.ep.Action == "" {
		return mockserver.DefaultAction
	}
	return e.ep.Action
}

// validAssessment is the assessment of a valid token of the endpoint.
func validAssessment(e *Env) assessment {
	return assessment{valid: true, score: e.HighScore(), hostname: e.Name(), action: e.expectedAction(), createTime: time.Now()}
}

// ---- ENT-001: valid:false whatever the score ----

// rejectInvalidAssessment answers a token with valid:false and
// INVALID_REASON_UNSPECIFIED (what Google answers for a token of another
// sitekey) while the score, action and hostname would all pass.
func rejectInvalidAssessment(ctx context.Context, e *Env) error {
	a := validAssessment(e)
	a.valid = false
	r, err := submitWithAnswer(ctx, e, mockserver.Rule{Body: a.body(e)},
		fmt.Sprintf("valid:false (INVALID_REASON_UNSPECIFIED) with score %s, action %q and hostname %q", formatScore(a.score), a.action, a.hostname))
	if err != nil {
		return err
	}
	if err := e.Expect(r, Rejected); err != nil {
		f := err.(*Failure)
		if r.Class == Accepted {
			f.Actual += " (an invalid token judged by its score: tokenProperties.valid was not read)"
		}
		return f
	}
	return nil
}

// ---- ENT-002: no invalidReason is a success ----

// softInvalidReasons are the invalid reasons ENT-002 sends: the retriable
// (and fakeable) browser error, Google's own action check, and the
// catch-all a backend may not know.
var softInvalidReasons = []string{"BROWSER_ERROR", "UNEXPECTED_ACTION", "UNKNOWN_INVALID_REASON"}

func rejectInvalidReasons(ctx context.Context, e *Env) error {
	var failures []string
	for _, reason := range softInvalidReasons {
		r, err := submitWithAnswer(ctx, e, mockserver.Rule{ErrorCodes: []string{reason}}, "valid:false with invalidReason "+reason)
		if err != nil {
			return err
		}
		if r.Class != Rejected {
			failures = append(failures, fmt.Sprintf("invalidReason %s: %s", reason, r))
		}
	}
	if len(failures) > 0 {
		return e.Fail(e.describeClasses([]Class{Rejected})+" for each invalid reason", "%s", strings.Join(failures, "; "))
	}
	return nil
}

// ---- ENT-003: the action ----

func rejectEnterpriseActionMismatch(ctx context.Context, e *Env) error {
	if e.ep.Action == "" {
		return e.Skip("the endpoint declares no action (action), so no other action can be told from its own")
	}
	spec := e.ValidSpec()
	spec.Action = foreignAction
	r, err := submitSpec(ctx, e, spec)
	if err != nil {
		return err
	}
	if err := e.Expect(r, Rejected); err != nil {
		f := err.(*Failure)
		if r.Class == Accepted {
			f.Actual += fmt.Sprintf(" (tokenProperties.action %q was not compared with %q)", foreignAction, e.ep.Action)
		}
		return f
	}
	return nil
}

// ---- ENT-004: classification reasons ----

func rejectDeclaredReasons(ctx context.Context, e *Env) error {
	if len(e.ep.RejectReasons) == 0 {
		return e.Skip("the endpoint declares no reasons it refuses (reject_reasons), so none can be held against it")
	}
	var failures []string
	for _, reason := range e.ep.RejectReasons {
		spec := e.ValidSpec()
		spec.Reasons = reason
		r, err := submitSpec(ctx, e, spec)
		if err != nil {
			return err
		}
		if r.Class != Rejected {
			failures = append(failures, fmt.Sprintf("reasons [%s] with score %s: %s", reason, formatScore(spec.Score), r))
		}
	}
	if len(failures) > 0 {
		return e.Fail(e.describeClasses([]Class{Rejected})+" for each reason in reject_reasons", "%s", strings.Join(failures, "; "))
	}
	return nil
}

// ---- ENT-005: Google's API errors ----

// apiErrorProbes are the error envelopes ENT-005 answers with (wire-facts
// §2.3); API_KEY_INVALID is OUTAGE-008's.
var apiErrorProbes = []string{"PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "INVALID_ARGUMENT", "UNAVAILABLE"}

func enterpriseAPIErrors(ctx context.Context, e *Env) error {
	var failures []string
	for _, code := range apiErrorProbes {
		r, err := submitWithAnswer(ctx, e, mockserver.Rule{ErrorCodes: []string{code}}, "Google's API error "+code)
		if err != nil {
			return err
		}
		if r.Class != e.PolicyClass() {
			failures = append(failures, fmt.Sprintf("%s: %s", code, r))
		}
	}
	if len(failures) > 0 {
		return e.Fail(fmt.Sprintf("%s for each error envelope, as outage.policy %s says", e.describeClasses([]Class{e.PolicyClass()}), e.Policy()),
			"%s", strings.Join(failures, "; "))
	}
	return nil
}

// ---- ENT-006: the API key after a transport error ----

// apiKeyNeverShownOnTransportError resets the connection of an assessment
// call, the transport error whose message HTTP clients write with the
// request URL (Go's *url.Error, Node's undici, Python's requests), and
// looks for the API key as a URL's key parameter in the answer and in the
// backend's output. The key anywhere else is LEAK-003's: this case is about
// the URL, which a backend that sends ?key= logs without knowing it holds
// a secret. (A closed connection is left to OUTAGE-009, whose crash it
// would repeat.)
func apiKeyNeverShownOnTransportError(ctx context.Context, e *Env) error {
	key := e.Secret()
	if err := e.skipShortSecret(key, "the API key"); err != nil {
		return err
	}
	var found []string
	const what = "a connection reset"
	r, err := submitWithAnswer(ctx, e, mockserver.Rule{Fault: mockserver.FaultReset}, what)
	if err != nil {
		return err
	}
	if x, ok := findKeyInURL(r.visibleText(), key); ok {
		found = append(found, fmt.Sprintf("the answer after %s, HTTP %d (%q)", what, r.Status, x))
	}
	if out, ok := e.settledOutput(ctx, "the API key in a URL"); ok {
		if x, ok := findKeyInURL(out, key); ok {
			found = append(found, fmt.Sprintf("the backend's output (%q)", x))
		}
	} else {
		e.Step("the harness did not start the backend: only its answers were searched for the API key, not its logs")
	}
	if len(found) > 0 {
		return e.Fail("no URL carrying the API key in the backend's answers or output after a failed assessment call",
			"a URL with key=<the API key> (%d characters, shown here as [secret]) in %s", len(key), strings.Join(found, "; "))
	}
	return nil
}

// findKeyInURL is findSecret for the key as a URL query parameter
// (?key=KEY or &key=KEY, the key as is or escaped).
func findKeyInURL(s, key string) (string, bool) { return findSecret(s, key, "?key=", "&key=") }

// settledOutput waits briefly for the backend's log lines about its last
// requests and returns its output, noting in the transcript that it looked
// for what there; ok is false when the harness did not start the backend.
func (e *Env) settledOutput(ctx context.Context, what string) (string, bool) {
	if _, _, ok := e.rawOutput(); !ok {
		return "", false
	}
	e.s.out.waitQuiet(ctx, outputPoll, outputSettle)
	out, dropped, _ := e.rawOutput()
	e.Step("looked for %s in the %d bytes of output the backend wrote (%d earlier bytes no longer held)", what, len(out), dropped)
	return out, true
}

// ---- Enterprise forms of the older cases' answers ----

// invalidSecretRule is the answer OUTAGE-008 scripts: invalid-input-secret,
// or for Enterprise Google's 400 API_KEY_INVALID.
func invalidSecretRule(e *Env) (mockserver.Rule, string) {
	if e.enterprise() {
		return mockserver.Rule{ErrorCodes: []string{"API_KEY_INVALID"}}, "HTTP 400 INVALID_ARGUMENT [API_KEY_INVALID]"
	}
	return mockserver.Rule{ErrorCodes: []string{mockserver.CodeInvalidInputSecret}}, "success:false [invalid-input-secret]"
}

// refusedRule is an answer that refuses a token: invalid-input-response,
// or for Enterprise valid:false MALFORMED.
func refusedRule(e *Env) (mockserver.Rule, string) {
	if e.enterprise() {
		return mockserver.Rule{ErrorCodes: []string{"MALFORMED"}}, "valid:false [MALFORMED]"
	}
	return mockserver.Rule{ErrorCodes: []string{mockserver.CodeInvalidInputResponse}}, "success:false [invalid-input-response]"
}
