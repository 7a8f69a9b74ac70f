package mockserver_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// csDo sends one request to the mock and returns status, headers and body.
func csDo(t *testing.T, method, target, contentType, body string, header map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

type csMintAnswer struct {
	Token       string `json:"token"`
	ExpiresAt   string `json:"expires_at"`
	ExpiresAtMS int64  `json:"expires_at_ms"`
	NowMS       int64  `json:"now_ms"`
	ExpiresInMS int64  `json:"expires_in_ms"`
	Error       string `json:"error"`
	Code        string `json:"code"`
}

func csMint(t *testing.T, s *mockserver.Server, form url.Values) (int, csMintAnswer) {
	t.Helper()
	status, h, body := csDo(t, "POST", s.URL()+mockserver.MintPath, "application/x-www-form-urlencoded;charset=UTF-8", form.Encode(),
		map[string]string{"Origin": "http://127.0.0.1:9999"})
	if got := h.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("mint: Access-Control-Allow-Origin = %q, want *", got)
	}
	var a csMintAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("mint answer %q: %v", body, err)
	}
	return status, a
}

func csVerify(t *testing.T, s *mockserver.Server, secret, token string) map[string]any {
	t.Helper()
	resp, err := http.PostForm(s.VerifyURL(), url.Values{"secret": {secret}, "response": {token}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestClientScriptServed(t *testing.T) {
	s := mockserver.New(t)
	for _, tc := range []struct {
		path, query string
		header      map[string]string
		want        []string
	}{
		{mockserver.ScriptPath, "render=6LcKEY", nil, []string{`"enterprise":false`, `"render":"6LcKEY"`, `"origin":"http://` + s.Addr().String() + `"`}},
		{mockserver.ScriptPath, "onload=onloadCallback&render=explicit", nil, []string{`"onload":"onloadCallback"`, `"render":"explicit"`}},
		{mockserver.EnterpriseScriptPath, "render=K", nil, []string{`"enterprise":true`}},
		// The browser package forwards Google's URL with these headers, so
		// the script mints from https://www.google.com/recaptcha/api2/mint.
		{mockserver.ScriptPath, "", map[string]string{"X-Forwarded-Host": "www.google.com", "X-Forwarded-Proto": "https"}, []string{`"origin":"https://www.google.com"`}},
		// Markup in a parameter cannot break out of the script.
		{mockserver.ScriptPath, "onload=" + url.QueryEscape("</script><b>"), nil, []string{`\u003c/script\u003e\u003cb\u003e`}},
	} {
		status, h, body := csDo(t, "GET", s.URL()+tc.path+"?"+tc.query, "", "", tc.header)
		if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/javascript") {
			t.Fatalf("GET %s?%s: %d %s", tc.path, tc.query, status, h.Get("Content-Type"))
		}
		if strings.Contains(body, "/*SITEVERIFY_CONFIG*/") {
			t.Errorf("GET %s?%s: configuration marker left in the script", tc.path, tc.query)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s?%s: script lacks %s", tc.path, tc.query, w)
			}
		}
		for _, api := range []string{"grecaptcha", "___grecaptcha_cfg", "g-recaptcha-response", "expired-callback", "__siteverify"} {
			if !strings.Contains(body, api) {
				t.Errorf("script lacks %q", api)
			}
		}
	}
	if got := string(mockserver.ClientScript(mockserver.ScriptPath, "render=X", "https://www.recaptcha.net")); !strings.Contains(got, `"origin":"https://www.recaptcha.net"`) {
		t.Errorf("ClientScript: origin not set")
	}
}

func TestMintV3RecordsPageAndVerifies(t *testing.T) {
	s := mockserver.New(t) // default site is V3
	site := s.Site()
	status, a := csMint(t, s, url.Values{"sitekey": {site.SiteKey}, "kind": {"v3"}, "action": {"login"},
		"hostname": {"shop.example.test"}, "page": {"/login-v3"}, "widget": {"100000"}})
	if status != 200 || a.Token == "" {
		t.Fatalf("mint: %d %+v", status, a)
	}
	if a.ExpiresInMS <= 0 || a.ExpiresInMS > 120000 || a.ExpiresAtMS-a.NowMS != a.ExpiresInMS {
		t.Errorf("mint expiry: %+v", a)
	}
	ms := mints(t, s)
	if len(ms) != 1 {
		t.Fatalf("mint log: %+v", ms)
	}
	m := ms[0]
	if m.SiteKey != site.SiteKey || m.Action != "login" || m.Hostname != "shop.example.test" || m.Page != "/login-v3" ||
		m.Kind != mockserver.V3 || m.Requested != "v3" || m.Token != a.Token || m.Score == nil || *m.Score != mockserver.DefaultScore ||
		m.Origin != "http://127.0.0.1:9999" || m.Seq != 1 {
		t.Errorf("mint log entry: %+v", m)
	}
	got := csVerify(t, s, site.Secret, a.Token)
	if got["success"] != true || got["action"] != "login" || got["hostname"] != "shop.example.test" || got["score"] != 0.9 {
		t.Errorf("siteverify of a minted token: %v", got)
	}
	if again := csVerify(t, s, site.Secret, a.Token); again["success"] != false {
		t.Errorf("minted tokens are single use like any other: %v", again)
	}
}

func TestMintJSONBodyAndHostnameFromOrigin(t *testing.T) {
	s := mockserver.New(t)
	status, _, body := csDo(t, "POST", s.URL()+mockserver.MintPath, "application/json",
		`{"sitekey":"`+s.Site().SiteKey+`","kind":"v3","action":"signup"}`, map[string]string{"Origin": "https://app.example.test:8443"})
	if status != 200 {
		t.Fatalf("mint: %d %s", status, body)
	}
	if m := mints(t, s)[0]; m.Hostname != "app.example.test" || m.Action != "signup" {
		t.Errorf("mint: %+v", m)
	}
}

func TestMintErrors(t *testing.T) {
	s := mockserver.New(t)
	v2, err := s.AddSite(t.Context(), mockserver.NewSite(mockserver.V2Checkbox))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		form url.Values
		code string
	}{
		{"no sitekey", url.Values{"kind": {"v3"}}, "missing-sitekey"},
		{"unknown sitekey", url.Values{"sitekey": {"6LcUNKNOWN"}, "kind": {"v3"}}, "invalid-sitekey"},
		{"v3 execute with a v2 key", url.Values{"sitekey": {v2.SiteKey}, "kind": {"v3"}}, "invalid-key-type"},
		{"checkbox with a v3 key", url.Values{"sitekey": {s.Site().SiteKey}, "kind": {"v2-checkbox"}}, "invalid-key-type"},
		{"invisible with a checkbox key", url.Values{"sitekey": {v2.SiteKey}, "kind": {"invisible"}}, "invalid-key-type"},
	} {
		status, a := csMint(t, s, tc.form)
		if status != http.StatusBadRequest || a.Code != tc.code || a.Error == "" || a.Token != "" {
			t.Errorf("%s: %d %+v, want 400 %s", tc.name, status, a, tc.code)
		}
	}
	// Failed mints are logged too: a flow report shows the page asked with
	// a wrong key.
	if n := len(mints(t, s)); n != 5 {
		t.Errorf("mint log has %d entries, want 5", n)
	}
	for _, m := range mints(t, s) {
		if m.Error == "" || m.Token != "" {
			t.Errorf("failed mint logged as %+v", m)
		}
	}
	// Google's test key works for v2 widgets.
	if status, a := csMint(t, s, url.Values{"sitekey": {mockserver.TestSiteKey}, "kind": {"v2-checkbox"}}); status != 200 || a.Token == "" {
		t.Errorf("test key: %d %+v", status, a)
	}
	status, h, _ := csDo(t, "OPTIONS", s.URL()+mockserver.MintPath, "", "", map[string]string{"Origin": "http://x", "Access-Control-Request-Method": "POST"})
	if status != http.StatusNoContent || h.Get("Access-Control-Allow-Methods") != "POST" {
		t.Errorf("preflight: %d %v", status, h)
	}
	if status, _, _ := csDo(t, "GET", s.URL()+mockserver.MintPath, "", "", nil); status != http.StatusBadRequest {
		t.Errorf("GET mint without a JSONP callback: %d", status)
	}
	if status, _, _ := csDo(t, "PUT", s.URL()+mockserver.MintPath, "", "", nil); status != http.StatusMethodNotAllowed {
		t.Errorf("PUT mint: %d", status)
	}
}

