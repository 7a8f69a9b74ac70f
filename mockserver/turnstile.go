package mockserver

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"time"
)

// This file is Cloudflare Turnstile's wire, all of it (wire-facts §4):
// paths, hosts, lifetime, test keys, error vocabulary, answer layout,
// request bodies and idempotent retries.

// Turnstile is Cloudflare Turnstile at
// https://challenges.cloudflare.com/turnstile/v0/siteverify.
var Turnstile = turnstileProvider

// turnstileProvider is Turnstile's wire, declared here so that go doc shows the
// exported value, not its fields.
var turnstileProvider = &Provider{
	name:          "turnstile",
	title:         "Cloudflare Turnstile",
	verifyPath:    TurnstileVerifyPath,
	scriptPaths:   []string{"/turnstile/v0/api.js"},
	prefixes:      []string{"challenges.cloudflare.com/turnstile/"},
	tokenField:    "cf-turnstile-response",
	tokenLifetime: 300 * time.Second,
	kinds:         []KeyKind{TurnstileStandard},
	newKeys:       turnstileKeys,
	tokenPrefix:   "0.", // real tokens are "0.HksOlV_…" (§4.1)
	bodyTypes:     []string{"application/x-www-form-urlencoded", "multipart/form-data", "application/json"},
	testSite: func() Site {
		return Site{SiteKey: TurnstileTestSiteKeyPass, Secret: TurnstileTestSecretPass, Kind: TurnstileStandard, Hostname: TurnstileTestHostname}
	},
	wire: turnstile{},
}

// TurnstileVerifyPath is Turnstile's siteverify path.
const TurnstileVerifyPath = "/turnstile/v0/siteverify"

// TurnstileMaxTokenLength is the longest token Turnstile accepts (§4.1);
// a longer one is invalid-input-response.
const TurnstileMaxTokenLength = 2048

// Turnstile's official test keys (wire-facts §4.5). The dummy sitekeys'
// widgets emit TurnstileDummyToken. The pass secret accepts only that token
// (the docs; one report says any token, so a Site with AcceptAnyToken
// stands in for that), the fail secret refuses it, the spent secret answers
// timeout-or-duplicate; a real secret refuses the dummy token.
const (
	TurnstileTestSiteKeyPass      = "1x00000000000000000000AA"
	TurnstileTestSiteKeyFail      = "2x00000000000000000000AB"
	TurnstileTestSiteKeyInvisible = "1x00000000000000000000BB"
	TurnstileTestSiteKeyChallenge = "3x00000000000000000000FF"
	TurnstileTestSecretPass       = "1x0000000000000000000000000000000AA"
	TurnstileTestSecretFail       = "2x0000000000000000000000000000000AA"
	TurnstileTestSecretSpent      = "3x0000000000000000000000000000000AA"
	TurnstileDummyToken           = "XXXX.DUMMY.TOKEN.XXXX"
	TurnstileTestHostname         = "example.com"
)

// CodeInternalError is Turnstile's "retry" error (§4.4); script it with a
// Rule, e.g. Rule{ErrorCodes: []string{CodeInternalError}}: a rule's answer
// does not spend the token, so the retry can succeed.
const CodeInternalError = "internal-error"

// turnstileKeys makes keys shaped like Turnstile's: "0x4AAAAAAA" and then
// 14 (sitekey) or 25 (secret) base64url characters.
func turnstileKeys() (siteKey, secret string) {
	var b [39]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	for i := range b {
		b[i] = keyAlphabet[int(b[i])%len(keyAlphabet)]
	}
	return "0x4AAAAAAA" + string(b[:14]), "0x4AAAAAAA" + string(b[14:])
}

type turnstile struct{}

func (turnstile) contentType() string { return "application/json" }

func (turnstile) serverHeader() string { return "cloudflare" }

// GET is not supported (§4.1); what it gets is not documented. Our choice:
// HTTP 405 with a JSON bad-request answer, so a client that parses it
// anyway still sees a failure.
func (turnstile) methodStatus(method string) int { return postOnly(method) }

// The order of Turnstile's checks is not recorded; an unknown secret is
// reported first, as Google does.
func (turnstile) tokenFirst() bool { return false }

// maxMultipartParts bounds the parts read from a multipart body.
const maxMultipartParts = 64

