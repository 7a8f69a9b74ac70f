package browser

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/siteverify/siteverify/mockserver"
)

// Staging mode runs the staging code path: the provider's real script, no
// interception in the browser, and a backend that calls the provider's real
// verify URL. The flows see no mint log there. What they can check of the
// token's lifecycle:
//   - the page obtained a token and posted it (the request that carried it);
//   - replaying that request is refused (FLOW-002);
//   - against an impersonation of the provider, whose siteverify journal
//     is readable ([Config].Impersonator): the backend verified the posted
//     token exactly once, with the secret of the page's staging sitekey.
//     The real provider shows none of this, so against it the report says
//     the check was not possible.

// stagingToken finds the token the page posted in staging mode and the
// request that carried it: with the impersonator's journal j, the last
// token the backend sent to siteverify that one of the page's requests
// carried; else the provider's token field (g-recaptcha-response,
// h-captcha-response, cf-turnstile-response, or the usual JSON names) of
// the page's last request with a body.
func (fr *flowRun) stagingToken(j []mockserver.Request) (string, Submission, bool) {
	posts := fr.tab.posts()
	if fr.jnl != nil {
		for i := len(j) - 1; i >= 0; i-- {
			if j[i].Token == "" {
				continue
			}
			for k := len(posts) - 1; k >= 0; k-- {
				if posts[k].carries(j[i].Token) {
					return j[i].Token, posts[k], true
				}
			}
		}
	}
	field := fr.page.Kind.provider().TokenField()
	for k := len(posts) - 1; k >= 0; k-- {
		if tok := postedToken(posts[k], field); tok != "" {
			return tok, posts[k], true
		}
	}
	return "", Submission{}, false
}

// postedToken is the value of the token field in a captured request: a
// form field named field, or in a JSON object the field or its usual
// camel-case names (gRecaptchaResponse, hCaptchaResponse,
// cfTurnstileResponse, token, captchaToken). "" when there is none.
func postedToken(s Submission, field string) string {
	if len(s.Body) == 0 {
		return ""
	}
	if strings.HasPrefix(strings.TrimSpace(string(s.Body)), "{") {
		var m map[string]any
		if json.Unmarshal(s.Body, &m) != nil {
			return ""
		}
		for _, k := range []string{field, camel(field), "token", "captchaToken", "captcha"} {
			if v, ok := m[k].(string); ok && v != "" {
				return v
			}
		}
		return ""
	}
	pairs, _, err := parsePost(s)
	if err != nil {
		return ""
	}
	for _, p := range pairs {
		if p.Name == field && p.Value != "" {
			return p.Value
		}
	}
	return ""
}

// camel turns "g-recaptcha-response" into "gRecaptchaResponse".
func camel(s string) string {
	parts := strings.Split(s, "-")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// stagingHappyPath is FLOW-001's verdict in staging mode, once the page
// has shown out (note: what the page's callback did).
func (fr *flowRun) stagingHappyPath(out outcome, note string) error {
	j := fr.journal()
	tok, sub, found := fr.stagingToken(j)
	if out != outcomeSuccess {
		detail := ""
		if fr.jnl != nil {
			detail = "; " + describeVerifications(j, tok) + fr.secretSiteNote(j, tok)
		}
		return failf("the page showed %s%s", describeOutcome(out), detail)
	}
	field := fr.page.Kind.provider().TokenField()
	if fr.jnl == nil {
		if !found {
			return passf("the page showed success%s; the token it posted was not found (no %s field in its requests), so only the outcome is checked; "+
				"how often and with which secret the backend verified it shows only against an impersonation of the provider", note, field)
		}
		return passf("the page showed success%s; it obtained token %s and posted it to %s; "+
			"how often and with which secret the backend verified it shows only against an impersonation of the provider", note, abbrev(tok), sub.URL)
	}
	if !found {
		return failf("the page showed success, but the backend never sent siteverify a token the page posted: %s", describeVerifications(j, ""))
	}
	var calls []mockserver.Request
	for _, e := range j {
		if e.Token == tok {
			calls = append(calls, e)
		}
	}
	if len(calls) != 1 {
		return failf("the page showed success, but the backend verified the page's token %s %d times (%s); a token verifies once, so a second call fails with timeout-or-duplicate",
			abbrev(tok), len(calls), describeVerifications(j, tok))
	}
	if n := fr.secretSiteNote(j, tok); n != "" {
		return failf("the page showed success, but%s", strings.TrimPrefix(n, ";"))
	}
	return passf("success%s; token %s obtained and posted to %s; the impersonating mock's journal shows it verified once, with the secret of the staging sitekey %s: %s",
		note, abbrev(tok), sub.URL, abbrev(calls[0].SecretSite), describeVerifications(j, tok))
}

// secretSiteNote says, when the backend verified tok with a secret that is
// not the page's staging sitekey's, whose it was; "" when it was right or
// unknown.
func (fr *flowRun) secretSiteNote(j []mockserver.Request, tok string) string {
	if fr.page.SiteKey == "" {
		return ""
	}
	for _, e := range j {
		if (tok == "" || e.Token == tok) && e.SecretSite != fr.page.SiteKey {
			whose := "a secret that is no registered site's"
			if e.SecretSite != "" {
				whose = "the secret of sitekey " + e.SecretSite
			}
			return fmt.Sprintf("; the backend verified with %s, not the secret of the staging sitekey %s: it is not configured with the staging keys",
				whose, fr.page.SiteKey)
		}
	}
	return ""
}