func TestMintJSONP(t *testing.T) {
	s := mockserver.New(t)
	q := url.Values{"sitekey": {s.Site().SiteKey}, "kind": {"v3"}, "action": {"login"}, "callback": {"__siteverify.jsonp.cb1"}}
	status, h, body := csDo(t, "GET", s.URL()+mockserver.MintPath+"?"+q.Encode(), "", "", nil)
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/javascript") ||
		!strings.HasPrefix(body, `__siteverify.jsonp.cb1({"expires_at"`) || !strings.HasSuffix(body, ");\n") {
		t.Fatalf("JSONP mint: %d %s %q", status, h.Get("Content-Type"), body)
	}
	var a csMintAnswer
	if err := json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(body, "__siteverify.jsonp.cb1("), ");\n")), &a); err != nil || a.Token == "" {
		t.Fatalf("JSONP answer %q: %v", body, err)
	}
	if got := csVerify(t, s, s.Site().Secret, a.Token); got["action"] != "login" {
		t.Errorf("JSONP token verifies as %v", got)
	}
	// Errors are 200 too, or the browser would not run the script.
	q.Set("sitekey", "6LcUNKNOWN")
	status, _, body = csDo(t, "GET", s.URL()+mockserver.MintPath+"?"+q.Encode(), "", "", nil)
	if status != 200 || !strings.Contains(body, `"code":"invalid-sitekey"`) {
		t.Errorf("JSONP error: %d %s", status, body)
	}
	for _, bad := range []string{"alert(1)//", "a;b", "x.y.z.w.v.u.t", ""} {
		q.Set("callback", bad)
		if status, _, _ := csDo(t, "GET", s.URL()+mockserver.MintPath+"?"+q.Encode(), "", "", nil); status != http.StatusBadRequest {
			t.Errorf("callback %q: %d, want 400", bad, status)
		}
	}
}

