package browser

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestJudgeReplay(t *testing.T) {
	ok := httpAnswer{Status: 200, Body: []byte(`{"ok":true,"user":"ada"}`)}
	refused := httpAnswer{Status: 403, Body: []byte(`{"ok":false,"error":"captcha-failed"}`)}
	html := func(s string) httpAnswer { return httpAnswer{Status: 200, Body: []byte("<p>" + s + "</p>")} }
	noForged := func() (httpAnswer, error) { return httpAnswer{}, errors.New("not asked") }
	forgedAs := func(a httpAnswer) func() (httpAnswer, error) { return func() (httpAnswer, error) { return a, nil } }
	for _, tc := range []struct {
		name          string
		first, again  httpAnswer
		forged        func() (httpAnswer, error)
		want          outcome
		wantInWhy     string
		forgedNotUsed bool
	}{
		{"refused by status", ok, refused, noForged, outcomeRejected, "refused the replay (HTTP 403", true},
		{"the same answer again", ok, ok, noForged, outcomeSuccess, "exactly as it answered", true},
		{"both refused", refused, refused, noForged, outcomeRejected, "as it refused the page's own request", true},
		{"accepted after a refusal", refused, ok, noForged, outcomeSuccess, "after refusing", true},
		{"200 answers, the replay's matches a forged token's", html("Welcome 12:01"), html("Try again"), forgedAs(html("Try again")), outcomeRejected, "as it answers a forged token", false},
		{"200 JSON answers, a boolean flips", ok, httpAnswer{Status: 200, Body: []byte(`{"ok":false}`)}, noForged, outcomeRejected, `"ok": false`, false},
		{"200 JSON answers, an error field appears", httpAnswer{Status: 200, Body: []byte(`{"user":"ada"}`)}, httpAnswer{Status: 200, Body: []byte(`{"user":"ada","error":"dup"}`)}, noForged, outcomeRejected, `carries "error"`, false},
		{"200 JSON answers, same fields, new request id", httpAnswer{Status: 200, Body: []byte(`{"ok":true,"id":1}`)}, httpAnswer{Status: 200, Body: []byte(`{"ok":true,"id":2}`)}, noForged, outcomeSuccess, "same fields", false},
		{"different HTML, forged answer differs too: cannot tell", html("Welcome 12:01"), html("Welcome 12:02"), forgedAs(html("Nope")), outcomeNone, "do not say", false},
		{"the page's answer unknown, replay refused", httpAnswer{}, refused, noForged, outcomeRejected, "refused the replay", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			used := false
			forged := func() (httpAnswer, error) { used = true; return tc.forged() }
			got, why := judgeReplay(tc.first, tc.again, forged)
			if got != tc.want || !strings.Contains(why, tc.wantInWhy) {
				t.Errorf("judgeReplay = %q, %q; want %q, containing %q", got, why, tc.want, tc.wantInWhy)
			}
			if tc.forgedNotUsed && used {
				t.Errorf("asked for the forged-token answer though the two answers decided")
			}
		})
	}
}

func TestSubmissionCarriesToken(t *testing.T) {
	tok := "03AFcWeA-token_value"
	for _, s := range []Submission{
		{URL: "http://127.0.0.1/api?t=" + tok},
		{Body: []byte(`{"gRecaptchaResponse":"` + tok + `"}`)},
		{Header: http.Header{"X-Recaptcha-Token": {tok}}},
	} {
		if !s.carries(tok) {
			t.Errorf("%+v does not carry the token", s)
		}
	}
	if (Submission{Body: []byte("x")}).carries("") {
		t.Error("an empty token is carried by everything")
	}
}

func TestForgeToken(t *testing.T) {
	for _, tok := range []string{"03AFcWeA-abc_123", "aba", "x"} {
		f := forgeToken(tok)
		if f == tok || len(f) != len(tok) {
			t.Errorf("forgeToken(%q) = %q", tok, f)
		}
	}
}
