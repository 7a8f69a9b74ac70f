package mockserver

import (
	"mime"
	"net/http"
	"strconv"
	"time"
)

// This file is Google reCAPTCHA's wire, all of it (wire-facts §1): paths,
// hosts, lifetime, test keys, error vocabulary, answer layout and how a
// request is read.

// ReCAPTCHA is Google reCAPTCHA (v2, v3 and Android keys) at
// https://www.google.com/recaptcha/api/siteverify.
var ReCAPTCHA = recaptchaProvider

// recaptchaProvider is ReCAPTCHA's wire, declared here so that go doc shows the
// exported value, not its fields.
var recaptchaProvider = &Provider{
	name:          "recaptcha",
	title:         "Google reCAPTCHA",
	verifyPath:    VerifyPath,
	scriptPaths:   []string{ScriptPath, EnterpriseScriptPath},
	prefixes:      []string{"www.google.com/recaptcha/", "www.recaptcha.net/recaptcha/", "recaptcha.net/recaptcha/", "www.gstatic.com/recaptcha/"},
	tokenField:    "g-recaptcha-response",
	tokenLifetime: DefaultTokenLifetime,
	kinds:         []KeyKind{V3, V2Checkbox, V2Invisible, Android},
	newKeys:       func() (string, string) { return randomKey(), randomKey() },
	// "03A" and the ~520-character length match real tokens, so clients
	// that sanity-check tokens (the ambethia gem wants 100-4000 characters)
	// accept them.
	tokenPrefix: "03A",
	bodyTypes:   []string{"application/x-www-form-urlencoded"},
	testSite:    testSite,
	wire:        recaptcha{},
}

// VerifyPath is the path of reCAPTCHA's siteverify endpoint. The mock answers
// it on any Host, so www.google.com and www.recaptcha.net both work through a
// proxy or a hosts entry (wire-facts §1.1).
const VerifyPath = "/recaptcha/api/siteverify"

// DefaultTokenLifetime is how long a reCAPTCHA token stays verifiable: "each
// reCAPTCHA user response token is valid for two minutes, and can only be
// verified once" (wire-facts §1.5, Google "Verifying the user's response").
const DefaultTokenLifetime = 2 * time.Minute

// The client script's paths.
const (
	// ScriptPath serves the stand-in for Google's api.js.
	ScriptPath = "/recaptcha/api.js"
	// EnterpriseScriptPath serves the stand-in for Google's enterprise.js.
	EnterpriseScriptPath = "/recaptcha/enterprise.js"
	// MintPath is where the client script asks for tokens.
	MintPath = "/recaptcha/api2/mint"
)

// Google's public reCAPTCHA v2 test key pair. With this secret the real
// siteverify accepts any token and answers hostname "testkey.google.com"
// (wire-facts §1.7, reCAPTCHA FAQ). Every Server knows this site.
const (
	TestSiteKey  = "6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI"
	TestSecret   = "6LeIxAcTAAAAAGG-vFI1TnRWxMZNFuojJ4WifJWe"
	TestHostname = "testkey.google.com"
)

// testSite is Google's v2 test pair.
func testSite() Site {
	return Site{SiteKey: TestSiteKey, Secret: TestSecret, Kind: V2Checkbox, Hostname: TestHostname, AcceptAnyToken: true}.withDefaults()
}

// recaptcha is Google reCAPTCHA's siteverify dialect (wire-facts §1).
type recaptcha struct{}

// reCAPTCHA wire error codes (Google "Verifying the user's response").
const (
	CodeMissingInputSecret   = "missing-input-secret"
	CodeInvalidInputSecret   = "invalid-input-secret"
	CodeMissingInputResponse = "missing-input-response"
	CodeInvalidInputResponse = "invalid-input-response"
	CodeBadRequest           = "bad-request"
	CodeTimeoutOrDuplicate   = "timeout-or-duplicate"
)

func (recaptcha) contentType() string { return "application/json; charset=utf-8" }

// reCAPTCHA reads GET and POST alike (wire-facts §1.1).
func (recaptcha) methodStatus(string) int { return http.StatusOK }

// An unknown secret is reported before a bad token (wire-facts §1.2).
func (recaptcha) tokenFirst() bool { return false }