func TestMintV2CheckboxToken(t *testing.T) {
	s := mockserver.New(t)
	v2, err := s.AddSite(t.Context(), mockserver.NewSite(mockserver.V2Checkbox))
	if err != nil {
		t.Fatal(err)
	}
	status, a := csMint(t, s, url.Values{"sitekey": {v2.SiteKey}, "kind": {"v2-checkbox"}, "hostname": {"127.0.0.1"}, "page": {"/login-v2"}})
	if status != 200 {
		t.Fatalf("mint: %d %+v", status, a)
	}
	got := csVerify(t, s, v2.Secret, a.Token)
	if got["success"] != true || got["hostname"] != "127.0.0.1" || got["score"] != nil || got["action"] != nil {
		t.Errorf("v2 token verifies as %v", got)
	}
	if m := mints(t, s)[0]; m.Score != nil || m.Kind != mockserver.V2Checkbox {
		t.Errorf("v2 mint: %+v", m)
	}
	// The page's expiry timer and the mock's verdict agree.
	s.Advance(t.Context(), time.Duration(a.ExpiresInMS)*time.Millisecond+time.Second)
	_, b := csMint(t, s, url.Values{"sitekey": {v2.SiteKey}, "kind": {"v2-checkbox"}})
	if got := csVerify(t, s, v2.Secret, b.Token); got["success"] != true {
		t.Errorf("a token minted after the clock moved verifies: %v", got)
	}
}

