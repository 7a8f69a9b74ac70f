package mockserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// realPost verifies over a real connection, as a backend does, so transport
// faults are seen as a client sees them.
func realPost(s *mockserver.Server, timeout time.Duration, token string) (status int, contentType, body string, err error) {
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.PostForm(s.VerifyURL(), url.Values{"secret": {s.Site().Secret}, "response": {token}, "remoteip": {"192.0.2.9"}})
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b), err
}

func TestRuleFaults(t *testing.T) {
	tests := []struct {
		name  string
		rule  mockserver.Rule
		check func(t *testing.T, status int, ct, body string, err error)
	}{
		{"hang until the client gives up", mockserver.Rule{Fault: mockserver.FaultHang, Delay: 5 * time.Second},
			func(t *testing.T, status int, ct, body string, err error) {
				var ne interface{ Timeout() bool }
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Fatalf("want a client timeout, got status %d err %v", status, err)
				}
			}},
		{"close without an answer", mockserver.Rule{Fault: mockserver.FaultClose},
			func(t *testing.T, status int, ct, body string, err error) {
				if err == nil || !(errors.Is(err, io.EOF) || strings.Contains(err.Error(), "EOF")) {
					t.Fatalf("want EOF, got status %d err %v", status, err)
				}
			}},
		{"reset", mockserver.Rule{Fault: mockserver.FaultReset},
			func(t *testing.T, status int, ct, body string, err error) {
				if err == nil || !(errors.Is(err, syscall.ECONNRESET) || strings.Contains(err.Error(), "EOF")) {
					t.Fatalf("want connection reset, got status %d err %v", status, err)
				}
			}},
		{"malformed JSON", mockserver.Rule{Fault: mockserver.FaultMalformedJSON},
			func(t *testing.T, status int, ct, body string, err error) {
				if err != nil || status != 200 || !strings.HasPrefix(ct, "application/json") || json.Valid([]byte(body)) {
					t.Fatalf("want 200 JSON content type with an invalid body, got %d %q %q %v", status, ct, body, err)
				}
			}},
		{"truncated body", mockserver.Rule{Fault: mockserver.FaultTruncate},
			func(t *testing.T, status int, ct, body string, err error) {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("want unexpected EOF while reading the body, got %d %q %v", status, body, err)
				}
			}},
		{"HTML error page", mockserver.Rule{Fault: mockserver.FaultHTMLError, Status: 502},
			func(t *testing.T, status int, ct, body string, err error) {
				if err != nil || status != 502 || !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, "Error 502") {
					t.Fatalf("got %d %q %q %v", status, ct, body, err)
				}
			}},
		{"status alone gives the HTML page", mockserver.Rule{Status: 500},
			func(t *testing.T, status int, ct, body string, err error) {
				if status != 500 || !strings.HasPrefix(ct, "text/html") {
					t.Fatalf("got %d %q", status, ct)
				}
			}},
		{"exact body", mockserver.Rule{Body: `{"success": false}`},
			func(t *testing.T, status int, ct, body string, err error) {
				if status != 200 || body != `{"success": false}` || ct != "application/json; charset=utf-8" {
					t.Fatalf("got %d %q %q", status, ct, body)
				}
			}},
		{"error codes", mockserver.Rule{ErrorCodes: []string{"browser-error"}},
			func(t *testing.T, status int, ct, body string, err error) {
				var a struct {
					Success    bool     `json:"success"`
					ErrorCodes []string `json:"error-codes"`
				}
				if json.Unmarshal([]byte(body), &a) != nil || a.Success || len(a.ErrorCodes) != 1 || a.ErrorCodes[0] != "browser-error" {
					t.Fatalf("got %q", body)
				}
			}},
		{"delay then a normal answer", mockserver.Rule{Delay: 150 * time.Millisecond},
			func(t *testing.T, status int, ct, body string, err error) {
				if err != nil || !strings.Contains(body, `"success": true`) {
					t.Fatalf("got %q %v", body, err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mockserver.New(t)
			tok := issue(t, s, mockserver.TokenSpec{})
			tt.rule.Match = mockserver.Match{Token: tok}
			if _, err := s.AddRule(t.Context(), tt.rule); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			// Seconds for an answer, so a loaded machine does not turn one
			// into a timeout; the hang is meant to time out, quickly.
			timeout := 10 * time.Second
			switch {
			case tt.rule.Fault == mockserver.FaultHang:
				timeout = 300 * time.Millisecond
			case tt.rule.Fault == "":
				timeout += tt.rule.Delay
			}
			status, ct, body, err := realPost(s, timeout, tok)
			tt.check(t, status, ct, body, err)
			if tt.rule.Fault == mockserver.FaultHang && time.Since(start) > 2*time.Second {
				t.Fatalf("the hang case took %v", time.Since(start))
			}
			// The rule ran out: the same token now verifies normally (or, if
			// the rule only delayed a normal answer, is now spent).
			want := `"success": true`
			if tt.rule.Fault == "" && tt.rule.Status == 0 && tt.rule.Body == "" && tt.rule.ErrorCodes == nil {
				want = "timeout-or-duplicate"
			}
			if _, _, body, err := realPost(s, 2*time.Second, tok); err != nil || !strings.Contains(body, want) {
				t.Fatalf("after the rule ran out: %q %v, want %s", body, err, want)
			}
			// A request is journaled when it ends; a hung one ends when the
			// server notices the client left, which may come a moment later.
			var outcome string
			for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				for _, e := range journal(t, s).ForToken(tok) {
					if e.Rule != "" {
						outcome = e.Outcome
					}
				}
				if outcome != "" {
					break
				}
			}
			if !strings.HasPrefix(outcome, "rule r1") {
				t.Fatalf("journal outcome %q, want the rule", outcome)
			}
		})
	}
}

