package mockserver_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// answer is a decoded siteverify answer; pointers tell absent from zero.
type answer struct {
	Success     bool     `json:"success"`
	ChallengeTS *string  `json:"challenge_ts"`
	Hostname    *string  `json:"hostname"`
	APK         *string  `json:"apk_package_name"`
	Score       *float64 `json:"score"`
	Action      *string  `json:"action"`
	ErrorCodes  []string `json:"error-codes"`
	raw         string
	status      int
	contentType string
}

// call sends one request through the server's handler.
func call(t *testing.T, s *mockserver.Server, method, target, contentType, body string) answer {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	a := answer{raw: rec.Body.String(), status: rec.Code, contentType: rec.Header().Get("Content-Type")}
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Fatalf("answer is not JSON: %v\n%s", err, rec.Body)
		}
	}
	return a
}

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

const formCT = "application/x-www-form-urlencoded"

func post(t *testing.T, s *mockserver.Server, secret, token string) answer {
	t.Helper()
	return call(t, s, http.MethodPost, mockserver.VerifyPath, formCT, form("secret", secret, "response", token))
}

func TestVerifyAnswers(t *testing.T) {
	s := mockserver.New(t)
	secret := s.Site().Secret
	other, err := s.AddSite(t.Context(), mockserver.Site{Kind: mockserver.V2Checkbox})
	if err != nil {
		t.Fatal(err)
	}
	android, err := s.AddSite(t.Context(), mockserver.Site{Kind: mockserver.Android, PackageName: "com.example.shop"})
	if err != nil {
		t.Fatal(err)
	}
	tsRE := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

	tests := []struct {
		name  string
		req   func() answer
		check func(t *testing.T, a answer)
	}{
		{"v3 success carries score and action", func() answer {
			return post(t, s, secret, issue(t, s, mockserver.TokenSpec{Score: 0.3, Action: "login", Hostname: "app.example.com"}))
		}, func(t *testing.T, a answer) {
			wantSuccess(t, a)
			if *a.Score != 0.3 || *a.Action != "login" || *a.Hostname != "app.example.com" {
				t.Errorf("got score %v action %q hostname %q", *a.Score, *a.Action, *a.Hostname)
			}
			if !tsRE.MatchString(*a.ChallengeTS) {
				t.Errorf("challenge_ts %q is not whole seconds with Z", *a.ChallengeTS)
			}
			if a.ErrorCodes != nil || strings.Contains(a.raw, "error-codes") {
				t.Errorf("error-codes must be absent on success: %s", a.raw)
			}
		}},
		{"zero spec: default score, action, hostname", func() answer {
			return post(t, s, secret, issue(t, s, mockserver.TokenSpec{}))
		}, func(t *testing.T, a answer) {
			wantSuccess(t, a)
			if *a.Score != mockserver.DefaultScore || *a.Action != mockserver.DefaultAction || *a.Hostname != "localhost" {
				t.Errorf("defaults: %s", a.raw)
			}
		}},
		{"explicit zero score", func() answer {
			return post(t, s, secret, issue(t, s, mockserver.TokenSpec{Score: mockserver.ExactlyZero}))
		}, func(t *testing.T, a answer) {
			wantSuccess(t, a)
			if a.Score == nil || *a.Score != 0 {
				t.Errorf("want score 0: %s", a.raw)
			}
		}},
		{"omitted score", func() answer {
			return post(t, s, secret, issue(t, s, mockserver.TokenSpec{OmitScore: true}))
		}, func(t *testing.T, a answer) {
			wantSuccess(t, a)
			if a.Score != nil || a.Action == nil {
				t.Errorf("want action but no score: %s", a.raw)
			}
		}},
		{"v2 has no score or action", func() answer {
			return post(t, s, other.Secret, issue(t, s, mockserver.TokenSpec{SiteKey: other.SiteKey}))
		}, func(t *testing.T, a answer) {
			wantSuccess(t, a)
			if a.Score != nil || a.Action != nil || a.Hostname == nil {
				t.Errorf("v2 shape: %s", a.raw)
			}
		}},
		{"android carries apk_package_name instead of hostname", func() answer {
			return post(t, s, android.Secret, issue(t, s, mockserver.TokenSpec{SiteKey: android.SiteKey}))
		}, func(t *testing.T, a answer) {
			wantSuccess(t, a)
			if a.Hostname != nil || a.APK == nil || *a.APK != "com.example.shop" {
				t.Errorf("android shape: %s", a.raw)
			}
		}},
		{"empty request: both codes, response first", func() answer {
			return call(t, s, http.MethodPost, mockserver.VerifyPath, formCT, "")
		}, func(t *testing.T, a answer) {
			wantCodes(t, a, "missing-input-response", "missing-input-secret")
		}},
		{"missing secret", func() answer { return post(t, s, "", "x") }, func(t *testing.T, a answer) {
			wantCodes(t, a, "missing-input-secret")
		}},
		{"missing response", func() answer { return post(t, s, secret, "") }, func(t *testing.T, a answer) {
			wantCodes(t, a, "missing-input-response")
		}},
		{"unknown secret", func() answer { return post(t, s, "6Lnot-a-secret", issue(t, s, mockserver.TokenSpec{})) }, func(t *testing.T, a answer) {
			wantCodes(t, a, "invalid-input-secret")
		}},
		{"garbage token", func() answer { return post(t, s, secret, "03Agarbage") }, func(t *testing.T, a answer) {
			wantCodes(t, a, "invalid-input-response")
		}},
		{"tampered token", func() answer {
			tok := []byte(issue(t, s, mockserver.TokenSpec{}))
			tok[100] ^= 1
			return post(t, s, secret, string(tok))
		}, func(t *testing.T, a answer) { wantCodes(t, a, "invalid-input-response") }},
		{"token of another site", func() answer {
			return post(t, s, other.Secret, issue(t, s, mockserver.TokenSpec{}))
		}, func(t *testing.T, a answer) { wantCodes(t, a, "invalid-input-response") }},
		{"sitekey sent as secret", func() answer {
			return post(t, s, s.Site().SiteKey, issue(t, s, mockserver.TokenSpec{}))
		}, func(t *testing.T, a answer) { wantCodes(t, a, "invalid-input-secret") }},
		{"expired by age", func() answer {
			return post(t, s, secret, issue(t, s, mockserver.TokenSpec{IssuedAgo: 2*time.Minute + time.Second}))
		}, func(t *testing.T, a answer) { wantCodes(t, a, "timeout-or-duplicate") }},
		{"just inside the lifetime", func() answer {
			return post(t, s, secret, issue(t, s, mockserver.TokenSpec{IssuedAgo: 2*time.Minute - 5*time.Second}))
		}, func(t *testing.T, a answer) { wantSuccess(t, a) }},
		{"GET with a query string", func() answer {
			return call(t, s, http.MethodGet, mockserver.VerifyPath+"?"+form("secret", secret, "response", issue(t, s, mockserver.TokenSpec{})), "", "")
		}, func(t *testing.T, a answer) { wantSuccess(t, a) }},
		{"JSON body counts as absent parameters", func() answer {
			b, _ := json.Marshal(map[string]string{"secret": secret, "response": issue(t, s, mockserver.TokenSpec{})})
			return call(t, s, http.MethodPost, mockserver.VerifyPath, "application/json", string(b))
		}, func(t *testing.T, a answer) {
			wantCodes(t, a, "missing-input-response", "missing-input-secret")
		}},
		{"unknown parameters are ignored", func() answer {
			return call(t, s, http.MethodPost, mockserver.VerifyPath, formCT,
				form("secret", secret, "response", issue(t, s, mockserver.TokenSpec{}), "version", "php_1.3.1", "remoteip", "192.0.2.7"))
		}, func(t *testing.T, a answer) { wantSuccess(t, a) }},
		{"form content type with charset", func() answer {
			return call(t, s, http.MethodPost, mockserver.VerifyPath, formCT+"; charset=UTF-8", form("secret", secret, "response", issue(t, s, mockserver.TokenSpec{})))
		}, func(t *testing.T, a answer) { wantSuccess(t, a) }},
		{"Google test secret accepts anything", func() answer { return post(t, s, mockserver.TestSecret, "anything at all") }, func(t *testing.T, a answer) {
			wantSuccess(t, a)
			if *a.Hostname != mockserver.TestHostname {
				t.Errorf("hostname %q, want %q", *a.Hostname, mockserver.TestHostname)
			}
		}},
		{"Google test secret still needs a response", func() answer { return post(t, s, mockserver.TestSecret, "") }, func(t *testing.T, a answer) {
			wantCodes(t, a, "missing-input-response")
		}},
		{"oversized body", func() answer {
			return call(t, s, http.MethodPost, mockserver.VerifyPath, formCT, "secret="+secret+"&response="+strings.Repeat("A", 70<<10))
		}, func(t *testing.T, a answer) { wantCodes(t, a, "bad-request") }},
		{"broken percent-encoding", func() answer {
			return call(t, s, http.MethodPost, mockserver.VerifyPath, formCT, "secret=%zz&response=abc")
		}, func(t *testing.T, a answer) { wantCodes(t, a, "bad-request") }},
		{"invalid UTF-8 token", func() answer { return post(t, s, secret, "03A\xff\xfe") }, func(t *testing.T, a answer) {
			wantCodes(t, a, "invalid-input-response")
		}},
		{"absurdly long token", func() answer { return post(t, s, secret, "03A"+strings.Repeat("x", 60000)) }, func(t *testing.T, a answer) {
			wantCodes(t, a, "invalid-input-response")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.req()
			if a.status != http.StatusOK || a.contentType != "application/json; charset=utf-8" {
				t.Fatalf("status %d content-type %q, want 200 application/json; charset=utf-8", a.status, a.contentType)
			}
			tt.check(t, a)
		})
	}
}

