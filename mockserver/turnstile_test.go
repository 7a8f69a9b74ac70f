package mockserver_test

import (
	"bytes"
	"cmp"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// tsPost verifies on Turnstile's path with a urlencoded body.
func tsPost(t *testing.T, s *mockserver.Server, kv ...string) answer {
	t.Helper()
	return call(t, s, http.MethodPost, mockserver.TurnstileVerifyPath, formCT, form(kv...))
}

func newTurnstileSite(t *testing.T, s *mockserver.Server) mockserver.Site {
	t.Helper()
	site, err := s.AddSite(t.Context(), mockserver.NewSite(mockserver.TurnstileStandard))
	if err != nil {
		t.Fatal(err)
	}
	return site
}

func TestTurnstileAnswers(t *testing.T) {
	s := mockserver.New(t)
	site := newTurnstileSite(t, s)
	if !strings.HasPrefix(site.SiteKey, "0x4AAAAAAA") || len(site.SiteKey) != 24 || !strings.HasPrefix(site.Secret, "0x4AAAAAAA") || len(site.Secret) != 35 {
		t.Errorf("keys %q / %q are not shaped like Turnstile's", site.SiteKey, site.Secret)
	}
	iss, err := s.Issue(t.Context(), mockserver.TokenSpec{SiteKey: site.SiteKey, Hostname: "shop.example", Action: "login", CData: "sess-42"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(iss.Token, "0.") || len(iss.Token) > mockserver.TurnstileMaxTokenLength {
		t.Errorf("token %.12s… (%d characters) is not shaped like Turnstile's", iss.Token, len(iss.Token))
	}
	if life := iss.ExpiresAt.Sub(s.Now()); life < 299*time.Second || life > 300*time.Second {
		t.Errorf("lifetime %v, want 300 s", life)
	}
	a := tsPost(t, s, "secret", site.Secret, "response", iss.Token, "remoteip", "not even an IP")
	want := `{"success":true,"error-codes":[],"challenge_ts":"TS","hostname":"shop.example","action":"login","cdata":"sess-42","metadata":{"interactive":false}}`
	if got := maskTS(a.raw); got != want {
		t.Fatalf("answer\n got %s\nwant %s", a.raw, want)
	}
	if a.contentType != "application/json" {
		t.Errorf("Content-Type %q", a.contentType)
	}
	// A replay and an expired token are both timeout-or-duplicate (§4.4).
	dup := tsPost(t, s, "secret", site.Secret, "response", iss.Token)
	if dup.raw != `{"success":false,"error-codes":["timeout-or-duplicate"],"messages":[]}` {
		t.Errorf("replay: %s", dup.raw)
	}
	old := issue(t, s, mockserver.TokenSpec{SiteKey: site.SiteKey})
	if _, err := s.Advance(t.Context(), 301*time.Second); err != nil {
		t.Fatal(err)
	}
	wantCodes(t, tsPost(t, s, "secret", site.Secret, "response", old), mockserver.CodeTimeoutOrDuplicate)

	// Unset action comes back as an empty string.
	bare := tsPost(t, s, "secret", site.Secret, "response", issue(t, s, mockserver.TokenSpec{SiteKey: site.SiteKey}))
	if !strings.Contains(bare.raw, `"action":"","cdata":""`) {
		t.Errorf("unset action and cdata: %s", bare.raw)
	}
	wantCodes(t, tsPost(t, s), mockserver.CodeMissingInputResponse, mockserver.CodeMissingInputSecret)
	wantCodes(t, tsPost(t, s, "secret", "0x4AAAAAAAunknown", "response", "0.x"), mockserver.CodeInvalidInputSecret)
	wantCodes(t, tsPost(t, s, "secret", site.Secret, "response", "0."+strings.Repeat("a", mockserver.TurnstileMaxTokenLength)), mockserver.CodeInvalidInputResponse)
	// Across providers.
	wantCodes(t, tsPost(t, s, "secret", site.Secret, "response", issue(t, s, mockserver.TokenSpec{})), mockserver.CodeInvalidInputResponse)
}

// TestTurnstileBodies: urlencoded, multipart and JSON bodies are read; GET
// is refused with 405 and a JSON bad-request (our choice, §4.1).
func TestTurnstileBodies(t *testing.T) {
	s := mockserver.New(t)
	site := newTurnstileSite(t, s)
	tok := func() string { return issue(t, s, mockserver.TokenSpec{SiteKey: site.SiteKey}) }

	js := call(t, s, http.MethodPost, mockserver.TurnstileVerifyPath, "application/json",
		`{"secret":"`+site.Secret+`","response":"`+tok()+`","remoteip":"203.0.113.9","idempotency_key":"4f7d3d0e-8f5b-4c1e-9a36-0c1f1f4c9b11"}`)
	wantSuccess(t, js)

	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	_ = w.WriteField("secret", site.Secret)
	_ = w.WriteField("response", tok())
	_ = w.Close()
	wantSuccess(t, call(t, s, http.MethodPost, mockserver.TurnstileVerifyPath, w.FormDataContentType(), mp.String()))

	get := call(t, s, http.MethodGet, mockserver.TurnstileVerifyPath+"?"+form("secret", site.Secret, "response", tok()), "", "")
	if get.status != http.StatusMethodNotAllowed || get.raw != `{"success":false,"error-codes":["bad-request"],"messages":[]}` {
		t.Errorf("GET: HTTP %d %s", get.status, get.raw)
	}
	for name, body := range map[string]string{
		"broken JSON":         `{"secret":`,
		"multipart, no parts": "--x--",
	} {
		ct := "application/json"
		if strings.HasPrefix(name, "multipart") {
			ct = "multipart/form-data; boundary=y"
		}
		a := call(t, s, http.MethodPost, mockserver.TurnstileVerifyPath, ct, body)
		wantCodes(t, a, mockserver.CodeBadRequest)
		_ = name
	}
}

// TestTurnstileIdempotency: a retry of the same token with the same
// idempotency_key gets the original success; without the key, or with
// another, it is a replay (§4.2). A rule's internal-error does not spend
// the token, so the retry after it succeeds.
func TestTurnstileIdempotency(t *testing.T) {
	s := mockserver.New(t)
	site := newTurnstileSite(t, s)
	const key = "8a6a2b5e-3c44-4f0e-9f53-2f0f5b7c1d20"
	tok := issue(t, s, mockserver.TokenSpec{SiteKey: site.SiteKey, Action: "pay"})

	if _, err := s.AddRule(t.Context(), mockserver.Rule{Match: mockserver.Match{Token: tok}, ErrorCodes: []string{mockserver.CodeInternalError}}); err != nil {
		t.Fatal(err)
	}
	wantCodes(t, tsPost(t, s, "secret", site.Secret, "response", tok, "idempotency_key", key), mockserver.CodeInternalError)
	first := tsPost(t, s, "secret", site.Secret, "response", tok, "idempotency_key", key)
	wantSuccess(t, first)
	again := tsPost(t, s, "secret", site.Secret, "response", tok, "idempotency_key", key)
	if maskTS(again.raw) != maskTS(first.raw) {
		t.Errorf("retry with the same key:\n got %s\nwant %s", again.raw, first.raw)
	}
	wantCodes(t, tsPost(t, s, "secret", site.Secret, "response", tok), mockserver.CodeTimeoutOrDuplicate)
	wantCodes(t, tsPost(t, s, "secret", site.Secret, "response", tok, "idempotency_key", "another-key"), mockserver.CodeTimeoutOrDuplicate)

	j := journal(t, s)
	var outcomes []string
	for _, e := range j.ForToken(tok) {
		outcomes = append(outcomes, e.Outcome)
	}
	if got := strings.Join(outcomes, " | "); !strings.Contains(got, "success | success (idempotent retry) | duplicate | duplicate") {
		t.Errorf("journal outcomes: %s", got)
	}
	// The record lasts as long as the token: after its expiry the keyed
	// retry is timeout-or-duplicate too (our choice; §4.2 is silent).
	if _, err := s.Advance(t.Context(), 301*time.Second); err != nil {
		t.Fatal(err)
	}
	wantCodes(t, tsPost(t, s, "secret", site.Secret, "response", tok, "idempotency_key", key), mockserver.CodeTimeoutOrDuplicate)
}

// TestTurnstileTestKeys: the documented test secrets and the dummy token
// (§4.5), with the recorded dummy layouts.
func TestTurnstileTestKeys(t *testing.T) {
	s := mockserver.New(t)
	site := newTurnstileSite(t, s)
	dummy := mockserver.TurnstileDummyToken
	pass := tsPost(t, s, "secret", mockserver.TurnstileTestSecretPass, "response", dummy)
	if got := maskTS(pass.raw); got != `{"success":true,"error-codes":[],"challenge_ts":"TS","hostname":"example.com","metadata":{"result_with_testing_key":true}}` {
		t.Errorf("pass secret: %s", pass.raw)
	}
	for range 2 { // never spent
		wantSuccess(t, tsPost(t, s, "secret", mockserver.TurnstileTestSecretPass, "response", dummy))
	}
	fail := tsPost(t, s, "secret", mockserver.TurnstileTestSecretFail, "response", dummy)
	if fail.raw != `{"success":false,"error-codes":["invalid-input-response"],"messages":[],"metadata":{"result_with_testing_key":true}}` {
		t.Errorf("fail secret: %s", fail.raw)
	}
	wantCodes(t, tsPost(t, s, "secret", mockserver.TurnstileTestSecretSpent, "response", dummy), mockserver.CodeTimeoutOrDuplicate)
	// A test secret with a real token, and a real secret with the dummy one.
	real := issue(t, s, mockserver.TokenSpec{SiteKey: site.SiteKey})
	wantCodes(t, tsPost(t, s, "secret", mockserver.TurnstileTestSecretPass, "response", real), mockserver.CodeInvalidInputSecret)
	wantCodes(t, tsPost(t, s, "secret", site.Secret, "response", dummy), mockserver.CodeInvalidInputResponse)
	wantSuccess(t, tsPost(t, s, "secret", site.Secret, "response", real)) // untouched by the test-secret call
}

// TestTurnstileOverTheAdminAPI: a Dial client mints a Turnstile token with
// action and cdata, by kind alone (the provider's default site).
func TestTurnstileOverTheAdminAPI(t *testing.T) {
	s := mockserver.New(t)
	c, err := mockserver.Dial(t.Context(), s.URL(), mockserver.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := c.Issue(t.Context(), mockserver.TokenSpec{Kind: mockserver.TurnstileStandard, Action: "signup", CData: "c-1"})
	if err != nil {
		t.Fatal(err)
	}
	var site mockserver.Site
	for _, st := range s.Sites() {
		if st.Kind == mockserver.TurnstileStandard {
			site = st
		}
	}
	a := tsPost(t, s, "secret", site.Secret, "response", iss.Token)
	if !a.Success || !strings.Contains(a.raw, `"action":"signup","cdata":"c-1"`) {
		t.Errorf("token minted over the admin API: %s", a.raw)
	}
}

// TestTurnstileLostAnswer: a rule with Spend verifies the token and then
// loses the answer (a reset). The retry with the same idempotency_key gets
// the original success; a retry without it meets a spent token.
func TestTurnstileLostAnswer(t *testing.T) {
	s := mockserver.New(t)
	site := newTurnstileSite(t, s)
	const key = "0b6d1c2e-6a1f-4f55-8f7e-3f3c1d9b2a10"
	for _, withKey := range []bool{true, false} {
		tok := issue(t, s, mockserver.TokenSpec{SiteKey: site.SiteKey})
		if _, err := s.AddRule(t.Context(), mockserver.Rule{Match: mockserver.Match{Token: tok}, Fault: mockserver.FaultReset, Spend: true}); err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest(http.MethodPost, s.URL()+mockserver.TurnstileVerifyPath, strings.NewReader(form("secret", site.Secret, "response", tok, "idempotency_key", key)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", formCT)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("the lost answer arrived: HTTP %d", resp.StatusCode)
		}
		var retry answer
		if withKey {
			retry = tsPost(t, s, "secret", site.Secret, "response", tok, "idempotency_key", key)
			wantSuccess(t, retry)
		} else {
			retry = tsPost(t, s, "secret", site.Secret, "response", tok)
			wantCodes(t, retry, mockserver.CodeTimeoutOrDuplicate)
		}
		// The reset call is journaled when its handler returns, which can be
		// after the client has seen the reset and retried.
		var e []mockserver.Request
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if e = journal(t, s).ForToken(tok); len(e) >= 2 || time.Now().After(deadline) {
				break
			}
		}
		slices.SortFunc(e, func(a, b mockserver.Request) int { return cmp.Compare(a.Time.UnixNano(), b.Time.UnixNano()) })
		if len(e) != 2 || e[0].Outcome != "rule "+e[0].Rule+": verified, then fault reset (verified: success)" {
			t.Errorf("journal: %+v", e)
		}
	}
	if _, err := s.AddRule(t.Context(), mockserver.Rule{Spend: true}); err == nil || !strings.Contains(err.Error(), "spend needs an answer to lose") {
		t.Errorf("a spend rule without an answer: %v", err)
	}
}
