package mockserver

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"strconv"
	"time"
)

// This file is hCaptcha's wire, all of it (wire-facts §3): paths, hosts,
// lifetime, test keys, error vocabulary, answer layout and how a request is
// read.

// HCaptcha is hCaptcha (publisher and Enterprise keys) at
// https://api.hcaptcha.com/siteverify.
var HCaptcha = hcaptchaProvider

// hcaptchaProvider is HCaptcha's wire, declared here so that go doc shows the
// exported value, not its fields.
var hcaptchaProvider = &Provider{
	name:       "hcaptcha",
	title:      "hCaptcha",
	verifyPath: HCaptchaVerifyPath,
	// The 2021 recordings used https://hcaptcha.com/siteverify: both hosts
	// answer (wire-facts §3.1).
	scriptPaths:   []string{"/1/api.js"},
	prefixes:      []string{"api.hcaptcha.com/", "hcaptcha.com/siteverify", "js.hcaptcha.com/"},
	tokenField:    "h-captcha-response",
	tokenLifetime: 120 * time.Second,
	kinds:         []KeyKind{HCaptchaPublisher, HCaptchaEnterprise},
	newKeys:       hcaptchaKeys,
	tokenPrefix:   "P1_", // real tokens are "P1_eyJ…" (§3.1)
	bodyTypes:     []string{"application/x-www-form-urlencoded"},
	testSite: func() Site {
		return Site{SiteKey: HCaptchaTestSiteKey, Secret: HCaptchaTestSecret, Kind: HCaptchaPublisher, Hostname: HCaptchaTestHostname}
	},
	wire: hcaptcha{},
}

// HCaptchaVerifyPath is hCaptcha's siteverify path.
const HCaptchaVerifyPath = "/siteverify"

// hCaptcha's official test keys (wire-facts §3.5): three sitekeys share one
// secret, and each sitekey's widget emits a fixed token that siteverify
// accepts, every time, answering hostname "dummy-key-pass". The
// Enterprise sets answer a score of 0 (safe) and 1 (bot).
const (
	HCaptchaTestSecret            = "0x0000000000000000000000000000000000000000"
	HCaptchaTestSiteKey           = "10000000-ffff-ffff-ffff-000000000001"
	HCaptchaTestToken             = "10000000-aaaa-bbbb-cccc-000000000001"
	HCaptchaEnterpriseSafeSiteKey = "20000000-ffff-ffff-ffff-000000000002"
	HCaptchaEnterpriseSafeToken   = "20000000-aaaa-bbbb-cccc-000000000002"
	HCaptchaEnterpriseBotSiteKey  = "30000000-ffff-ffff-ffff-000000000003"
	HCaptchaEnterpriseBotToken    = "30000000-aaaa-bbbb-cccc-000000000003"
	HCaptchaTestHostname          = "dummy-key-pass"
)

// hCaptcha's own error codes; the rest of its vocabulary is reCAPTCHA's
// (wire-facts §3.4).
const (
	CodeExpiredInputResponse  = "expired-input-response"
	CodeAlreadySeenResponse   = "already-seen-response"
	CodeInvalidRemoteIP       = "invalid-remoteip"
	CodeInvalidSitekey        = "invalid-sitekey"
	CodeSitekeySecretMismatch = "sitekey-secret-mismatch"
	// CodeNotUsingDummySecret is what siteverify answers a test token sent
	// with a real secret (recorded; the docs call it not-using-dummy-passcode).
	CodeNotUsingDummySecret = "not-using-dummy-secret"
)

// hcaptchaTestSets are the test tokens and what they answer.
var hcaptchaTestSets = map[string]struct {
	siteKey string
	kind    KeyKind
	score   uint16 // milli; Enterprise only
}{
	HCaptchaTestToken:           {HCaptchaTestSiteKey, HCaptchaPublisher, 0},
	HCaptchaEnterpriseSafeToken: {HCaptchaEnterpriseSafeSiteKey, HCaptchaEnterprise, 0},
	HCaptchaEnterpriseBotToken:  {HCaptchaEnterpriseBotSiteKey, HCaptchaEnterprise, 1000},
}

