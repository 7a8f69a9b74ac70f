package mockserver

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// outcome is the mock's verdict before a provider dialect turns it into wire
// error codes. Expired and duplicate are kept apart here (and in the journal)
// even though reCAPTCHA reports both as timeout-or-duplicate; hCaptcha, for
// one, does not.
type outcome int

const (
	outcomeSuccess outcome = iota
	outcomeMissing         // missing response and/or secret; see verdict.missing*
	outcomeInvalidSecret
	outcomeInvalidResponse
	outcomeExpired
	outcomeDuplicate
	outcomeBadRequest
	outcomeCodes // a provider's own failure, with its codes in verdict.codes
)

// verdict is the result of verifying one request.
type verdict struct {
	outcome         outcome
	missingResponse bool
	missingSecret   bool
	site            Site
	claims          *claims // nil unless the token decoded
	challengeTS     time.Time
	codes           []string       // outcomeCodes: the wire error codes
	retry           bool           // success again: an idempotent retry (Turnstile)
	test            bool           // answered for the provider's official test keys
	request         *verifyRequest // the request, for dialects that echo it (Enterprise)
}

// Provider is one siteverify provider's wire: where the real service lives,
// how it reads a request, what its tokens look like and how long they live,
// its error vocabulary and answer layout, and its official test keys. The
// core of the mock (tokens, clock, rules, journal, admin API) is the same for
// every provider; everything that differs is here. Providers lists them.
type Provider struct {
	name, title   string
	verifyPath    string
	routes        []string // mux patterns of the verify endpoint; nil means verifyPath
	scriptPaths   []string
	prefixes      []string // host + path prefix of every real URL the mock stands in for
	tokenField    string
	tokenLifetime time.Duration
	kinds         []KeyKind // the first is the default of a new site
	newKeys       func() (siteKey, secret string)
	tokenPrefix   string // how the provider's tokens start (each provider's differs)
	bodyTypes     []string
	testSite      func() Site
	wire          dialect
}

// Providers lists every provider the mock speaks.
func Providers() []*Provider { return []*Provider{ReCAPTCHA, HCaptcha, Turnstile, Enterprise} }

// ProviderForURL returns the provider one of whose RealPrefixes u is under.
func ProviderForURL(u *url.URL) (*Provider, bool) {
	for _, p := range Providers() {
		if p.IsRealURL(u) {
			return p, true
		}
	}
	return nil, false
}

// LookupProvider returns the provider with this name ("recaptcha").
func LookupProvider(name string) (*Provider, bool) {
	for _, p := range Providers() {
		if p.name == name {
			return p, true
		}
	}
	return nil, false
}

// Name is the provider's identifier in target files, fixtures and the admin
// API, e.g. "recaptcha".
func (p *Provider) Name() string { return p.name }

// String is the provider's human name, e.g. "Google reCAPTCHA".
func (p *Provider) String() string { return p.title }

// VerifyPath is the siteverify path, the same on the real hosts and on the
// mock.
func (p *Provider) VerifyPath() string { return p.verifyPath }

// ScriptPaths are the paths of the provider's client scripts, which the mock
// serves stand-ins for.
func (p *Provider) ScriptPaths() []string { return slices.Clone(p.scriptPaths) }

// RealURL is the provider's real URL for path, on its main host (for
// staging runs against the real service).
func (p *Provider) RealURL(path string) string {
	host, _, _ := strings.Cut(p.prefixes[0], "/")
	return "https://" + host + path
}

// RealPrefixes lists every real URL the mock stands in for, as host plus
// path prefix, e.g. "www.google.com/recaptcha/": what a browser or proxy
// should send to the mock instead.
func (p *Provider) RealPrefixes() []string { return slices.Clone(p.prefixes) }

// RealHosts lists the host names of RealPrefixes, each once, in their order:
// the hosts an HTTPS interceptor must answer for.
func (p *Provider) RealHosts() []string {
	var hosts []string
	for _, pre := range p.prefixes {
		host, _, _ := strings.Cut(pre, "/")
		if !slices.Contains(hosts, host) {
			hosts = append(hosts, host)
		}
	}
	return hosts
}

// IsRealURL reports whether u is under one of RealPrefixes.
func (p *Provider) IsRealURL(u *url.URL) bool {
	hp := strings.ToLower(u.Hostname()) + u.Path
	for _, pre := range p.prefixes {
		if strings.HasPrefix(hp, pre) {
			return true
		}
	}
	return false
}

// RequestBodyTypes are the media types of the siteverify request bodies the
// provider reads.
func (p *Provider) RequestBodyTypes() []string { return slices.Clone(p.bodyTypes) }

// TokenField is the form field the provider's widget fills with the token,
// e.g. "g-recaptcha-response".
func (p *Provider) TokenField() string { return p.tokenField }