func TestRuleMatchingAndCounting(t *testing.T) {
	s := mockserver.New(t)
	if _, err := s.AddRule(t.Context(), mockserver.Rule{Match: mockserver.Match{RemoteIP: "192.0.2.66"}, Times: 2, Status: 503}); err != nil {
		t.Fatal(err)
	}
	forever, err := s.AddRule(t.Context(), mockserver.Rule{ID: "always-bad", Match: mockserver.Match{Secret: "6Lsome-other-secret"}, Times: mockserver.Forever, ErrorCodes: []string{"invalid-input-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	send := func(remoteIP string) int {
		a := call(t, s, http.MethodPost, mockserver.VerifyPath, formCT,
			form("secret", s.Site().Secret, "response", issue(t, s, mockserver.TokenSpec{}), "remoteip", remoteIP))
		return a.status
	}
	if got := []int{send("192.0.2.1"), send("192.0.2.66"), send("192.0.2.66"), send("192.0.2.66")}; got[0] != 200 || got[1] != 503 || got[2] != 503 || got[3] != 200 {
		t.Fatalf("statuses %v, want [200 503 503 200]", got)
	}
	for range 3 {
		wantCodes(t, post(t, s, "6Lsome-other-secret", "x"), "invalid-input-secret")
	}
	rules := s.Rules()
	if len(rules) != 1 || rules[0].ID != forever.ID || rules[0].Times != mockserver.Forever {
		t.Fatalf("rules %+v", rules)
	}
	if strings.Contains(rules[0].Match.Secret, "some-other") {
		t.Fatal("Rules shows a secret in clear")
	}
	if s.RemoveRule(t.Context(), "always-bad") != nil || s.RemoveRule(t.Context(), "always-bad") == nil {
		t.Fatal("RemoveRule")
	}
}

func TestRuleValidation(t *testing.T) {
	s := mockserver.New(t)
	for _, r := range []mockserver.Rule{
		{},
		{Fault: "explode"},
		{Status: 42},
		{Status: 503, Times: -2},
		{Delay: -time.Second},
		{Delay: time.Hour},
		{Body: strings.Repeat("x", 70<<10)},
	} {
		if _, err := s.AddRule(t.Context(), r); err == nil {
			t.Errorf("rule %+v: want an error", r)
		}
	}
	if _, err := s.AddRule(t.Context(), mockserver.Rule{ID: "x", Status: 503}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddRule(t.Context(), mockserver.Rule{ID: "x", Status: 503}); err == nil {
		t.Fatal("duplicate id accepted")
	}
}

// TestBrokenAnswersFollowTheProvider: malformed JSON and a truncated answer
// are broken copies of the provider's own success answer, so a client meets
// its provider's fields before the break (an assessment's "valid": true for
// Enterprise, hCaptcha's compact layout), not siteverify's reCAPTCHA shape.
func TestBrokenAnswersFollowTheProvider(t *testing.T) {
	srv := mockserver.New(t)
	ctx := context.Background()
	ent, err := srv.AddSite(ctx, mockserver.Site{Kind: mockserver.EnterpriseScore, Project: "shop-prod"})
	if err != nil {
		t.Fatal(err)
	}
	hc, err := srv.AddSite(ctx, mockserver.Site{Kind: mockserver.HCaptchaPublisher})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, url, ct, body string
		fault               mockserver.Fault
		want                string // the broken body, exactly (malformed) or its start (truncated)
	}{
		{"recaptcha malformed", srv.URL() + "/recaptcha/api/siteverify", "application/x-www-form-urlencoded", "secret=x&response=y",
			mockserver.FaultMalformedJSON, "{\n  \"success\": true,\n  \"challenge_ts\": \""},
		{"hcaptcha malformed", srv.URL() + "/siteverify", "application/x-www-form-urlencoded", "secret=" + hc.Secret + "&response=y",
			mockserver.FaultMalformedJSON, `{"success":true,"credit":false,"`},
		{"enterprise malformed", srv.URL() + "/v1/projects/shop-prod/assessments?key=" + ent.Secret, "application/json",
			`{"event":{"token":"y","siteKey":"` + ent.SiteKey + `"}}`, mockserver.FaultMalformedJSON, ""},
		{"enterprise truncated", srv.URL() + "/v1/projects/shop-prod/assessments?key=" + ent.Secret, "application/json",
			`{"event":{"token":"y","siteKey":"` + ent.SiteKey + `"}}`, mockserver.FaultTruncate, "{\n  \"name\": \"projects/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := srv.AddRule(ctx, mockserver.Rule{Fault: tt.fault, Times: 1}); err != nil {
				t.Fatal(err)
			}
			resp, err := http.Post(tt.url, tt.ct, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			raw, readErr := io.ReadAll(resp.Body)
			resp.Body.Close()
			body := string(raw)
			switch tt.fault {
			case mockserver.FaultTruncate:
				if !errors.Is(readErr, io.ErrUnexpectedEOF) || !strings.HasPrefix(body, tt.want) {
					t.Fatalf("got %q, %v; want a cut answer starting %q", body, readErr, tt.want)
				}
			case mockserver.FaultMalformedJSON:
				if json.Valid(raw) || resp.StatusCode != 200 {
					t.Fatalf("got %d %q, want 200 and invalid JSON", resp.StatusCode, body)
				}
				if tt.want != "" && body != tt.want {
					t.Fatalf("got %q, want %q", body, tt.want)
				}
				if tt.want == "" && (!strings.Contains(body, `"tokenProperties": {`) || !strings.HasSuffix(body, "\"valid\": true,\n    \"invalidReason\": \"")) {
					t.Fatalf("got %q, want an assessment broken off after \"valid\": true", body)
				}
			}
		})
	}
}
