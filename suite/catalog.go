package suite

import (
	"context"
	"slices"
	"strings"

	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/suite/target"
)

// Level is how binding a case's requirement is.
type Level string

// Levels. A failed SHOULD case is reported but only fails the run in strict
// mode.
const (
	Must   Level = "MUST"
	Should Level = "SHOULD"
)

// Case is one row of the catalog: a requirement on a backend's reCAPTCHA
// integration and the function that checks it.
type Case struct {
	// ID is stable and never reused: AREA-NNN, assigned when the case is
	// added (append-only; see testdata/catalog.golden).
	ID string
	// Title is a short description, e.g. "rejects a hostname mismatch".
	Title string
	// Level is MUST or SHOULD.
	Level Level
	// Requirement is the normative sentence the case checks.
	Requirement string
	// Kinds lists the key types the case applies to; nil means all.
	Kinds []mockserver.KeyKind
	// Reference points to the documentation or public report that
	// justifies the requirement.
	Reference string
	// Run checks the requirement against one endpoint. It returns nil when
	// the backend conforms, a *Failure when it does not, a *Skipped when the
	// case cannot apply, or another error when the harness itself failed.
	Run func(ctx context.Context, e *Env) error
}

// Area is the ID's prefix in lower case, e.g. "reject" for REJECT-004.
func (c Case) Area() string {
	area, _, _ := strings.Cut(c.ID, "-")
	return strings.ToLower(area)
}

// Labels are the Ginkgo labels of the case: its ID, its area and its level
// in lower case, e.g. ["REJECT-004", "reject", "must"]. Label filters match
// them case-insensitively.
func (c Case) Labels() []string {
	return []string{c.ID, c.Area(), strings.ToLower(string(c.Level))}
}

// AppliesTo reports whether the case applies to key type k.
func (c Case) AppliesTo(k mockserver.KeyKind) bool {
	return c.Kinds == nil || slices.Contains(c.Kinds, k)
}