func wantSuccess(t *testing.T, a answer) {
	t.Helper()
	if !a.Success || a.ChallengeTS == nil {
		t.Fatalf("want success with challenge_ts, got %s", a.raw)
	}
}

func wantCodes(t *testing.T, a answer, codes ...string) {
	t.Helper()
	if a.Success || strings.Join(a.ErrorCodes, ",") != strings.Join(codes, ",") {
		t.Fatalf("want success:false with %v, got %s", codes, a.raw)
	}
}

func TestSingleUse(t *testing.T) {
	s := mockserver.New(t)
	tok := issue(t, s, mockserver.TokenSpec{})
	wantSuccess(t, post(t, s, s.Site().Secret, tok))
	wantCodes(t, post(t, s, s.Site().Secret, tok), "timeout-or-duplicate")
	outcomes := []string{}
	for _, e := range journal(t, s).ForToken(tok) {
		outcomes = append(outcomes, e.Outcome)
	}
	if strings.Join(outcomes, ",") != "success,duplicate" {
		t.Fatalf("journal outcomes %v, want success,duplicate", outcomes)
	}
}

func TestAdvanceExpiresTokens(t *testing.T) {
	s := mockserver.New(t)
	tok := issue(t, s, mockserver.TokenSpec{})
	kept := issue(t, s, mockserver.TokenSpec{Lifetime: 10 * time.Minute})
	s.Advance(t.Context(), 2*time.Minute+time.Millisecond)
	wantCodes(t, post(t, s, s.Site().Secret, tok), "timeout-or-duplicate")
	wantSuccess(t, post(t, s, s.Site().Secret, kept))
	if got := journal(t, s).ForToken(tok)[0].Outcome; got != "expired" {
		t.Fatalf("journal outcome %q, want expired", got)
	}
	// A token issued after the jump is fresh on the moved clock.
	wantSuccess(t, post(t, s, s.Site().Secret, issue(t, s, mockserver.TokenSpec{})))
}