// Google's test key is a registered site (AcceptAnyToken), see testSite.
func (recaptcha) testVerdict(*verifyRequest, time.Time) (verdict, bool) { return verdict{}, false }

// reCAPTCHA checks no request parameter of its own: remoteip is not
// validated.
func (recaptcha) check(*verifyRequest, Site) (verdict, bool) { return verdict{}, false }

func (recaptcha) serverHeader() string { return "GSE" }

func (recaptcha) errorCodes(v *verdict) []string {
	// One code for an expired and a replayed token (wire-facts §1.3).
	return sharedErrorCodes(v, CodeTimeoutOrDuplicate, CodeTimeoutOrDuplicate)
}

// appendAnswer writes Google's layout: pretty-printed with two-space indent,
// success first, error-codes omitted on success, challenge_ts in whole
// seconds with Z (wire-facts §1.2, 2016 cassette and later samples).
func (d recaptcha) appendAnswer(b []byte, v *verdict) []byte {
	if v.outcome != outcomeSuccess {
		return d.appendErrorCodes(b, d.errorCodes(v))
	}
	b = append(b, "{\n  \"success\": true,\n  \"challenge_ts\": "...)
	b = appendTimestamp(b, v.challengeTS)
	c := v.claims
	if c.kind == Android {
		b = append(b, ",\n  \"apk_package_name\": "...)
		b = appendJSONString(b, c.hostname)
	} else {
		b = append(b, ",\n  \"hostname\": "...)
		b = appendJSONString(b, c.hostname)
	}
	if c.kind == V3 {
		if !c.omitScore {
			b = append(b, ",\n  \"score\": "...)
			b = strconv.AppendFloat(b, c.score(), 'f', -1, 64)
		}
		b = append(b, ",\n  \"action\": "...)
		b = appendJSONString(b, c.action)
	}
	return append(b, "\n}"...)
}

func (recaptcha) appendErrorCodes(b []byte, codes []string) []byte {
	b = append(b, "{\n  \"success\": false"...)
	if len(codes) > 0 {
		b = append(b, ",\n  \"error-codes\": ["...)
		for i, c := range codes {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, "\n    "...)
			b = appendJSONString(b, c)
		}
		b = append(b, "\n  ]"...)
	}
	return append(b, "\n}"...)
}

// parse reads parameters the way Google does: the URL query
// and, for a urlencoded POST, the body (body values win). Any other body type,
// JSON included, is ignored, so its fields count as absent: a JSON body gets
// missing-input-* (wire-facts §1.1; reports differ, so a Rule can override).
// Unknown parameters, such as the PHP client's version=, are ignored.
func (recaptcha) parse(r *http.Request) verifyRequest {
	var vr verifyRequest
	q, err := parseForm(r.URL.RawQuery)
	vr.query = q
	if err != nil {
		vr.badRequest = true
	}
	if r.Method == http.MethodPost && r.Body != nil {
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
	}
	get := func(k string) (string, string) {
		if v, ok := vr.form[k]; ok && len(v) > 0 {
			return v[0], "form"
		}
		if v, ok := vr.query[k]; ok && len(v) > 0 {
			return v[0], "query"
		}
		return "", ""
	}
	vr.secret, vr.secretIn = get("secret")
	vr.token, _ = get("response")
	vr.remoteIP, _ = get("remoteip")
	if vr.secret == "" {
		vr.secretIn = ""
	}
	return vr
}

func isFormContentType(ct string) bool {
	switch ct {
	case "":
		return false
	case "application/x-www-form-urlencoded": // what nearly every client sends
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// errorPage is the shape of the HTML error pages Google's front end
// serves (status line as title, "That's an error.").
func (recaptcha) errorPage(status int) []byte {
	text := http.StatusText(status)
	return []byte("<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error " + strconv.Itoa(status) + " (" + text +
		")!!1</title>\n  <p><b>" + strconv.Itoa(status) + ".</b> <ins>That’s an error.</ins>\n  <p>The server encountered a temporary error and could not complete your request.<p>Please try again in 30 seconds.  <ins>That’s all we know.</ins>\n")
}