// KindsString lists the kinds the case applies to: "all" for every kind a
// target may name, "all but android" when it is shorter than the list.
func (c Case) KindsString() string {
	if c.Kinds == nil {
		return "all"
	}
	var missing []string
	n := 0 // kinds missing
	for _, p := range target.Providers() {
		var kinds []string
		for _, k := range p.KeyKinds() {
			if !slices.Contains(c.Kinds, k) {
				kinds = append(kinds, string(k))
			}
		}
		n += len(kinds)
		if len(kinds) > 1 && len(kinds) == len(p.KeyKinds()) {
			kinds = []string{p.String()} // "all but reCAPTCHA Enterprise"
		}
		missing = append(missing, kinds...)
	}
	if n < len(c.Kinds) {
		return "all but " + strings.Join(missing, ", ")
	}
	s := make([]string, len(c.Kinds))
	for i, k := range c.Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

var (
	v3Only = []mockserver.KeyKind{mockserver.V3}
	// scored are the kinds with a score threshold where 1.0 is a human:
	// reCAPTCHA v3 and an Enterprise score key.
	scored = []mockserver.KeyKind{mockserver.V3, mockserver.EnterpriseScore}
	// web are the kinds whose answers carry the page's hostname.
	web = []mockserver.KeyKind{mockserver.V3, mockserver.V2Checkbox, mockserver.V2Invisible,
		mockserver.HCaptchaPublisher, mockserver.HCaptchaEnterprise, mockserver.TurnstileStandard,
		mockserver.EnterpriseScore, mockserver.EnterpriseCheckbox}
	withAction    = []mockserver.KeyKind{mockserver.V3, mockserver.TurnstileStandard}
	hcaptchaKinds = mockserver.HCaptcha.KeyKinds()
	hcEnterprise  = []mockserver.KeyKind{mockserver.HCaptchaEnterprise}
	turnstileOnly = []mockserver.KeyKind{mockserver.TurnstileStandard}
	// notTurnstile: a Turnstile retry with the first call's idempotency
	// key is safe and recommended (WIRE-010 judges it), so "never resend"
	// holds for the others only.
	notTurnstile = slices.Concat(mockserver.ReCAPTCHA.KeyKinds(), mockserver.HCaptcha.KeyKinds(), mockserver.Enterprise.KeyKinds())
	android      = []mockserver.KeyKind{mockserver.Android}
	// siteverifyKinds are the kinds verified through a siteverify endpoint
	// (success and error-codes, the secret in a form body); reCAPTCHA
	// Enterprise's assessments API answers otherwise, and its own cases
	// (ENT-*) check what it has instead.
	siteverifyKinds = slices.Concat(mockserver.ReCAPTCHA.KeyKinds(), mockserver.HCaptcha.KeyKinds(), mockserver.Turnstile.KeyKinds())
	entKinds        = mockserver.Enterprise.KeyKinds()
)

// References used by several cases.
const (
	refVerify     = "Google, Verifying the user's response: https://developers.google.com/recaptcha/docs/verify"
	refV3         = "Google, reCAPTCHA v3: https://developers.google.com/recaptcha/docs/v3"
	refOutage     = "fail-open bugs: ryangjchandler/laravel-cloudflare-turnstile#72, Lychee-Technology/gforms-proxy#4; google/recaptcha (PHP) maps non-200 and transport errors to bad-response and connection-failed"
	refLifetime   = refVerify + " (\"each reCAPTCHA user response token is valid for two minutes, and can only be verified once\")"
	refHCaptcha   = "hCaptcha, Verify the user response server side: https://docs.hcaptcha.com/#verify-the-user-response-server-side; wire-facts §3"
	refTurnstile  = "Cloudflare, Turnstile server-side validation: https://developers.cloudflare.com/turnstile/get-started/server-side-validation/; wire-facts §4"
	refEnterprise = "Google, Create an assessment: https://cloud.google.com/recaptcha/docs/create-assessment-website (Interpret the assessment); wire-facts §2"
)

// catalog is the case table. IDs are append-only: never renumber, never
// reuse an ID; retire a case by deleting its row and leaving a gap.
var catalog = []Case{
	{
		ID: "ACCEPT-001", Title: "accepts a valid token", Level: Must,
		Requirement: "The backend MUST accept a request whose token siteverify confirms: success true, a score above the threshold (v3), the expected action (v3) and an allowed hostname or package name.",
		Reference:   refVerify + "; " + refV3,
		Run:         acceptValid,
	},
	{
		ID: "ACCEPT-002", Title: "accepts a score exactly at the threshold", Level: Must, Kinds: scored,
		Requirement: "The backend MUST accept a v3 (or reCAPTCHA Enterprise score key's) token whose score equals the configured minimum score: the threshold is inclusive.",
		Reference:   refV3 + " (\"By default, you can use a threshold of 0.5\"); ambethia/recaptcha reply.rb (score >= minimum_score)",
		Run:         acceptAtThreshold,
	},
	{
		ID: "REJECT-001", Title: "rejects a score below the threshold", Level: Must, Kinds: scored,
		Requirement: "The backend MUST reject a v3 (or reCAPTCHA Enterprise score key's) token whose score is below the minimum score, even though siteverify answers success true (Enterprise: tokenProperties.valid true).",
		Reference:   refV3 + " (\"Interpreting the score\"); ambethia/recaptcha#296, danvega/recaptcha#2",
		Run:         rejectLowScore,
	},
	{
		ID: "REJECT-002", Title: "rejects a v3 answer without a score", Level: Must, Kinds: v3Only,
		Requirement: "The backend MUST reject a v3 verification whose answer carries no score (as for a v2 key used in place of a v3 one) rather than treat the missing score as a pass.",
		Reference:   refV3 + "; jacobobryant/platypub#61 (v2 key answers have no score)",
		Run:         rejectMissingScore,
	},
	{
		ID: "REJECT-003", Title: "rejects an action mismatch", Level: Must, Kinds: withAction,
		Requirement: "The backend MUST reject a v3 or Turnstile token whose action differs from the action the endpoint expects, so a token minted on a low-value page cannot be replayed on this one.",
		Reference:   refV3 + " (\"Actions\": verify the action name); igorkasyanchuk/new_google_recaptcha#4; " + refTurnstile + " (action: validate it)",
		Run:         rejectActionMismatch,
	},
	{
		ID: "REJECT-004", Title: "rejects a hostname mismatch", Level: Must, Kinds: web,
		Requirement: "The backend MUST reject a token solved on a hostname it does not allow, so tokens harvested on a cloned site do not pass.",
		Reference:   refVerify + " (hostname); Google, Domain/Package Name Validation: https://developers.google.com/recaptcha/docs/domain_validation",
		Run:         rejectHostnameMismatch,
	},
	{
		ID: "REJECT-005", Title: "rejects an Android package name mismatch", Level: Must, Kinds: android,
		Requirement: "The backend MUST reject an Android token whose apk_package_name is not one of its apps' package names.",
		Reference:   refVerify + " (apk_package_name); google/recaptcha (PHP) setExpectedApkPackageName",
		Run:         rejectPackageMismatch,
	},
	{
		ID: "REJECT-006", Title: "rejects a request without a token", Level: Must,
		Requirement: "The backend MUST reject a request that carries no token at all.",
		Reference:   refVerify + " (missing-input-response); OWASP WSTG, Testing for Weak CAPTCHA (omitting the CAPTCHA parameter)",
		Run:         rejectMissingToken,
	},
	{
		ID: "REJECT-007", Title: "rejects an empty token", Level: Must,
		Requirement: "The backend MUST reject a request whose token is present but empty.",
		Reference:   refVerify + " (missing-input-response)",
		Run:         rejectEmptyToken,
	},
	{
		ID: "REJECT-008", Title: "rejects a malformed token without crashing", Level: Must,
		Requirement: "The backend MUST reject a token that reCAPTCHA never issued (forged, or with characters no token has) with its normal rejection, not an error.",
		Reference:   refVerify + " (invalid-input-response)",
		Run:         rejectMalformedToken,
	},
	{
		ID: "REJECT-009", Title: "rejects an oversized token without crashing", Level: Must,
		Requirement: "The backend MUST reject a token of several thousand characters with its normal rejection, without crashing.",
		Reference:   "ambethia/recaptcha configuration.rb (response_limit 4000); Cloudflare Turnstile (tokens are at most 2048 characters)",
		Run:         rejectOversizedToken,
	},
	{
		ID: "REJECT-010", Title: "rejects invalid-input-response", Level: Must, Kinds: siteverifyKinds,
		Requirement: "The backend MUST reject a request when siteverify answers success false with invalid-input-response.",
		Reference:   refVerify + " (error code reference)",
		Run:         rejectInvalidInputResponse,
	},
	{
		ID: "REJECT-011", Title: "rejects an expired token (timeout-or-duplicate)", Level: Must,
		Requirement: "The backend MUST reject a token older than its lifetime (two minutes for reCAPTCHA and hCaptcha, five for Turnstile), which siteverify answers with timeout-or-duplicate (hCaptcha: expired-input-response); that code is not benign.",
		Reference:   refLifetime + "; hatenadiary 2020-12-14 (accepting timeout-or-duplicate makes tokens replayable)",
		Run:         rejectExpiredToken,
	},
	{
		ID: "REJECT-012", Title: "rejects a replayed token", Level: Must,
		Requirement: "The backend MUST reject the second request that carries a token it has already seen, whatever the first request's outcome.",
		Reference:   refLifetime,
		Run:         rejectReplayedToken,
	},
	{
		ID: "REJECT-013", Title: "rejects success:false with an unknown error code", Level: Must, Kinds: siteverifyKinds,
		Requirement: "The backend MUST reject a request when siteverify answers success false with an error code it does not know (such as the undocumented browser-error).",
		Reference:   refVerify + " (error-codes is optional and open-ended); browser-error seen in production logs",
		Run:         rejectUnknownErrorCode,
	},
	{
		ID: "REJECT-014", Title: "rejects success:false with no error codes", Level: Must, Kinds: siteverifyKinds,
		Requirement: "The backend MUST reject a request when siteverify answers success false without any error-codes, as Google did for used tokens in 2016.",
		Reference:   "google/recaptcha (PHP) Response.php (success false without codes becomes unknown-error); rubyforgood/Flaredown VCR cassette (2016)",
		Run:         rejectNoErrorCodes,
	},
	{
		ID: "REJECT-015", Title: "rejects a v3 answer without an action", Level: Must, Kinds: v3Only,
		Requirement: "The backend MUST reject a v3 verification whose answer has a score but no action, rather than judge it as a v2 answer (which has neither) and skip the action check.",
		Reference:   refV3 + " (\"action: the action name for this request (important to verify)\"); wire-facts §1.2 and §1.8 (v3 answers carry score and action, v2 answers neither)",
		Run:         rejectMissingAction,
	},
	{
		ID: "REJECT-016", Title: "rejects an hCaptcha Enterprise bot score", Level: Must, Kinds: hcEnterprise,
		Requirement: "The backend MUST reject an hCaptcha Enterprise token whose risk score is above its threshold. hCaptcha's score is inverted (0 is a safe user, 1 a bot): a backend that reads it as reCAPTCHA's lets bots in.",
		Reference:   refHCaptcha + " (score: higher is riskier); hCaptcha/hcaptcha-python (passed=False when score > threshold)",
		Run:         rejectRiskyScore,
	},
	{
		ID: "REJECT-017", Title: "rejects a Turnstile cdata mismatch", Level: Must, Kinds: turnstileOnly,
		Requirement: "The backend MUST reject a Turnstile token whose cdata differs from the customer data it bound the widget to (a session, say), so a token solved for one session cannot be used in another.",
		Reference:   refTurnstile + " (cdata: customer data, integrity-protected; validate it)",
		Run:         rejectCDataMismatch,
	},
	{
		ID: "WIRE-001", Title: "verifies a submitted token exactly once", Level: Must,
		Requirement: "The backend MUST call siteverify exactly once for a request with a token: a second call (say, in a validator and again in the handler) always gets timeout-or-duplicate.",
		Reference:   refLifetime + "; hCaptcha/hcaptcha-go README (a retry consumes the token)",
		Run:         wireExactlyOnce,
	},
	{
		ID: "WIRE-002", Title: "verifies every submission (no cached verdict)", Level: Must,
		Requirement: "The backend MUST ask siteverify about every request that carries a token, and MUST NOT answer a resubmitted token from a cached verdict.",
		Reference:   refLifetime,
		Run:         wireNoCache,
	},
	{
		ID: "WIRE-003", Title: "sends the configured secret, not the sitekey", Level: Must,
		Requirement: "The backend MUST send its configured secret as the secret parameter, never the public sitekey.",
		Reference:   refVerify + " (\"secret: Required. The shared key between your site and reCAPTCHA.\")",
		Run:         wireSendsSecret,
	},
	{
		ID: "WIRE-004", Title: "keeps the secret out of the URL", Level: Must, Kinds: siteverifyKinds,
		Requirement: "The backend MUST send the secret in the POST body, never in the URL query, where proxies and servers log it.",
		Reference:   refVerify + " (METHOD: POST); OWASP, Information exposure through query strings in URL: https://owasp.org/www-community/vulnerabilities/Information_exposure_through_query_strings_in_url",
		Run:         wireSecretNotInURL,
	},
	{
		ID: "WIRE-005", Title: "sends a form-encoded POST", Level: Must,
		Requirement: "The backend MUST verify with a POST whose body is one the provider reads (application/x-www-form-urlencoded; for Turnstile also multipart/form-data or JSON) and carries the token as response: reCAPTCHA and hCaptcha do not read JSON bodies. reCAPTCHA Enterprise reads only a JSON Assessment carrying the token as event.token.",
		Reference:   refVerify + " (POST parameters); HR/recaptcha-worker#1, better-auth/better-auth#1684 (JSON bodies fail); wire-facts §2.1, §3.1, §4.1",
		Run:         wireFormPost,
	},
	{
		ID: "WIRE-006", Title: "forwards the client IP as remoteip", Level: Should,
		Requirement: "The backend SHOULD pass the end user's IP address (from its configured client IP header, or the connection) as remoteip.",
		Reference:   refVerify + " (\"remoteip: Optional. The user's IP address.\")",
		Run:         wireRemoteIP,
	},
	{
		ID: "WIRE-007", Title: "does not call siteverify without a token", Level: Should,
		Requirement: "The backend SHOULD reject a request with a missing or empty token without calling siteverify.",
		Reference:   "google/recaptcha (PHP) ReCaptcha::verify (an empty response is missing-input-response without a request)",
		Run:         wireNoCallWithoutToken,
	},
	{
		ID: "WIRE-008", Title: "does not resend a token after a failed call", Level: Should, Kinds: notTurnstile,
		Requirement: "The backend SHOULD NOT call siteverify again with the same token after a failed call: the first call may have consumed it, so a retry only turns an outage into timeout-or-duplicate.",
		Reference:   "hCaptcha/hcaptcha-go README (retrying after a network error consumes the token); " + refLifetime,
		Run:         wireNoRetry,
	},
	{
		ID: "WIRE-009", Title: "does not resend a token after a timeout", Level: Should, Kinds: notTurnstile,
		Requirement: "The backend SHOULD NOT send a token to siteverify again after its call for that token timed out, neither itself nor through an HTTP client that retries idempotent requests: siteverify may have received and consumed the token, so the resend gets timeout-or-duplicate or verifies one token twice.",
		Reference:   refLifetime + "; Ruby Net::HTTP max_retries (an idempotent request is retried once after Net::ReadTimeout), which resends the recaptcha gem's GET verification; hCaptcha/hcaptcha-go README (a retry consumes the token)",
		Run:         wireNoRetryAfterTimeout,
	},
	{
		ID: "WIRE-010", Title: "retries Turnstile with its idempotency key", Level: Should,
		Kinds:       turnstileOnly,
		Requirement: "When the backend retries a Turnstile verification (after a lost answer, a 5xx or internal-error), it SHOULD send the same idempotency_key as the first call, so the retry gets the original answer instead of timeout-or-duplicate.",
		Reference:   refTurnstile + " (idempotency_key; internal-error: retry)",
		Run:         wireIdempotentRetry,
	},
	{
		ID: "WIRE-011", Title: "sends its sitekey to hCaptcha", Level: Should, Kinds: hcaptchaKinds,
		Requirement: "The backend SHOULD send its sitekey with every hCaptcha verification, so siteverify pins the token to the site it was solved for (sitekey-secret-mismatch otherwise).",
		Reference:   refHCaptcha + " (sitekey: optional, recommended); wire-facts §3.1",
		Run:         wireSendsSitekey,
	},
	{
		ID: "OUTAGE-001", Title: "follows the outage policy on HTTP 500", Level: Must,
		Requirement: "When siteverify answers HTTP 500 with Google's HTML error page, the backend MUST answer as its declared outage policy says.",
		Reference:   refOutage,
		Run:         outageHTTP500,
	},
	{
		ID: "OUTAGE-002", Title: "follows the outage policy on HTTP 503, even with a success body", Level: Must,
		Requirement: "When siteverify answers HTTP 503, the backend MUST answer as its declared outage policy says, even if the body is JSON that claims success: only a 200 answer is a verdict.",
		Reference:   refOutage,
		Run:         outageHTTP503,
	},
	{
		ID: "OUTAGE-003", Title: "follows the outage policy on an HTML page with HTTP 200", Level: Must,
		Requirement: "When siteverify answers HTTP 200 with an HTML page (a proxy, captive portal or interstitial), the backend MUST answer as its declared outage policy says.",
		Reference:   refOutage + "; Lychee-Technology/gforms-proxy#4 (an HTML page parsed as JSON)",
		Run:         outageHTMLPage,
	},
	{
		ID: "OUTAGE-004", Title: "follows the outage policy on malformed JSON", Level: Must,
		Requirement: "When siteverify answers HTTP 200 with a body that is not valid JSON, the backend MUST answer as its declared outage policy says.",
		Reference:   refOutage + " (invalid-json)",
		Run:         outageMalformedJSON,
	},
	{
		ID: "OUTAGE-005", Title: "follows the outage policy on a truncated answer", Level: Must,
		Requirement: "When siteverify's answer stops halfway through (the connection closes before Content-Length bytes), the backend MUST answer as its declared outage policy says.",
		Reference:   refOutage,
		Run:         outageTruncated,
	},
	{
		ID: "OUTAGE-006", Title: "follows the outage policy on a connection reset", Level: Must,
		Requirement: "When siteverify resets the connection, the backend MUST answer as its declared outage policy says.",
		Reference:   refOutage + " (connection-failed)",
		Run:         outageReset,
	},
	{
		ID: "OUTAGE-007", Title: "answers in time when siteverify hangs", Level: Must,
		Requirement: "When siteverify accepts the request and never answers, the backend MUST give up and answer as its declared outage policy says within its declared time (outage.answer_within).",
		Reference:   "dpapathanasiou/go-recaptcha and pdupavillon/express-recaptcha (no client timeout); django-recaptcha RECAPTCHA_VERIFY_REQUEST_TIMEOUT (10 s)",
		Run:         outageHang,
	},
	{
		ID: "OUTAGE-008", Title: "never allows a request on invalid-input-secret", Level: Must,
		Requirement: "When siteverify answers invalid-input-secret (reCAPTCHA Enterprise: HTTP 400 API_KEY_INVALID), the backend MUST NOT accept the request: a configuration error is not an outage, whatever the outage policy.",
		Reference:   refVerify + " (invalid-input-secret); pelican/panel#792 (an invalid secret \"still works\"), Lychee-Technology/gforms-proxy#4",
		Run:         outageInvalidSecret,
	},
	{
		ID: "OUTAGE-009", Title: "keeps answering after a siteverify outage", Level: Must,
		Requirement: "A siteverify outage (a closed connection, a reset, an HTTP 500, malformed JSON) MUST NOT take the backend down: after each, the backend MUST still answer and accept a fresh valid token.",
		Reference:   refOutage + "; an unhandled transport error ends a Node process (Node.js docs, Errors: \"unhandled 'error' events\" and --unhandled-rejections=throw, the default since Node 15)",
		Run:         outageSurvival,
	},
	{
		ID: "LEAK-001", Title: "does not reveal the score or siteverify's answer", Level: Should,
		Requirement: "A rejection SHOULD NOT reveal the score, hostname, challenge time or any other part of siteverify's answer to the client, which would help an attacker tune a bot.",
		Reference:   "OWASP ASVS 4.0 V7.4.1 (generic messages for security-sensitive errors); " + refV3,
		Run:         leakNothing,
	},
	{
		ID: "LEAK-002", Title: "shows nothing of a siteverify failure", Level: Should,
		Requirement: "While siteverify misbehaves (an HTTP 5xx, an HTML page, malformed JSON), the backend's answers SHOULD NOT show, in their body or headers, a stack trace, exception text, the siteverify URL or any part of siteverify's answer.",
		Reference:   "OWASP ASVS 4.0 V7.4.1 (a generic message when an unexpected error occurs); CWE-209, Generation of Error Message Containing Sensitive Information; google/recaptcha (PHP) turns such answers into its own codes (bad-response, invalid-json), wire-facts §1.3 and §1.4",
		Run:         leakNothingOnOutage,
	},
	{
		ID: "LEAK-003", Title: "never shows the secret", Level: Must,
		Requirement: "The backend MUST NOT write its secret to its logs or output, nor send it in any answer (body or headers), whatever the outcome: logs and answers reach people and systems the secret is not for.",
		Reference:   refVerify + " (\"secret: Required. The shared key between your site and reCAPTCHA.\"); OWASP ASVS 4.0 V7.1.1 (the application does not log credentials); CWE-532, Insertion of Sensitive Information into Log File; npm google-recaptcha logs its request, secret included, with DEBUG=recaptcha",
		Run:         secretNeverShown,
	},
	{
		ID: "ENT-001", Title: "rejects valid:false whatever the score", Level: Must, Kinds: entKinds,
		Requirement: "The backend MUST reject a reCAPTCHA Enterprise assessment whose tokenProperties.valid is false, even when its score, action and hostname would pass: the score of an invalid token means nothing.",
		Reference:   refEnterprise + " (\"check that the token is valid\" before the score); wire-facts §2.2 (valid false with INVALID_REASON_UNSPECIFIED for a token of another key)",
		Run:         rejectInvalidAssessment,
	},
	{
		ID: "ENT-002", Title: "treats no invalidReason as success", Level: Must, Kinds: entKinds,
		Requirement: "The backend MUST reject an assessment with valid false whatever its invalidReason: BROWSER_ERROR (which an attacker can fake), UNEXPECTED_ACTION (Google's own action check, which the backend MUST honour) and reasons it does not know are refusals, not soft warnings.",
		Reference:   refEnterprise + "; wire-facts §2.2 (the invalidReason enum: BROWSER_ERROR is retriable and fakeable, UNEXPECTED_ACTION for policy-based keys)",
		Run:         rejectInvalidReasons,
	},
	{
		ID: "ENT-003", Title: "compares the expected action", Level: Must, Kinds: entKinds,
		Requirement: "The backend MUST compare tokenProperties.action with the action the endpoint expects and reject a mismatch: Google reports UNEXPECTED_ACTION only for policy-based keys, so for the others the comparison is the backend's own.",
		Reference:   refEnterprise + " (\"verify that the action name matches\"); wire-facts §2.2 (UNEXPECTED_ACTION only for POLICY_BASED_CHALLENGE keys)",
		Run:         rejectEnterpriseActionMismatch,
	},
	{
		ID: "ENT-004", Title: "honours the classification reasons it uses", Level: Must, Kinds: entKinds,
		Requirement: "A backend that declares it refuses some classification reasons (endpoint reject_reasons, e.g. AUTOMATION) MUST reject a valid, high-scoring assessment whose riskAnalysis.reasons names one of them.",
		Reference:   refEnterprise + " (riskAnalysis.reasons); wire-facts §2.2 (ClassificationReason)",
		Run:         rejectDeclaredReasons,
	},
	{
		ID: "ENT-005", Title: "follows the outage policy on an API error", Level: Must, Kinds: entKinds,
		Requirement: "When the assessments API answers with Google's error envelope (403 PERMISSION_DENIED, 429 RESOURCE_EXHAUSTED, 400 INVALID_ARGUMENT, 503 UNAVAILABLE), the backend MUST answer as its declared outage policy says: an error envelope is no assessment, and its absent tokenProperties are no pass.",
		Reference:   "wire-facts §2.3 (Google's API error envelope); google-gax (the Node client throws on any non-2xx); " + refOutage,
		Run:         enterpriseAPIErrors,
	},
	{
		ID: "ENT-006", Title: "never shows a URL with the API key", Level: Must, Kinds: entKinds,
		Requirement: "The backend MUST NOT show a URL carrying its API key (?key=) in its answers or its logs, in particular when an assessment call fails in transport (a connection reset): HTTP clients quote the request URL in such errors, and with ?key= the URL holds the key.",
		Reference:   "wire-facts §2.1 (?key= in the URL, as community clients send it); Go net/http (*url.Error quotes the URL), Node undici and Python requests likewise; CWE-532, Insertion of Sensitive Information into Log File",
		Run:         apiKeyNeverShownOnTransportError,
	},
}

// Catalog returns the catalog in ID order within each area, areas in the
// order accept, reject, wire, outage, leak, ent. The slice is a copy.
func Catalog() []Case { return slices.Clone(catalog) }

// Lookup returns the case with the given ID (case-insensitive).
func Lookup(id string) (Case, bool) {
	for _, c := range catalog {
		if strings.EqualFold(c.ID, id) {
			return c, true
		}
	}
	return Case{}, false
}
