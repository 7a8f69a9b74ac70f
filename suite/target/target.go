// Package target reads the target file of `siteverify conform`: a YAML
// description of the backend under test, how to start it, which endpoints it
// protects with reCAPTCHA, how to tell its answers apart, and what it promises
// to do when siteverify misbehaves.
//
// Parsing is strict: an unknown field, a value of the wrong type or an
// inconsistent combination is an error that names the file, the line, the
// field path and the fix, for example
//
//	targets/shop.yaml:14: endpoints[0].token.in: unknown value "cookie"; use one of field, header
//
// All problems of a file are reported at once. Defaults are filled in by
// [Parse], so a parsed Target is complete; each field's documentation gives
// its default.
package target

import (
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// Target is a parsed, validated target file with defaults applied.
type Target struct {
	// Name labels reports, e.g. "shop-api". Default: the file name without
	// its extension.
	Name string `yaml:"name"`
	// Provider is the CAPTCHA provider: "recaptcha" (the default),
	// "hcaptcha", "turnstile" or "recaptcha-enterprise" (the assessments
	// API; see Project).
	Provider string `yaml:"provider"`
	// Kind is the provider's key type, e.g. for reCAPTCHA "v3",
	// "v2-checkbox", "v2-invisible" or "android", for reCAPTCHA Enterprise
	// "recaptcha-enterprise" (a score key) or
	// "recaptcha-enterprise-checkbox". Required.
	Kind mockserver.KeyKind `yaml:"kind"`
	// SiteKey is the public key the backend (and its pages) are configured
	// with, e.g. "6LcX…". Required unless Start is set, in which case an
	// empty one is generated and passed to the backend through {{sitekey}}.
	SiteKey string `yaml:"sitekey"`
	// Secret is the secret key the backend sends to siteverify (for
	// reCAPTCHA Enterprise, the project's API key). Required
	// unless Start is set (then generated, see {{secret}}). Use a throwaway
	// value: the mock accepts any secret you register, so this is never a
	// production secret.
	Secret string `yaml:"secret"`
	// Project is the Google Cloud project ID of a reCAPTCHA Enterprise key:
	// the harness registers the site in it, and {{verify_url}} is its
	// assessments URL (…/v1/projects/PROJECT/assessments). Default
	// mockserver.EnterpriseTestProject ("siteverify-test"). Provider
	// recaptcha-enterprise only.
	Project string `yaml:"project"`
	// Start tells the harness how to start the backend. Without it the
	// backend must already be running, configured with the mock's verify URL.
	Start *Start `yaml:"start"`
	// Endpoints are the protected endpoints. At least one is required.
	Endpoints []Endpoint `yaml:"endpoints"`
	// Classify says what accepted, rejected and challenge answers look like,
	// for every endpoint that has no classify section of its own.
	Classify Classify `yaml:"classify"`
	// Outage is the declared behaviour when siteverify fails.
	Outage Outage `yaml:"outage"`
	// Pages are browser flows for `siteverify browser` (not used by conform).
	Pages []Page `yaml:"pages"`

	// File is the path the target was read from, "" if parsed from bytes.
	File string `yaml:"-"`
	// Dir is the directory relative paths (Start.Dir, a relative command)
	// are resolved against: the directory of File, or the working directory.
	Dir string `yaml:"-"`

	lines map[string]int
}

// Start describes how the harness starts the backend. Strings may contain
// placeholders (see [Placeholders]).
type Start struct {
	// Command is the program and its arguments, e.g.
	// ["python3", "app.py", "--port", "{{port}}"]. Required. A program name
	// without a slash is looked up in PATH; a relative path with a slash is
	// relative to Dir.
	Command []string `yaml:"command"`
	// Dir is the working directory, relative to the target file's directory.
	// Default: the target file's directory.
	Dir string `yaml:"dir"`
	// Env adds to (or overrides) the environment the harness runs with, e.g.
	// RECAPTCHA_VERIFY_URL: "{{verify_url}}".
	Env map[string]string `yaml:"env"`
	// ReadyURL is polled with GET until it answers 2xx, e.g.
	// "http://127.0.0.1:{{port}}/healthz". Default: wait until {{port}}
	// accepts TCP connections (which needs {{port}} to appear in the start
	// section).
	ReadyURL string `yaml:"ready_url"`
	// ReadyTimeout bounds the wait for readiness. Default 30s.
	ReadyTimeout Duration `yaml:"ready_timeout"`
	// StopTimeout is how long the backend gets to exit after SIGTERM before
	// it is killed. Default 5s.
	StopTimeout Duration `yaml:"stop_timeout"`
	// UseProxy is for a backend that hard-codes the provider's real verify
	// URL and honours HTTPS_PROXY (Go, Python requests, curl/PHP, Ruby,
	// Perl LWP, axios >= 1.17, grpc): the harness starts a forward proxy
	// that answers the providers' hosts from the mock over TLS signed by the
	// mock's CA, and gives the backend the proxy variables
	// (intercept.ProxyEnv: HTTPS_PROXY, HTTP_PROXY, https_proxy, http_proxy
	// = {{proxy_url}}; NO_PROXY, no_proxy = loopback) and the CA variables
	// (intercept.CAEnv: SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE,
	// NODE_EXTRA_CA_CERTS, PERL_LWP_SSL_CA_FILE,
	// GRPC_DEFAULT_SSL_ROOTS_FILE_PATH = {{ca_file}}). start.env wins over
	// them. Default false.
	UseProxy bool `yaml:"use_proxy"`
	// ResolveProviders is for a backend that ignores proxy variables
	// (Node's https module and fetch, many edge runtimes): the harness runs
	// it in a private mount namespace (unshare, Linux, as root) where a
	// bind-mounted /etc/hosts resolves every provider host to the session's
	// TLS listener on a private loopback address, port 443, and gives it
	// the CA variables. The machine's /etc/hosts is not touched, and the
	// backend still reaches everything else on the machine's loopback.
	// Default false.
	ResolveProviders bool `yaml:"resolve_providers"`
}

// Endpoint is one protected endpoint: how to call it with a valid request
// and what the backend is expected to check.
type Endpoint struct {
	// Name labels the endpoint in reports. Default: method and URL path,
	// e.g. "POST /api/login". Names must be unique.
	Name string `yaml:"name"`
	// Method is the HTTP method. Default POST.
	Method string `yaml:"method"`
	// URL is the endpoint's absolute URL, e.g.
	// "http://127.0.0.1:{{port}}/api/login". Required.
	URL string `yaml:"url"`
	// Body is how Fields (and the token, when Token.In is "field") are sent:
	// "form" (application/x-www-form-urlencoded), "json" or "query" (URL
	// query parameters). Default "form", or "query" for GET.
	Body string `yaml:"body"`
	// Fields are the other fields of a valid request, e.g. {username: alice}.
	// For "form" and "query" values must be scalars; for "json" any YAML
	// value.
	Fields map[string]any `yaml:"fields"`
	// Headers are sent with every request, e.g. {Accept: application/json}.
	Headers map[string]string `yaml:"headers"`
	// Token says where the reCAPTCHA token goes.
	Token TokenPlace `yaml:"token"`
	// Action is the action the backend expects, e.g. "login". Required for
	// kinds v3 and recaptcha-enterprise; for kinds turnstile and
	// recaptcha-enterprise-checkbox, the action the page sets (empty:
	// none); not allowed for other kinds.
	Action string `yaml:"action"`
	// CData is the Turnstile customer data (data-cdata) the backend
	// expects, e.g. a session id; empty means none. Kind turnstile only.
	CData string `yaml:"cdata"`
	// MinScore is the v3 (or reCAPTCHA Enterprise score key's) threshold;
	// a score equal to it must be accepted. Default 0.5. Kinds v3 and
	// recaptcha-enterprise only. At most three decimals.
	MinScore *float64 `yaml:"min_score"`
	// RejectReasons are the reCAPTCHA Enterprise classification reasons
	// (riskAnalysis.reasons, e.g. AUTOMATION) for which the backend refuses
	// a request whatever its score; empty means it does not use reasons
	// (ENT-004 is then skipped). Provider recaptcha-enterprise only.
	RejectReasons []string `yaml:"reject_reasons"`
	// MaxScore is the hCaptcha Enterprise risk threshold: hCaptcha's score
	// is inverted (1 is a bot), and a score equal to it must be accepted.
	// Default 0.5. Kind hcaptcha-enterprise only. At most three decimals.
	MaxScore *float64 `yaml:"max_score"`
	// Hostnames are the page hostnames the backend allows, e.g.
	// ["shop.example.com"]. Required for web kinds (v3, v2-*), not allowed
	// for android. Tokens for valid requests use the first one.
	Hostnames []string `yaml:"hostnames"`
	// PackageNames are the Android package names the backend allows.
	// Required for kind android, not allowed otherwise.
	PackageNames []string `yaml:"package_names"`
	// ClientIPHeader is the request header the backend takes the client IP
	// from, which it should forward to siteverify as remoteip. Default
	// "X-Forwarded-For". "none" means the backend uses the TCP peer address.
	ClientIPHeader string `yaml:"client_ip_header"`
	// Classify overrides the top-level classify section for this endpoint.
	Classify *Classify `yaml:"classify"`
	// RequestTimeout bounds each request the suite sends to this endpoint,
	// e.g. "15s" (at most 5m). Default: outage.answer_within plus one
	// second. The hang case (OUTAGE-007) always waits answer_within plus
	// one second.
	RequestTimeout Duration `yaml:"request_timeout"`
}

// TokenPlace is where the reCAPTCHA token goes in a request.
type TokenPlace struct {
	// In is "field" (a form field, JSON property or query parameter,
	// according to Body) or "header". Default "field".
	In string `yaml:"in"`
	// Name is the field or header name. Default "g-recaptcha-response" for
	// form and query bodies, "gRecaptchaResponse" for JSON; required for a
	// header. A JSON name may be a dotted path ("captcha.token") to nest it.
	Name string `yaml:"name"`
}

// Classify describes the backend's answers. Each answer is classified by
// trying challenge, then rejected, then accepted; the first that matches
// wins, so an answer that looks like both a rejection and an acceptance is
// never counted as an acceptance. An answer that matches none is
// "unclassified", which fails any case expecting a class.
type Classify struct {
	// Accepted matches an answer that lets the request through. Required.
	Accepted *Matcher `yaml:"accepted"`
	// Rejected matches an answer that refuses the request (for a
	// fail-closed backend, include the status it uses for an outage, such
	// as 503). Required.
	Rejected *Matcher `yaml:"rejected"`
	// Challenge matches an answer that asks the user for another challenge.
	// Required when Outage.Policy is "challenge".
	Challenge *Matcher `yaml:"challenge"`
}

// Matcher matches an HTTP answer. Every condition given must hold, and at
// least one must be given.
type Matcher struct {
	// Status lists acceptable status codes, e.g. [403, 503].
	Status []int `yaml:"status"`
	// BodyContains is a substring the body must contain.
	BodyContains string `yaml:"body_contains"`
	// JSON requires the body to be JSON with a value at a path.
	JSON *JSONMatch `yaml:"json"`
	// Header requires a header to contain a substring (e.g. a redirect's
	// Location).
	Header *HeaderMatch `yaml:"header"`
}

// JSONMatch requires the JSON value at Path to equal Equals.
type JSONMatch struct {
	// Path is a dotted path into the body, e.g. "ok" or "result.status";
	// array elements are numbers ("errors.0").
	Path string `yaml:"path"`
	// Equals is the expected value, any YAML scalar or structure, e.g. true.
	Equals any `yaml:"equals"`
}

// HeaderMatch requires header Name to contain Contains.
type HeaderMatch struct {
	// Name is the header name, e.g. "Location".
	Name string `yaml:"name"`
	// Contains is the substring, e.g. "/welcome".
	Contains string `yaml:"contains"`
}

// Outage policies: what a backend does when siteverify gives no usable
// answer (5xx, HTML, broken JSON, reset, hang).
const (
	// FailClosed rejects the request. The default, and the safe choice.
	FailClosed = "fail-closed"
	// FailOpen accepts the request.
	FailOpen = "fail-open"
	// Challenge answers with the classify.challenge answer.
	Challenge = "challenge"
)

// Outage is the declared outage behaviour.
type Outage struct {
	// Policy is "fail-closed" (default), "fail-open" or "challenge".
	Policy string `yaml:"policy"`
	// AnswerWithin is how long the backend may take to answer when
	// siteverify hangs: its siteverify client timeout plus its own work.
	// Default 5s; at most 5m.
	AnswerWithin Duration `yaml:"answer_within"`
}

// Page is a browser flow, consumed by the browser package. The conform
// command parses and validates it but does not use it.
type Page struct {
	// Name labels the flow; unique. Required.
	Name string `yaml:"name"`
	// URL is the page's absolute URL; placeholders allowed. Required.
	URL string `yaml:"url"`
	// Kind is "v3", "v2-checkbox" or "v2-invisible". Default: the target's
	// kind (which must then be one of those).
	Kind mockserver.KeyKind `yaml:"kind"`
	// Form is the CSS selector of the form, e.g. "#login-form". Required.
	Form string `yaml:"form"`
	// Submit is the CSS selector of the submit button. Required.
	Submit string `yaml:"submit"`
	// Fields maps input selectors to values to type, e.g.
	// {"#username": alice}.
	Fields map[string]string `yaml:"fields"`
	// Success is what the page shows after an accepted submission. Required.
	Success PageResult `yaml:"success"`
	// Rejected is what the page shows after a rejected submission. Required.
	Rejected PageResult `yaml:"rejected"`
}

// PageResult is a page state to wait for.
type PageResult struct {
	// Selector is a CSS selector that must match, e.g. "#result.success".
	// Required.
	Selector string `yaml:"selector"`
	// Text, when set, must be contained in the matched element's text.
	Text string `yaml:"text"`
}

// ProviderValue is the target's provider (reCAPTCHA until the file is
// validated).
func (t *Target) ProviderValue() *mockserver.Provider {
	if p, ok := mockserver.LookupProvider(t.Provider); ok {
		return p
	}
	return mockserver.ReCAPTCHA
}

// Defaults.
const (
	DefaultProvider = "recaptcha"
	DefaultMethod   = "POST"
	DefaultMinScore = 0.5
	DefaultMaxScore = 0.5
	// DefaultProject is the reCAPTCHA Enterprise project of a target that
	// names none.
	DefaultProject        = mockserver.EnterpriseTestProject
	DefaultClientIPHeader = "X-Forwarded-For"
	DefaultAnswerWithin   = 5 * time.Second
	DefaultReadyTimeout   = 30 * time.Second
	DefaultStopTimeout    = 5 * time.Second
	// NoClientIPHeader is the ClientIPHeader value meaning "the backend
	// uses the TCP peer address".
	NoClientIPHeader = "none"
	// MaxAnswerWithin bounds Outage.AnswerWithin.
	MaxAnswerWithin = 5 * time.Minute
)

// Body encodings of an Endpoint.
const (
	BodyForm  = "form"
	BodyJSON  = "json"
	BodyQuery = "query"
)

// Token places.
const (
	TokenInField  = "field"
	TokenInHeader = "header"
)

// Duration is a time.Duration written as a Go duration string in YAML
// ("3s", "1m30s").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// EffectiveClassify returns the classify section that applies to ep.
func (t *Target) EffectiveClassify(ep *Endpoint) *Classify {
	if ep.Classify != nil {
		return ep.Classify
	}
	return &t.Classify
}

// Line returns the line of the field at path (as in error messages, e.g.
// "endpoints[0].url"), or 0 if unknown.
func (t *Target) Line(path string) int { return t.lines[path] }

// Where formats "file:line" for the field at path, for messages about a
// parsed target.
func (t *Target) Where(path string) string {
	return where(t.File, t.lines[path])
}