// parse reads a urlencoded, multipart or JSON POST body (§4.1). Fields:
// secret, response, remoteip, idempotency_key; any other is ignored.
func (turnstile) parse(r *http.Request) verifyRequest {
	var vr verifyRequest
	vr.query, _ = parseForm(r.URL.RawQuery) // for the journal: a secret in the URL shows there
	if r.Method != http.MethodPost || r.Body == nil {
		return vr
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	body, err := readBody(r, (*bp)[:0])
	*bp = body
	if err != nil || len(body) > maxBodyBytes {
		vr.badRequest = true
		return vr
	}
	ct := r.Header.Get("Content-Type")
	mt, params, _ := mime.ParseMediaType(ct)
	switch {
	case isFormContentType(ct):
		f, err := parseForm(string(body))
		vr.form = f
		if err != nil {
			vr.badRequest = true
		}
	case mt == "application/json":
		var in map[string]any
		if json.Unmarshal(body, &in) != nil {
			vr.badRequest = true
			break
		}
		vr.form = url.Values{}
		for k, v := range in {
			if s, ok := v.(string); ok {
				vr.form.Set(k, s)
			}
		}
	case mt == "multipart/form-data":
		f, err := parseMultipart(body, params["boundary"])
		vr.form = f
		if err != nil {
			vr.badRequest = true
		}
	}
	vr.secret, vr.token, vr.remoteIP = vr.form.Get("secret"), vr.form.Get("response"), vr.form.Get("remoteip")
	vr.idempotencyKey = vr.form.Get("idempotency_key")
	if vr.secret != "" {
		vr.secretIn = "form"
	}
	return vr
}

// parseMultipart reads the fields of a multipart/form-data body (already
// bounded by maxBodyBytes), at most maxMultipartParts of them.
func parseMultipart(body []byte, boundary string) (url.Values, error) {
	if boundary == "" {
		return nil, multipart.ErrMessageTooLarge
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	out := url.Values{}
	for range maxMultipartParts {
		part, err := mr.NextPart()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		v, err := io.ReadAll(part)
		if err != nil {
			return out, err
		}
		if name := part.FormName(); name != "" {
			out.Add(name, string(v))
		}
	}
	return out, multipart.ErrMessageTooLarge
}

// testVerdict answers the test secrets and the dummy token (§4.5).
func (turnstile) testVerdict(vr *verifyRequest, now time.Time) (verdict, bool) {
	dummy := vr.token == TurnstileDummyToken
	switch vr.secret {
	case TurnstileTestSecretPass:
		if !dummy {
			// "a testing secret used with a non-testing token" (§4.4)
			return verdict{outcome: outcomeInvalidSecret, test: true}, true
		}
		c := &claims{kind: TurnstileStandard, hostname: TurnstileTestHostname}
		return verdict{outcome: outcomeSuccess, claims: c, challengeTS: now, test: true}, true
	case TurnstileTestSecretFail:
		return verdict{outcome: outcomeInvalidResponse, test: true}, true
	case TurnstileTestSecretSpent:
		return verdict{outcome: outcomeDuplicate, test: true}, true
	}
	if dummy {
		return verdict{outcome: outcomeInvalidResponse}, true // a real secret refuses the dummy token
	}
	if len(vr.token) > TurnstileMaxTokenLength {
		return verdict{outcome: outcomeInvalidResponse}, true
	}
	return verdict{}, false
}

// Turnstile does not strictly validate remoteip (§4.1).
func (turnstile) check(*verifyRequest, Site) (verdict, bool) { return verdict{}, false }

func (turnstile) errorCodes(v *verdict) []string {
	// Both missing parameters listed, as the others answer (§4.4 [uncertain]).
	return sharedErrorCodes(v, CodeTimeoutOrDuplicate, CodeTimeoutOrDuplicate)
}

// appendAnswer writes Turnstile's compact layout in the order of a recorded
// answer (§4.3): success, error-codes (empty, present), challenge_ts in
// milliseconds, hostname, action and cdata (empty strings when unset),
// metadata. The test keys answer the recorded dummy layout, with
// metadata.result_with_testing_key and no action or cdata (§4.5).
func (d turnstile) appendAnswer(b []byte, v *verdict) []byte {
	if v.outcome != outcomeSuccess {
		return d.appendFailure(b, d.errorCodes(v), v.test)
	}
	c := v.claims
	if v.test {
		b = append(b, `{"success":true,"error-codes":[],"challenge_ts":`...)
		b = appendTimestampMillis(b, v.challengeTS)
		b = append(b, `,"hostname":`...)
		b = appendJSONString(b, c.hostname)
		return append(b, `,"metadata":{"result_with_testing_key":true}}`...)
	}
	b = append(b, `{"success":true,"error-codes":[],"challenge_ts":`...)
	b = appendTimestampMillis(b, v.challengeTS)
	b = append(b, `,"hostname":`...)
	b = appendJSONString(b, c.hostname)
	b = append(b, `,"action":`...)
	b = appendJSONString(b, c.action)
	b = append(b, `,"cdata":`...)
	b = appendJSONString(b, c.cdata)
	return append(b, `,"metadata":{"interactive":false}}`...)
}

func (d turnstile) appendErrorCodes(b []byte, codes []string) []byte {
	return d.appendFailure(b, codes, false)
}

// appendFailure writes a failure as recorded: error-codes, an empty
// messages list, and for the test keys their metadata (§4.3, §4.5).
func (turnstile) appendFailure(b []byte, codes []string, test bool) []byte {
	b = append(b, `{"success":false,"error-codes":`...)
	b = appendCodesCompact(b, codes)
	if test {
		return append(b, `,"messages":[],"metadata":{"result_with_testing_key":true}}`...)
	}
	return append(b, `,"messages":[]}`...)
}

func (turnstile) errorPage(status int) []byte { return cloudflareErrorPage(status) }