// hcaptchaKeys makes keys shaped like hCaptcha's: a UUID sitekey and "0x"
// plus 40 hex digits as the secret.
func hcaptchaKeys() (siteKey, secret string) {
	var b [36]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	u := hex.EncodeToString(b[:16])
	return u[:8] + "-" + u[8:12] + "-" + u[12:16] + "-" + u[16:20] + "-" + u[20:32], "0x" + hex.EncodeToString(b[16:36])
}

// isUUID reports whether s has the 8-4-4-4-12 hex shape of hCaptcha's
// sitekeys.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

type hcaptcha struct{}

func (hcaptcha) contentType() string { return "application/json" }

func (hcaptcha) serverHeader() string { return "cloudflare" }

// hCaptcha's docs say not to use GET, and what a GET gets is not recorded
// (wire-facts §3.1 [uncertain]). Our choice: it is answered (200) but its
// query is not read, so it is missing-input-*, as a JSON body is.
func (hcaptcha) methodStatus(string) int { return http.StatusOK }

// The recorded traffic checks the token before the secret:
// response=invalid&secret=invalid gets invalid-input-response (§3.3).
func (hcaptcha) tokenFirst() bool { return true }

// parse reads a urlencoded POST body only. A JSON body is read as no
// parameters (§3.1, recorded), and so is a query string.
func (hcaptcha) parse(r *http.Request) verifyRequest {
	var vr verifyRequest
	vr.query, _ = parseForm(r.URL.RawQuery) // for the journal: a secret in the URL shows there
	if r.Method != http.MethodPost || r.Body == nil {
		return vr
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	body, err := readBody(r, (*bp)[:0])
	*bp = body
	switch {
	case err != nil || len(body) > maxBodyBytes:
		vr.badRequest = true
	case isFormContentType(r.Header.Get("Content-Type")):
		f, err := parseForm(string(body))
		vr.form = f
		if err != nil {
			vr.badRequest = true
		}
	}
	vr.secret, vr.token, vr.remoteIP, vr.siteKey = vr.form.Get("secret"), vr.form.Get("response"), vr.form.Get("remoteip"), vr.form.Get("sitekey")
	if vr.secret != "" {
		vr.secretIn = "form"
	}
	return vr
}

// testVerdict answers the three test sets (§3.3, §3.5): a test token with
// the test secret passes every time (after the sitekey and remoteip
// checks); a test token with another secret is not-using-dummy-secret; the
// test secret with any other token is invalid-input-response (our choice:
// the docs say only the test tokens pass).
func (d hcaptcha) testVerdict(vr *verifyRequest, now time.Time) (verdict, bool) {
	set, testToken := hcaptchaTestSets[vr.token]
	switch {
	case testToken && vr.secret == HCaptchaTestSecret:
		site := Site{SiteKey: set.siteKey, Kind: set.kind, Hostname: HCaptchaTestHostname}
		if v, failed := d.check(vr, site); failed {
			return v, true
		}
		c := &claims{kind: set.kind, siteKey: set.siteKey, hostname: HCaptchaTestHostname, scoreMilli: set.score}
		return verdict{outcome: outcomeSuccess, site: site, claims: c, challengeTS: now, test: true}, true
	case testToken:
		c := &claims{kind: HCaptchaPublisher, hostname: HCaptchaTestHostname}
		return verdict{outcome: outcomeCodes, codes: []string{CodeNotUsingDummySecret}, claims: c, challengeTS: now, test: true}, true
	case vr.secret == HCaptchaTestSecret:
		return verdict{outcome: outcomeInvalidResponse}, true
	}
	return verdict{}, false
}

// check applies the optional sitekey and remoteip (§3.1, §3.3): a sitekey
// other than the token's is sitekey-secret-mismatch when it is shaped like
// one, invalid-sitekey otherwise; a remoteip that is not an IP address is
// invalid-remoteip.
func (hcaptcha) check(vr *verifyRequest, site Site) (verdict, bool) {
	switch {
	case vr.siteKey != "" && vr.siteKey != site.SiteKey && isUUID(vr.siteKey):
		return verdict{outcome: outcomeCodes, codes: []string{CodeSitekeySecretMismatch}}, true
	case vr.siteKey != "" && vr.siteKey != site.SiteKey:
		return verdict{outcome: outcomeCodes, codes: []string{CodeInvalidSitekey}}, true
	case vr.remoteIP != "" && net.ParseIP(vr.remoteIP) == nil:
		return verdict{outcome: outcomeCodes, codes: []string{CodeInvalidRemoteIP}}, true
	}
	return verdict{}, false
}

func (hcaptcha) errorCodes(v *verdict) []string {
	return sharedErrorCodes(v, CodeExpiredInputResponse, CodeAlreadySeenResponse)
}

// appendAnswer writes hCaptcha's compact layout in the recorded field order
// (§3.3): publisher keys {"success","credit","hostname","challenge_ts"},
// Enterprise keys {"success","hostname","sitekey","challenge_ts","score",
// "score_reason"}; challenge_ts in milliseconds. A test token sent with a
// real secret fails with credit, hostname and challenge_ts, as recorded.
func (d hcaptcha) appendAnswer(b []byte, v *verdict) []byte {
	c := v.claims
	if v.outcome != outcomeSuccess {
		if v.test && c != nil {
			b = append(b, `{"success":false,"credit":false,"hostname":`...)
			b = appendJSONString(b, c.hostname)
			b = append(b, `,"error-codes":`...)
			b = appendCodesCompact(b, d.errorCodes(v))
			b = append(b, `,"challenge_ts":`...)
			b = appendTimestampMillis(b, v.challengeTS)
			return append(b, '}')
		}
		return d.appendErrorCodes(b, d.errorCodes(v))
	}
	if c.kind == HCaptchaEnterprise {
		b = append(b, `{"success":true,"hostname":`...)
		b = appendJSONString(b, c.hostname)
		b = append(b, `,"sitekey":`...)
		b = appendJSONString(b, c.siteKey)
		b = append(b, `,"challenge_ts":`...)
		b = appendTimestampMillis(b, v.challengeTS)
		b = append(b, `,"score":`...)
		b = strconv.AppendFloat(b, c.score(), 'f', -1, 64)
		// Our choice of reason: "bot" from 0.5 up, "safe" below (§3.2 shows
		// only these two for the test keys).
		if c.scoreMilli >= 500 {
			return append(b, `,"score_reason":["bot"]}`...)
		}
		return append(b, `,"score_reason":["safe"]}`...)
	}
	b = append(b, `{"success":true,"credit":false,"hostname":`...)
	b = appendJSONString(b, c.hostname)
	b = append(b, `,"challenge_ts":`...)
	b = appendTimestampMillis(b, v.challengeTS)
	return append(b, '}')
}

func (hcaptcha) appendErrorCodes(b []byte, codes []string) []byte {
	b = append(b, `{"success":false,"error-codes":`...)
	b = appendCodesCompact(b, codes)
	return append(b, '}')
}

// errorPage is a Cloudflare-style error page: hCaptcha's siteverify sits
// behind Cloudflare (server: cloudflare, §3.3).
func (hcaptcha) errorPage(status int) []byte { return cloudflareErrorPage(status) }

// cloudflareErrorPage is the shape of Cloudflare's HTML error pages, for
// providers behind it.
func cloudflareErrorPage(status int) []byte {
	code := strconv.Itoa(status)
	return []byte("<!DOCTYPE html>\n<html lang=\"en-US\">\n<head><title>" + code + " " + http.StatusText(status) +
		"</title></head>\n<body>\n<h1>Error " + code + "</h1>\n<p>" + http.StatusText(status) +
		"</p>\n<p>cloudflare</p>\n</body>\n</html>\n")
}

// appendCodesCompact appends codes as a compact JSON array.
func appendCodesCompact(b []byte, codes []string) []byte {
	b = append(b, '[')
	for i, c := range codes {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, c)
	}
	return append(b, ']')
}