// KeyKinds are the provider's key kinds.
func (p *Provider) KeyKinds() []KeyKind { return slices.Clone(p.kinds) }

// TokenLifetime is how long a token stays verifiable.
func (p *Provider) TokenLifetime() time.Duration { return p.tokenLifetime }

// TestSite is the provider's official test key pair, answered as the
// provider documents (every Server knows it); the zero Site for a provider
// without one (reCAPTCHA Enterprise: its testing keys are ordinary keys
// with TestingScore).
func (p *Provider) TestSite() Site { return p.testSite() }

// sharedErrorCodes maps a failed verdict to the wire codes the providers
// share, with the provider's own codes for an expired and a replayed token.
// Both parameters missing: response first, then secret, as Google and
// hCaptcha answer an empty request (wire-facts §1.2, §3.3).
func sharedErrorCodes(v *verdict, expired, duplicate string) []string {
	switch v.outcome {
	case outcomeMissing:
		var codes []string
		if v.missingResponse {
			codes = append(codes, CodeMissingInputResponse)
		}
		if v.missingSecret {
			codes = append(codes, CodeMissingInputSecret)
		}
		return codes
	case outcomeInvalidSecret:
		return []string{CodeInvalidInputSecret}
	case outcomeInvalidResponse:
		return []string{CodeInvalidInputResponse}
	case outcomeExpired:
		return []string{expired}
	case outcomeDuplicate:
		return []string{duplicate}
	case outcomeBadRequest:
		return []string{CodeBadRequest}
	case outcomeCodes:
		return v.codes
	}
	return nil
}

// dialect is the part of a Provider that reads requests, applies the
// provider's own checks and renders answers.
type dialect interface {
	// parse reads a siteverify request's parameters.
	parse(r *http.Request) verifyRequest
	// methodStatus is the HTTP status of an answer to a request with this
	// method: 200, or 405 for a method the provider refuses.
	methodStatus(method string) int
	// tokenFirst is true when an invalid token is reported before an
	// unknown secret (hCaptcha's recorded order).
	tokenFirst() bool
	// testVerdict answers for the provider's official test keys, which
	// follow their own rules; ok is false for any other request.
	testVerdict(vr *verifyRequest, now time.Time) (v verdict, ok bool)
	// check applies the provider's checks of a request's own parameters
	// (hCaptcha's sitekey and remoteip) once its token is known to be the
	// site's; ok is false when they pass.
	check(vr *verifyRequest, site Site) (v verdict, ok bool)
	// serverHeader is the Server header of the provider's answers.
	serverHeader() string
	// errorCodes returns the wire error codes for a failed verdict.
	errorCodes(v *verdict) []string
	// appendAnswer renders the JSON answer for v (v.request is the request).
	appendAnswer(buf []byte, v *verdict) []byte
	// appendErrorCodes renders a failure answer with exactly these codes.
	appendErrorCodes(buf []byte, codes []string) []byte
	// contentType is the Content-Type of answers.
	contentType() string
	// errorPage is the provider's HTML error page for an HTTP status.
	errorPage(status int) []byte
}

// statusDialect is a dialect whose answers' HTTP status depends on the
// verdict (Enterprise's API errors); the others answer 200.
type statusDialect interface {
	answerStatus(v *verdict) int
}

// postOnly is the methodStatus of a provider that answers POST only.
func postOnly(method string) int {
	if method != http.MethodPost {
		return http.StatusMethodNotAllowed
	}
	return http.StatusOK
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal; invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xF])
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// appendTimestamp appends t as a JSON string in Google's challenge_ts form,
// "2006-01-02T15:04:05Z" in UTC, without time.Format's layout parsing
// (which showed up in profiles). Years outside 0-9999 fall back to Format.
func appendTimestamp(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return appendJSONString(b, t.Format("2006-01-02T15:04:05Z"))
	}
	hour, minute, sec := t.Clock()
	b = append(b, '"')
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	return append(b, 'Z', '"')
}

// appendTimestampMillis appends t as a JSON string with milliseconds,
// "2006-01-02T15:04:05.000Z" in UTC, as hCaptcha and Turnstile write
// challenge_ts.
func appendTimestampMillis(b []byte, t time.Time) []byte {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return appendJSONString(b, t.Format("2006-01-02T15:04:05.000Z"))
	}
	b = appendTimestamp(b, t.Truncate(time.Second))
	b = b[:len(b)-2] // drop `Z"`
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/int(time.Millisecond), 3)
	return append(b, 'Z', '"')
}

// appendDigits appends v, zero-padded to width (at most 4) digits.
func appendDigits(b []byte, v, width int) []byte {
	var d [4]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:width]...)
}
