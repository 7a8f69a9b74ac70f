package mockserver_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// msTimestamp is a challenge_ts with milliseconds, as hCaptcha and
// Turnstile write it.
var msTimestamp = regexp.MustCompile(`"challenge_ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"`)

// maskTS replaces a millisecond challenge_ts by "TS".
func maskTS(s string) string { return msTimestamp.ReplaceAllString(s, `"challenge_ts":"TS"`) }

// TestHCaptchaRecordedTraffic replays the recorded hCaptcha exchanges of
// wire-facts §3.3 (Polly HAR, December 2021) and expects the recorded
// bodies byte for byte, but for the time.
func TestHCaptchaRecordedTraffic(t *testing.T) {
	s := mockserver.New(t)
	const (
		sec = mockserver.HCaptchaTestSecret
		tok = mockserver.HCaptchaTestToken
	)
	for _, c := range []struct{ name, body, want string }{
		{"empty", "", `{"success":false,"error-codes":["missing-input-response","missing-input-secret"]}`},
		{"secret only", form("secret", sec), `{"success":false,"error-codes":["missing-input-response"]}`},
		{"the token is checked before the secret", "response=invalid&secret=invalid", `{"success":false,"error-codes":["invalid-input-response"]}`},
		{"test token, real secret", form("response", tok, "secret", "not-the-dummy-secret"),
			`{"success":false,"credit":false,"hostname":"dummy-key-pass","error-codes":["not-using-dummy-secret"],"challenge_ts":"TS"}`},
		{"malformed sitekey", form("response", tok, "secret", sec, "sitekey", "invalid"), `{"success":false,"error-codes":["invalid-sitekey"]}`},
		{"malformed remoteip", form("response", tok, "secret", sec, "sitekey", mockserver.HCaptchaTestSiteKey, "remoteip", "invalid"),
			`{"success":false,"error-codes":["invalid-remoteip"]}`},
		{"publisher test set", form("response", tok, "secret", sec, "sitekey", mockserver.HCaptchaTestSiteKey, "remoteip", "0.0.0.0"),
			`{"success":true,"credit":false,"hostname":"dummy-key-pass","challenge_ts":"TS"}`},
		{"enterprise safe test set", form("response", mockserver.HCaptchaEnterpriseSafeToken, "secret", sec),
			`{"success":true,"hostname":"dummy-key-pass","sitekey":"20000000-ffff-ffff-ffff-000000000002","challenge_ts":"TS","score":0,"score_reason":["safe"]}`},
		{"enterprise bot test set", form("response", mockserver.HCaptchaEnterpriseBotToken, "secret", sec),
			`{"success":true,"hostname":"dummy-key-pass","sitekey":"30000000-ffff-ffff-ffff-000000000003","challenge_ts":"TS","score":1,"score_reason":["bot"]}`},
		// Our choices where nothing is recorded:
		{"test secret, another token", form("response", "P1_whatever", "secret", sec), `{"success":false,"error-codes":["invalid-input-response"]}`},
		{"test sitekey of another set", form("response", tok, "secret", sec, "sitekey", mockserver.HCaptchaEnterpriseBotSiteKey),
			`{"success":false,"error-codes":["sitekey-secret-mismatch"]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := call(t, s, http.MethodPost, mockserver.HCaptchaVerifyPath, formCT, c.body)
			if got := maskTS(a.raw); got != c.want {
				t.Errorf("answer\n got %s\nwant %s", a.raw, c.want)
			}
			if a.status != http.StatusOK || a.contentType != "application/json" {
				t.Errorf("HTTP %d, Content-Type %q; want 200 application/json", a.status, a.contentType)
			}
		})
	}
	// A test token is never spent.
	for range 3 {
		if a := call(t, s, http.MethodPost, mockserver.HCaptchaVerifyPath, formCT, form("response", tok, "secret", sec)); !a.Success {
			t.Fatalf("test token refused on reuse: %s", a.raw)
		}
	}
}

// hcPost verifies on hCaptcha's path.
func hcPost(t *testing.T, s *mockserver.Server, kv ...string) answer {
	t.Helper()
	return call(t, s, http.MethodPost, mockserver.HCaptchaVerifyPath, formCT, form(kv...))
}

func TestHCaptchaTokens(t *testing.T) {
	s := mockserver.New(t)
	site, err := s.AddSite(t.Context(), mockserver.NewSite(mockserver.HCaptchaPublisher))
	if err != nil {
		t.Fatal(err)
	}
	if !isUUIDShape(site.SiteKey) || !strings.HasPrefix(site.Secret, "0x") || len(site.Secret) != 42 {
		t.Errorf("keys %q / %q are not shaped like hCaptcha's", site.SiteKey, site.Secret)
	}
	iss, err := s.Issue(t.Context(), mockserver.TokenSpec{SiteKey: site.SiteKey, Hostname: "shop.example"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(iss.Token, "P1_") {
		t.Errorf("token %.12s… does not start like hCaptcha's (P1_)", iss.Token)
	}
	if life := iss.ExpiresAt.Sub(s.Now()); life < 119*time.Second || life > 120*time.Second {
		t.Errorf("lifetime %v, want 120 s", life)
	}
	a := hcPost(t, s, "secret", site.Secret, "response", iss.Token, "sitekey", site.SiteKey, "remoteip", "203.0.113.9")
	if got := maskTS(a.raw); got != `{"success":true,"credit":false,"hostname":"shop.example","challenge_ts":"TS"}` {
		t.Fatalf("first verification: %s", a.raw)
	}
	wantCodes(t, hcPost(t, s, "secret", site.Secret, "response", iss.Token), mockserver.CodeAlreadySeenResponse)

	old := issue(t, s, mockserver.TokenSpec{SiteKey: site.SiteKey})
	if _, err := s.Advance(t.Context(), 121*time.Second); err != nil {
		t.Fatal(err)
	}
	wantCodes(t, hcPost(t, s, "secret", site.Secret, "response", old), mockserver.CodeExpiredInputResponse)

	fresh := func() string { return issue(t, s, mockserver.TokenSpec{SiteKey: site.SiteKey}) }
	wantCodes(t, hcPost(t, s, "secret", site.Secret, "response", fresh(), "sitekey", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"), mockserver.CodeSitekeySecretMismatch)
	wantCodes(t, hcPost(t, s, "secret", site.Secret, "response", fresh(), "sitekey", "nope"), mockserver.CodeInvalidSitekey)
	wantCodes(t, hcPost(t, s, "secret", site.Secret, "response", fresh(), "remoteip", "not-an-ip"), mockserver.CodeInvalidRemoteIP)
	wantCodes(t, hcPost(t, s, "secret", "0xnot-registered", "response", fresh()), mockserver.CodeInvalidInputSecret)

	// Across providers: a reCAPTCHA token is not an hCaptcha token, and an
	// hCaptcha secret is unknown to Google.
	wantCodes(t, hcPost(t, s, "secret", site.Secret, "response", issue(t, s, mockserver.TokenSpec{})), mockserver.CodeInvalidInputResponse)
	wantCodes(t, post(t, s, site.Secret, fresh()), mockserver.CodeInvalidInputSecret)

	// A JSON body and a GET's query are read as no parameters (§3.1).
	js := call(t, s, http.MethodPost, mockserver.HCaptchaVerifyPath, "application/json", `{"secret":"`+site.Secret+`","response":"`+fresh()+`"}`)
	wantCodes(t, js, mockserver.CodeMissingInputResponse, mockserver.CodeMissingInputSecret)
	get := call(t, s, http.MethodGet, mockserver.HCaptchaVerifyPath+"?"+form("secret", site.Secret, "response", fresh()), "", "")
	wantCodes(t, get, mockserver.CodeMissingInputResponse, mockserver.CodeMissingInputSecret)
}

// TestHCaptchaEnterpriseScore: the score is hCaptcha's (1 is a bot), 0 (a
// safe user) by default.
func TestHCaptchaEnterpriseScore(t *testing.T) {
	s := mockserver.New(t)
	site, err := s.AddSite(t.Context(), mockserver.NewSite(mockserver.HCaptchaEnterprise))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		score float64
		want  string
	}{
		{0, `"score":0,"score_reason":["safe"]}`},
		{0.8, `"score":0.8,"score_reason":["bot"]}`},
		{mockserver.ExactlyZero, `"score":0,"score_reason":["safe"]}`},
	} {
		tok := issue(t, s, mockserver.TokenSpec{SiteKey: site.SiteKey, Score: c.score})
		a := hcPost(t, s, "secret", site.Secret, "response", tok)
		want := `{"success":true,"hostname":"localhost","sitekey":"` + site.SiteKey + `","challenge_ts":"TS",` + c.want
		if got := maskTS(a.raw); got != want {
			t.Errorf("score %v:\n got %s\nwant %s", c.score, a.raw, want)
		}
	}
	if _, err := s.Issue(t.Context(), mockserver.TokenSpec{SiteKey: site.SiteKey, Kind: mockserver.V3}); err == nil ||
		!strings.Contains(err.Error(), "kind v3 is a Google reCAPTCHA kind, and site "+site.SiteKey[:12]+"… is a hCaptcha site") {
		t.Errorf("a v3 token for an hCaptcha site: %v, want an error naming both providers", err)
	}
}

func isUUIDShape(s string) bool {
	return regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(s)
}