func TestChallengeTSIsIssueTime(t *testing.T) {
	s := mockserver.New(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 600e6, time.UTC)
	tok := issue(t, s, mockserver.TokenSpec{IssuedAt: at, Lifetime: 24 * time.Hour})
	s.Advance(t.Context(), time.Until(at)) // no-op when at is in the past
	a := post(t, s, s.Site().Secret, tok)
	if a.Success {
		t.Fatalf("token issued in January 2026 with a 24h lifetime should be expired now: %s", a.raw)
	}
	tok = issue(t, s, mockserver.TokenSpec{IssuedAt: s.Now().Add(-30 * time.Second)})
	a = post(t, s, s.Site().Secret, tok)
	wantSuccess(t, a)
	want := s.Now().Add(-30 * time.Second).UTC().Format("2006-01-02T15:04:05Z")
	if *a.ChallengeTS != want && *a.ChallengeTS != s.Now().Add(-31*time.Second).UTC().Format("2006-01-02T15:04:05Z") {
		t.Fatalf("challenge_ts %s, want about %s", *a.ChallengeTS, want)
	}
}

func TestTokensLookReal(t *testing.T) {
	s := mockserver.New(t)
	tok := issue(t, s, mockserver.TokenSpec{Action: "a_very/long_action", Hostname: strings.Repeat("h", 200)})
	if !strings.HasPrefix(tok, "03A") || len(tok) < 100 || len(tok) > 4000 {
		t.Fatalf("token %q: want 03A prefix and 100-4000 characters (got %d)", tok[:10], len(tok))
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]+$`).MatchString(tok) {
		t.Fatalf("token is not URL-safe: %s", tok)
	}
	if tok2 := issue(t, s, mockserver.TokenSpec{}); tok2 == tok {
		t.Fatal("two tokens are equal")
	}
}

func TestIssueRejectsBadSpecs(t *testing.T) {
	s := mockserver.New(t)
	for _, spec := range []mockserver.TokenSpec{
		{SiteKey: "6Lunknown"},
		{Score: 1.5},
		{Score: -0.5},
		{Kind: "v4"},
		{Lifetime: -time.Second},
		{IssuedAgo: -time.Second},
		{Action: strings.Repeat("a", 300)},
	} {
		if _, err := s.Issue(t.Context(), spec); err == nil {
			t.Errorf("spec %+v: want an error", spec)
		}
	}
}

func TestNamedTokens(t *testing.T) {
	s := mockserver.New(t, mockserver.WithOptions(mockserver.Options{Tokens: []mockserver.NamedToken{
		{Token: "human", Reusable: true, Spec: mockserver.TokenSpec{Score: 0.9, Action: "login"}},
		{Token: "once", Spec: mockserver.TokenSpec{}},
		{Token: "stale", Reusable: true, Spec: mockserver.TokenSpec{IssuedAgo: 5 * time.Minute}},
	}}))
	secret := s.Site().Secret
	for range 3 {
		wantSuccess(t, post(t, s, secret, "human"))
	}
	wantSuccess(t, post(t, s, secret, "once"))
	wantCodes(t, post(t, s, secret, "once"), "timeout-or-duplicate")
	wantCodes(t, post(t, s, secret, "stale"), "timeout-or-duplicate")
	s.Reset(t.Context())
	wantSuccess(t, post(t, s, secret, "once"))
}

func TestMethodNotAllowed(t *testing.T) {
	s := mockserver.New(t)
	a := call(t, s, http.MethodPut, mockserver.VerifyPath, formCT, "")
	if a.status != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: status %d, want 405", a.status)
	}
}

func TestJournal(t *testing.T) {
	s := mockserver.New(t, mockserver.WithJournalSize(3))
	secret := s.Site().Secret
	call(t, s, http.MethodPost, mockserver.VerifyPath+"?secret="+url.QueryEscape(secret), formCT, form("response", "tok1", "remoteip", "192.0.2.1"))
	for i := range 4 {
		post(t, s, secret, "tok"+string(rune('2'+i)))
	}
	j := journal(t, s)
	if len(j.Entries) != 3 || j.Dropped != 2 || j.Capacity != 3 {
		t.Fatalf("journal: %d entries, %d dropped, capacity %d; want 3, 2, 3", len(j.Entries), j.Dropped, j.Capacity)
	}
	if j.Entries[0].Seq != 3 || j.LastSeq() != 5 || len(j.Since(4)) != 1 {
		t.Fatalf("sequence numbers: %+v", j.Entries)
	}
	s.ClearJournal(t.Context())
	call(t, s, http.MethodPost, mockserver.VerifyPath+"?secret="+url.QueryEscape(secret), formCT, form("response", "tok1", "remoteip", "192.0.2.1"))
	e := journal(t, s).Entries[0]
	if e.SecretIn != "query" || e.SecretSite != s.Site().SiteKey || e.RemoteIP != "192.0.2.1" || e.ContentType != formCT {
		t.Fatalf("entry: %+v", e)
	}
	if e.Query.Get("secret") != mockserver.Fingerprint(secret) || e.Form.Get("response") != "tok1" {
		t.Fatalf("params not recorded as expected: query %v form %v", e.Query, e.Form)
	}
	all, _ := json.Marshal(journal(t, s))
	if strings.Contains(string(all), secret) {
		t.Fatal("the journal holds the secret in clear")
	}
	if !strings.Contains(journal(t, s).Dump(), "secret=in-query") {
		t.Fatalf("dump: %s", journal(t, s).Dump())
	}
}

func TestJournalBoundsHostileEntries(t *testing.T) {
	s := mockserver.New(t)
	v := url.Values{}
	for i := range 200 {
		v.Set(strings.Repeat("k", 100)+string(rune('a'+i%26))+strings.Repeat("z", i), strings.Repeat("v", 300))
	}
	body := v.Encode()
	if len(body) > 64<<10 {
		body = body[:60<<10]
	}
	call(t, s, http.MethodPost, mockserver.VerifyPath, formCT, body)
	e := journal(t, s).Entries[0]
	size := 0
	for k, vs := range e.Form {
		size += len(k)
		for _, x := range vs {
			size += len(x)
		}
	}
	if len(e.Form) > 16 || size > 16*(64+4*530) {
		t.Fatalf("entry keeps %d params, %d bytes", len(e.Form), size)
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	var logs strings.Builder
	s := mockserver.New(t, mockserver.WithLogger(newDebugLogger(&logs)))
	post(t, s, s.Site().Secret, issue(t, s, mockserver.TokenSpec{}))
	post(t, s, "6Lwrong-secret-value-xyz", "x")
	if logs.Len() == 0 {
		t.Fatal("nothing logged at debug level")
	}
	for _, secret := range []string{s.Site().Secret, "6Lwrong-secret-value-xyz"} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("log holds a secret in clear:\n%s", logs.String())
		}
	}
}

func TestCloseIsIdempotentAndReleasesHangs(t *testing.T) {
	s, err := mockserver.NewServer(mockserver.Options{Rules: []mockserver.Rule{{Fault: mockserver.FaultHang, Delay: time.Minute}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		resp, err := http.PostForm(s.VerifyURL(), url.Values{"secret": {"x"}, "response": {"y"}})
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		done <- err
	}()
	for len(journal(t, s).Entries) == 0 && len(s.Rules()) == 1 {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	for range 3 {
		go s.Close()
	}
	s.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Close took %v with a hung request", d)
	}
	if err := <-done; err == nil {
		t.Fatal("hung request got an answer")
	}
}

func TestNonLoopbackNeedsAdminToken(t *testing.T) {
	_, err := mockserver.NewServer(mockserver.Options{Addr: "0.0.0.0:0"})
	if err == nil || !strings.Contains(err.Error(), "admin token") {
		t.Fatalf("want a refusal naming the admin token, got %v", err)
	}
	s, err := mockserver.NewServer(mockserver.Options{Addr: "0.0.0.0:0", AdminToken: "t0ken"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