func TestClientScoresMostSpecificWins(t *testing.T) {
	s := mockserver.New(t)
	key := s.Site().SiteKey
	for _, c := range []mockserver.ClientScore{
		{Action: "login", Score: 0.7},
		{Page: "/checkout", Score: 0.3},
		{Action: "login", Page: "/checkout", Score: mockserver.ExactlyZero},
	} {
		if err := s.SetClientScore(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetClientScore(t.Context(), mockserver.ClientScore{Score: 1.5}); err == nil {
		t.Error("a score above 1 is refused")
	}
	for _, tc := range []struct {
		action, page string
		want         float64
	}{
		{"login", "/checkout", 0},
		{"pay", "/checkout", 0.3},
		{"login", "/", 0.7},
		{"homepage", "/", mockserver.DefaultScore},
	} {
		_, a := csMint(t, s, url.Values{"sitekey": {key}, "kind": {"v3"}, "action": {tc.action}, "page": {tc.page}})
		got := csVerify(t, s, s.Site().Secret, a.Token)
		if got["score"] != tc.want {
			t.Errorf("action %q page %q: score %v, want %v", tc.action, tc.page, got["score"], tc.want)
		}
	}
	// Same action and page replaces.
	if err := s.SetClientScore(t.Context(), mockserver.ClientScore{Action: "login", Score: 0.1}); err != nil {
		t.Fatal(err)
	}
	if n := len(s.ClientScores()); n != 3 {
		t.Errorf("%d client scores after a replacement, want 3", n)
	}
	if s.RemoveClientScore(t.Context(), "login", "/checkout") != nil || s.RemoveClientScore(t.Context(), "login", "/checkout") == nil {
		t.Error("RemoveClientScore removes exactly once")
	}
	s.Reset(t.Context())
	if len(s.ClientScores()) != 0 || len(mints(t, s)) != 0 {
		t.Error("Reset clears client scores and the mint log")
	}
}

func TestClientScoreAdminAndDial(t *testing.T) {
	s := mockserver.New(t)
	ctx := context.Background()
	c, err := mockserver.Dial(ctx, s.URL(), mockserver.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var m mockserver.ClientMock = c
	if err := m.SetClientScore(ctx, mockserver.ClientScore{Page: "/login", Score: mockserver.ExactlyZero}); err != nil {
		t.Fatal(err)
	}
	if got := s.ClientScores(); len(got) != 1 || got[0].Page != "/login" || got[0].Score != mockserver.ExactlyZero {
		t.Fatalf("installed over the admin API: %+v", got)
	}
	status, _, body := csDo(t, "GET", s.URL()+"/__admin/client-scores", "", "", nil)
	if status != 200 || !strings.Contains(body, `"score": 0`) {
		t.Errorf("GET client-scores: %d %s", status, body)
	}
	if status, _, body := csDo(t, "POST", s.URL()+"/__admin/client-scores", "application/json", `{"score": 0.3, "bogus": 1}`, nil); status != 400 {
		t.Errorf("unknown field: %d %s", status, body)
	}
	_, _ = csMint(t, s, url.Values{"sitekey": {s.Site().SiteKey}, "kind": {"v3"}, "page": {"/login"}})
	got, err := m.Mints(ctx)
	if err != nil || len(got) != 1 || got[0].Score == nil || *got[0].Score != 0 {
		t.Fatalf("Mints over the admin API: %+v %v", got, err)
	}
	if err := m.RemoveClientScore(ctx, "", "/nope"); err == nil {
		t.Error("deleting a missing client score is an error")
	}
	if err := m.RemoveClientScore(ctx, "", "/login"); err != nil || len(s.ClientScores()) != 0 {
		t.Errorf("RemoveClientScore: %v %+v", err, s.ClientScores())
	}
	_ = s.SetClientScore(t.Context(), mockserver.ClientScore{Action: "a", Score: 0.3})
	if err := m.ClearClientScores(ctx); err != nil || len(s.ClientScores()) != 0 {
		t.Errorf("ClearClientScores: %v", err)
	}
	if status, _, _ := csDo(t, "DELETE", s.URL()+"/__admin/mints", "", "", nil); status != 204 || len(mints(t, s)) != 0 {
		t.Errorf("DELETE mints: %d", status)
	}
}

func TestClientAdminRoutesNeedTheAdminToken(t *testing.T) {
	s, err := mockserver.NewServer(mockserver.Options{AdminToken: "sekret"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, path := range []string{"/__admin/client-scores", "/__admin/mints"} {
		if status, _, _ := csDo(t, "GET", s.URL()+path, "", "", nil); status != http.StatusUnauthorized {
			t.Errorf("GET %s without the token: %d", path, status)
		}
		if status, _, _ := csDo(t, "GET", s.URL()+path, "", "", map[string]string{"Authorization": "Bearer sekret"}); status != 200 {
			t.Errorf("GET %s with the token: %d", path, status)
		}
	}
	// The page-facing routes stay open: a browser cannot send the token.
	if status, _, _ := csDo(t, "GET", s.URL()+mockserver.ScriptPath, "", "", nil); status != 200 {
		t.Errorf("script: %d", status)
	}
}

func TestMintLogIsBounded(t *testing.T) {
	s := mockserver.New(t)
	form := url.Values{"sitekey": {"6LcUNKNOWN"}}
	for range mockserver.MaxMints + 5 {
		status, _, _ := csDo(t, "POST", s.URL()+mockserver.MintPath, "application/x-www-form-urlencoded", form.Encode(), nil)
		if status != 400 {
			t.Fatal(status)
		}
	}
	ms := mints(t, s)
	if len(ms) != mockserver.MaxMints || ms[0].Seq != 6 || ms[len(ms)-1].Seq != mockserver.MaxMints+5 {
		t.Errorf("mint log: %d entries, seq %d..%d", len(ms), ms[0].Seq, ms[len(ms)-1].Seq)
	}
}

// The script decides the widget from the sitekey's key type, as Google's
// does, so the served script carries the key type of every registered site.
func TestClientScriptCarriesKeyKinds(t *testing.T) {
	s := mockserver.New(t)
	inv, err := s.AddSite(t.Context(), mockserver.NewSite(mockserver.V2Invisible))
	if err != nil {
		t.Fatal(err)
	}
	_, _, body := csDo(t, "GET", s.URL()+mockserver.ScriptPath+"?render=explicit", "", "", nil)
	for _, want := range []string{
		`"` + s.Site().SiteKey + `":"v3"`,
		`"` + inv.SiteKey + `":"v2-invisible"`,
		`"` + mockserver.TestSiteKey + `":"any"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the script's key types lack %s", want)
		}
	}
}

// csMintAt mints through a provider's mint path.
func csMintAt(t *testing.T, s *mockserver.Server, path string, form url.Values) (int, csMintAnswer) {
	t.Helper()
	status, _, body := csDo(t, "POST", s.URL()+path, "application/x-www-form-urlencoded", form.Encode(), map[string]string{"Origin": "http://127.0.0.1:9999"})
	var a csMintAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("mint answer %q: %v", body, err)
	}
	return status, a
}

// csVerifyAt verifies a token on a provider's verify path.
func csVerifyAt(t *testing.T, s *mockserver.Server, path, secret, token string) map[string]any {
	t.Helper()
	resp, err := http.PostForm(s.URL()+path, url.Values{"secret": {secret}, "response": {token}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestProviderClientScriptsServed(t *testing.T) {
	s := mockserver.New(t)
	for _, tc := range []struct {
		p           *mockserver.Provider
		path, query string
		host        string
		want        []string
	}{
		{mockserver.HCaptcha, mockserver.HCaptchaScriptPath, "onload=hCaptchaOnLoad&render=explicit&recaptchacompat=off", "js.hcaptcha.com",
			[]string{`"provider":"hcaptcha"`, `"mintPath":"/1/mint"`, `"origin":"https://js.hcaptcha.com"`, `"onload":"hCaptchaOnLoad"`,
				`"render":"explicit"`, `"recaptchacompat":"off"`, `"lifetimeMs":120000`, "h-captcha-response", "g-recaptcha-response",
				"getRespKey", "expired-callback", "__siteverify"}},
		{mockserver.Turnstile, mockserver.TurnstileScriptPath, "onload=onloadTurnstileCallback&render=explicit", "challenges.cloudflare.com",
			[]string{`"provider":"turnstile"`, `"mintPath":"/turnstile/v0/mint"`, `"origin":"https://challenges.cloudflare.com"`,
				`"onload":"onloadTurnstileCallback"`, `"lifetimeMs":300000`, "cf-turnstile-response", "isExpired", "cData", "__siteverify"}},
	} {
		if !slices.Contains(tc.p.ScriptPaths(), tc.path) {
			t.Errorf("%s: ScriptPaths %v lack %s", tc.p.Name(), tc.p.ScriptPaths(), tc.path)
		}
		u, _ := url.Parse("https://" + tc.host + tc.path)
		if !tc.p.IsRealURL(u) {
			t.Errorf("%s: the real script URL %s is not one the mock stands in for", tc.p.Name(), u)
		}
		u.Path = map[*mockserver.Provider]string{mockserver.HCaptcha: mockserver.HCaptchaMintPath, mockserver.Turnstile: mockserver.TurnstileMintPath}[tc.p]
		if !tc.p.IsRealURL(u) {
			t.Errorf("%s: the mint URL %s on the script's host is not one the mock stands in for", tc.p.Name(), u)
		}
		status, h, body := csDo(t, "GET", s.URL()+tc.path+"?"+tc.query, "", "", map[string]string{"X-Forwarded-Host": tc.host, "X-Forwarded-Proto": "https"})
		if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/javascript") || h.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("GET %s: %d %v", tc.path, status, h)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: script lacks %s", tc.path, w)
			}
		}
		if strings.Contains(body, "/*SITEVERIFY_CONFIG*/") || strings.Contains(body, "grecaptcha.enterprise") {
			t.Errorf("GET %s: not the provider's script", tc.path)
		}
		if got := string(mockserver.ClientScript(tc.path, "", "https://"+tc.host)); !strings.Contains(got, `"provider":"`+tc.p.Name()+`"`) {
			t.Errorf("ClientScript(%s) is not the %s script", tc.path, tc.p.Name())
		}
	}
	// Markup in a parameter cannot break out of the script.
	_, _, body := csDo(t, "GET", s.URL()+mockserver.TurnstileScriptPath+"?onload="+url.QueryEscape("</script><b>"), "", "", nil)
	if !strings.Contains(body, `\u003c/script\u003e\u003cb\u003e`) {
		t.Errorf("turnstile script: onload not escaped")
	}
}

func TestMintHCaptchaTokens(t *testing.T) {
	s := mockserver.New(t)
	for _, kind := range []mockserver.KeyKind{mockserver.HCaptchaPublisher, mockserver.HCaptchaEnterprise} {
		site, err := s.AddSite(t.Context(), mockserver.NewSite(kind))
		if err != nil {
			t.Fatal(err)
		}
		status, a := csMintAt(t, s, mockserver.HCaptchaMintPath, url.Values{"sitekey": {site.SiteKey}, "kind": {"checkbox"},
			"hostname": {"shop.example.test"}, "page": {"/login"}, "widget": {"0t37epmk3c0d"}})
		if status != 200 || !strings.HasPrefix(a.Token, "P1_") || a.ExpiresInMS > 120000 || a.ExpiresInMS < 119000 { // the issue time is whole milliseconds, taken a moment earlier
			t.Fatalf("%s mint: %d %+v", kind, status, a)
		}
		got := csVerifyAt(t, s, mockserver.HCaptchaVerifyPath, site.Secret, a.Token)
		if got["success"] != true || got["hostname"] != "shop.example.test" {
			t.Errorf("%s: a minted token verifies as %v", kind, got)
		}
		if kind == mockserver.HCaptchaEnterprise && got["score"] != 0.0 {
			t.Errorf("an Enterprise page token is a safe user (score 0): %v", got)
		}
		if again := csVerifyAt(t, s, mockserver.HCaptchaVerifyPath, site.Secret, a.Token); again["success"] != false ||
			!slices.Equal(anyStrings(again["error-codes"]), []string{"already-seen-response"}) {
			t.Errorf("%s: a replay: %v", kind, again)
		}
		m := mints(t, s)[len(mints(t, s))-1]
		if m.Provider != "hcaptcha" || m.Kind != kind || m.Requested != "checkbox" || m.Widget != "0t37epmk3c0d" || m.Token != a.Token || m.Test {
			t.Errorf("%s mint log: %+v", kind, m)
		}
	}
	// Expiry: the page's timer and the mock's verdict agree.
	site, _ := s.AddSite(t.Context(), mockserver.NewSite(mockserver.HCaptchaPublisher))
	_, a := csMintAt(t, s, mockserver.HCaptchaMintPath, url.Values{"sitekey": {site.SiteKey}})
	if _, err := s.Advance(t.Context(), time.Duration(a.ExpiresInMS)*time.Millisecond+time.Second); err != nil {
		t.Fatal(err)
	}
	if got := csVerifyAt(t, s, mockserver.HCaptchaVerifyPath, site.Secret, a.Token); !slices.Equal(anyStrings(got["error-codes"]), []string{"expired-input-response"}) {
		t.Errorf("an expired page token: %v", got)
	}
}

func TestMintTurnstileActionAndCData(t *testing.T) {
	s := mockserver.New(t)
	site, err := s.AddSite(t.Context(), mockserver.NewSite(mockserver.TurnstileStandard))
	if err != nil {
		t.Fatal(err)
	}
	status, a := csMintAt(t, s, mockserver.TurnstileMintPath, url.Values{"sitekey": {site.SiteKey}, "kind": {"managed"},
		"action": {"login"}, "cdata": {"sess-42"}, "hostname": {"shop.example.test"}, "widget": {"cf-chl-widget-ab12c"}})
	if status != 200 || !strings.HasPrefix(a.Token, "0.") || a.ExpiresInMS > 300000 || a.ExpiresInMS < 299000 {
		t.Fatalf("mint: %d %+v", status, a)
	}
	got := csVerifyAt(t, s, mockserver.TurnstileVerifyPath, site.Secret, a.Token)
	if got["success"] != true || got["action"] != "login" || got["cdata"] != "sess-42" || got["hostname"] != "shop.example.test" {
		t.Errorf("a minted token verifies as %v", got)
	}
	if again := csVerifyAt(t, s, mockserver.TurnstileVerifyPath, site.Secret, a.Token); !slices.Equal(anyStrings(again["error-codes"]), []string{"timeout-or-duplicate"}) {
		t.Errorf("a replay: %v", again)
	}
	m := mints(t, s)[0]
	if m.Provider != "turnstile" || m.Action != "login" || m.CData != "sess-42" || m.Kind != mockserver.TurnstileStandard {
		t.Errorf("mint log: %+v", m)
	}
	// No action or cdata: empty strings, as Turnstile answers.
	_, b := csMintAt(t, s, mockserver.TurnstileMintPath, url.Values{"sitekey": {site.SiteKey}})
	if got := csVerifyAt(t, s, mockserver.TurnstileVerifyPath, site.Secret, b.Token); got["action"] != "" || got["cdata"] != "" {
		t.Errorf("no action or cdata: %v", got)
	}
	for _, bad := range []url.Values{
		{"action": {strings.Repeat("a", 33)}},
		{"action": {"log in"}},
		{"cdata": {strings.Repeat("c", 256)}},
		{"cdata": {"a.b"}},
	} {
		bad.Set("sitekey", site.SiteKey)
		if status, a := csMintAt(t, s, mockserver.TurnstileMintPath, bad); status != 400 || a.Code != "bad-request" {
			t.Errorf("mint %v: %d %+v, want 400 bad-request", bad, status, a)
		}
	}
}

// The providers' official test sitekeys emit the documented test tokens,
// which siteverify answers as the provider documents.
func TestMintProviderTestSitekeys(t *testing.T) {
	s := mockserver.New(t)
	for _, tc := range []struct {
		siteKey, token string
		score          any
	}{
		{mockserver.HCaptchaTestSiteKey, mockserver.HCaptchaTestToken, nil},
		{mockserver.HCaptchaEnterpriseSafeSiteKey, mockserver.HCaptchaEnterpriseSafeToken, 0.0},
		{mockserver.HCaptchaEnterpriseBotSiteKey, mockserver.HCaptchaEnterpriseBotToken, 1.0},
	} {
		status, a := csMintAt(t, s, mockserver.HCaptchaMintPath, url.Values{"sitekey": {tc.siteKey}})
		if status != 200 || a.Token != tc.token {
			t.Fatalf("%s: %d %+v", tc.siteKey, status, a)
		}
		for range 2 { // test tokens pass every time
			got := csVerifyAt(t, s, mockserver.HCaptchaVerifyPath, mockserver.HCaptchaTestSecret, a.Token)
			if got["success"] != true || got["hostname"] != mockserver.HCaptchaTestHostname || got["score"] != tc.score {
				t.Errorf("%s: %v", tc.siteKey, got)
			}
		}
	}
	for _, key := range []string{mockserver.TurnstileTestSiteKeyPass, mockserver.TurnstileTestSiteKeyInvisible, mockserver.TurnstileTestSiteKeyChallenge} {
		status, a := csMintAt(t, s, mockserver.TurnstileMintPath, url.Values{"sitekey": {key}, "action": {"login"}})
		if status != 200 || a.Token != mockserver.TurnstileDummyToken {
			t.Fatalf("%s: %d %+v", key, status, a)
		}
		if got := csVerifyAt(t, s, mockserver.TurnstileVerifyPath, mockserver.TurnstileTestSecretPass, a.Token); got["success"] != true || got["hostname"] != "example.com" {
			t.Errorf("%s with the pass secret: %v", key, got)
		}
		if got := csVerifyAt(t, s, mockserver.TurnstileVerifyPath, mockserver.TurnstileTestSecretFail, a.Token); got["success"] != false {
			t.Errorf("%s with the fail secret: %v", key, got)
		}
	}
	for _, key := range []string{mockserver.TurnstileTestSiteKeyFail, "2x00000000000000000000BB"} {
		if status, a := csMintAt(t, s, mockserver.TurnstileMintPath, url.Values{"sitekey": {key}}); status != 400 || a.Code != "test-key-fails" || a.Token != "" {
			t.Errorf("%s always fails: %d %+v", key, status, a)
		}
	}
	ms := mints(t, s)
	if len(ms) != 8 {
		t.Fatalf("mint log: %d entries, want 8", len(ms))
	}
	for _, m := range ms {
		if !m.Test || m.Provider == "" || m.Kind == "" {
			t.Errorf("test sitekey mint logged as %+v", m)
		}
	}
}

// A provider's script mints only for its own sitekeys, as the real widget
// knows only its provider's.
func TestMintIsBoundToTheScriptsProvider(t *testing.T) {
	s := mockserver.New(t)
	hc, err := s.AddSite(t.Context(), mockserver.NewSite(mockserver.HCaptchaPublisher))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, siteKey string }{
		{mockserver.HCaptchaMintPath, s.Site().SiteKey},
		{mockserver.TurnstileMintPath, hc.SiteKey},
		{mockserver.MintPath, hc.SiteKey},
		{mockserver.TurnstileMintPath, mockserver.HCaptchaTestSiteKey},
		{mockserver.HCaptchaMintPath, mockserver.TurnstileTestSiteKeyPass},
	} {
		if status, a := csMintAt(t, s, tc.path, url.Values{"sitekey": {tc.siteKey}}); status != 400 || a.Code != "invalid-sitekey" {
			t.Errorf("%s with %s: %d %+v, want 400 invalid-sitekey", tc.path, tc.siteKey, status, a)
		}
	}
	// JSONP works on every mint path.
	q := url.Values{"sitekey": {hc.SiteKey}, "callback": {"__siteverify.jsonp.hc1"}}
	status, _, body := csDo(t, "GET", s.URL()+mockserver.HCaptchaMintPath+"?"+q.Encode(), "", "", nil)
	if status != 200 || !strings.HasPrefix(body, `__siteverify.jsonp.hc1({"expires_at"`) {
		t.Errorf("JSONP hCaptcha mint: %d %s", status, body)
	}
}

func anyStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			s, _ := x.(string)
			out = append(out, s)
		}
	}
	return out
}

// TestMintEnterpriseTokens: enterprise.js (enterprise=1) mints an
// Enterprise token for an Enterprise key, which the assessments API
// accepts with the action the page asked for; api.js refuses the key.
func TestMintEnterpriseTokens(t *testing.T) {
	s := mockserver.New(t)
	site, err := s.AddSite(context.Background(), mockserver.Site{Kind: mockserver.EnterpriseScore, Hostname: "shop.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	status, a := csMint(t, s, url.Values{"sitekey": {site.SiteKey}, "kind": {"v3"}, "action": {"checkout"},
		"hostname": {"shop.example.test"}, "widget": {"100000"}, "enterprise": {"1"}})
	if status != 200 || a.Token == "" {
		t.Fatalf("mint: %d %+v", status, a)
	}
	if m := mints(t, s)[0]; m.Kind != mockserver.EnterpriseScore || m.Provider != "recaptcha-enterprise" || m.Action != "checkout" {
		t.Errorf("mint log entry: %+v", m)
	}
	body := `{"event":{"token":"` + a.Token + `","siteKey":"` + site.SiteKey + `","expectedAction":"checkout"}}`
	resp, err := http.Post(s.URL()+mockserver.Enterprise.VerifyPath()+"?key="+site.Secret, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		TokenProperties struct {
			Valid  bool
			Action string
		} `json:"tokenProperties"`
	}
	json.NewDecoder(resp.Body).Decode(&got)
	if !got.TokenProperties.Valid || got.TokenProperties.Action != "checkout" {
		t.Errorf("assessment of a minted Enterprise token: %+v", got)
	}
	// api.js (no enterprise flag) does not know an Enterprise key.
	if status, a := csMint(t, s, url.Values{"sitekey": {site.SiteKey}, "kind": {"v3"}}); status != 400 || !strings.Contains(a.Error, "reCAPTCHA Enterprise") {
		t.Errorf("api.js with an Enterprise key: %d %+v", status, a)
	}
	// The script renders an Enterprise key as its reCAPTCHA twin.
	resp, err = http.Get(s.URL() + mockserver.EnterpriseScriptPath)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(js), `"`+site.SiteKey+`":"v3"`) {
		t.Errorf("enterprise.js does not render the Enterprise key as a v3 one")
	}
}
