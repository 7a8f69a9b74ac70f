package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
	g "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/siteverify/siteverify/mockserver"
)

// The hCaptcha and Turnstile stand-ins in a real browser: pages load the
// providers' real script URLs, which the tab answers from the mock, and a
// small backend verifies the posted token on the mock at the provider's
// siteverify path, as a real backend does.

// captchaBackend is a login backend for one provider's site: POST /login
// (a form post, the token in the provider's field) answers an HTML result,
// POST /api/login (JSON, the token in hCaptchaResponse or
// cfTurnstileResponse, as the npm wrapper pages send it) a JSON one. It
// verifies on the mock and keeps every siteverify answer.
type captchaBackend struct {
	mock   *mockserver.Server
	p      *mockserver.Provider
	secret string

	mu      sync.Mutex
	answers []map[string]any
}

// verifyAt posts token to the mock's siteverify path of a provider.
func verifyAt(m *mockserver.Server, p *mockserver.Provider, secret, token string) (map[string]any, error) {
	resp, err := http.PostForm(m.URL()+p.VerifyPath(), url.Values{"secret": {secret}, "response": {token}})
	if err != nil {
		return nil, fmt.Errorf("siteverify: %w", err)
	}
	defer resp.Body.Close()
	var a map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return nil, fmt.Errorf("siteverify answer: %w", err)
	}
	return a, nil
}

func (b *captchaBackend) verify(token string) map[string]any {
	a, err := verifyAt(b.mock, b.p, b.secret, token)
	if err != nil {
		a = map[string]any{"success": false, "error-codes": []any{err.Error()}}
	}
	b.mu.Lock()
	b.answers = append(b.answers, a)
	b.mu.Unlock()
	return a
}

func (b *captchaBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/login":
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		a := b.verify(r.PostForm.Get(b.p.TokenField()))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if a["success"] == true {
			fmt.Fprint(w, `<!doctype html><p id="result" class="success">Welcome, ada</p>`)
			return
		}
		fmt.Fprintf(w, `<!doctype html><p id="result" class="rejected">Verification failed (%s)</p>`, html.EscapeString(fmt.Sprint(a["error-codes"])))
	case "/api/login":
		var in map[string]any
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		tok, _ := in["hCaptchaResponse"].(string)
		if tok == "" {
			tok, _ = in["cfTurnstileResponse"].(string)
		}
		a := b.verify(tok)
		w.Header().Set("Content-Type", "application/json")
		if a["success"] == true {
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "user": in["username"]})
			return
		}
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": fmt.Sprint(a["error-codes"])})
	default:
		http.NotFound(w, r)
	}
}

// lastAnswer is the backend's latest siteverify answer.
func (b *captchaBackend) lastAnswer() map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.answers) == 0 {
		return nil
	}
	return b.answers[len(b.answers)-1]
}

// openProviderPage opens a tab on a site that serves html at /page, the
// bundled wrapper pages (if bundles is set) at /app/NAME, and backend for
// the rest, at path (/page if empty); the providers' URLs are answered by m.
func openProviderPage(m *mockserver.Server, backend http.Handler, page, bundles string, shell map[string]string, path string) *scriptTab {
	g.GinkgoHelper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	})
	if bundles != "" {
		mux.HandleFunc("GET /app/{name}", func(w http.ResponseWriter, r *http.Request) {
			name := r.PathValue("name")
			if strings.HasSuffix(name, ".js") {
				w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
				http.ServeFile(w, r, filepath.Join(bundles, filepath.Base(name)))
				return
			}
			cfg, _ := json.Marshal(shell)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>%s</title></head><body><div id="app"></div>
<script>window.SITEVERIFY = %s;</script>
<script src="/app/%s.js"></script></body></html>`, html.EscapeString(name), cfg, html.EscapeString(name))
		})
	}
	if backend != nil {
		mux.Handle("/", backend)
	}
	srv := httptest.NewServer(mux)
	g.DeferCleanup(srv.Close)
	t, closeTab, err := shared.openTab(context.Background(), m.URL())
	Expect(err).NotTo(HaveOccurred())
	g.DeferCleanup(closeTab)
	if path == "" {
		path = "/page"
	}
	st := &scriptTab{t: t, mock: m, url: srv.URL + path}
	ctx, cancel := context.WithTimeout(t.ctx, scriptWait*2)
	defer cancel()
	Expect(chromedp.Do(ctx, chromedp.Navigate(st.url))).To(Succeed())
	st.waitTrue(`window.__siteverify && window.__siteverify.idle()`)
	return st
}

// expireAfter advances the mock's clock by d and tells the page's widgets,
// returning what the hook reports: widgets expired and expired-callbacks run.
func (s *scriptTab) expireAfter(d time.Duration) map[string]int {
	g.GinkgoHelper()
	now, err := s.mock.Advance(context.Background(), d)
	Expect(err).NotTo(HaveOccurred())
	var res map[string]int
	s.eval(fmt.Sprintf(`__siteverify.expire(%d)`, now.UnixMilli()), &res)
	return res
}

// verifiedOnce asserts the mock saw token at p's siteverify path exactly
// once, as a success, and returns that answer.
func verifiedOnce(m *mockserver.Server, p *mockserver.Provider, token string) map[string]any {
	g.GinkgoHelper()
	j, err := m.Journal(context.Background())
	Expect(err).NotTo(HaveOccurred())
	var seen []mockserver.Request
	for _, e := range j.Entries {
		if e.Token == token {
			seen = append(seen, e)
		}
	}
	Expect(seen).To(HaveLen(1), "siteverify calls with the page's token\n%s", j.Dump())
	Expect(seen[0].Path).To(Equal(p.VerifyPath()))
	Expect(seen[0].Outcome).To(Equal("success"))
	var a map[string]any
	Expect(json.Unmarshal([]byte(seen[0].Response), &a)).To(Succeed(), seen[0].Response)
	return a
}

// replayForm posts the login form again with token, as an attacker replays
// a captured request, and returns the backend's page.
func replayForm(s *scriptTab, field, token string) string {
	g.GinkgoHelper()
	u, _ := url.Parse(s.url)
	u.Path = "/login"
	resp, err := http.PostForm(u.String(), url.Values{"username": {"ada"}, field: {token}})
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// replayJSON posts the wrapper pages' JSON login again with token.
func replayJSON(s *scriptTab, field, token string) map[string]any {
	g.GinkgoHelper()
	u, _ := url.Parse(s.url)
	u.Path = "/api/login"
	body, _ := json.Marshal(map[string]string{"username": "ada", "password": "correct-horse-battery-staple", field: token})
	resp, err := http.Post(u.String(), "application/json", strings.NewReader(string(body)))
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	var a map[string]any
	Expect(json.NewDecoder(resp.Body).Decode(&a)).To(Succeed())
	return a
}

func codesOf(a map[string]any) []string {
	var out []string
	if l, ok := a["error-codes"].([]any); ok {
		for _, x := range l {
			out = append(out, fmt.Sprint(x))
		}
	}
	return out
}

var _ = g.Describe("the hCaptcha and Turnstile stand-ins in a real browser", g.Label("browser", "client-script", "providers"), func() {
	var m *mockserver.Server
	g.BeforeEach(func() { m = mockserver.New(g.GinkgoT()) })

	addSite := func(kind mockserver.KeyKind) (mockserver.Site, *captchaBackend) {
		g.GinkgoHelper()
		site, err := m.AddSite(context.Background(), mockserver.NewSite(kind))
		Expect(err).NotTo(HaveOccurred())
		return site, &captchaBackend{mock: m, p: kind.Provider(), secret: site.Secret}
	}

	g.It("hCaptcha: renders .h-captcha implicitly, posts the token in h-captcha-response, verifies once, refuses a replay, expires", func() {
		site, be := addSite(mockserver.HCaptchaPublisher)
		s := openProviderPage(m, be, `<!doctype html>
<form id="f" method="post" action="/login"><input name="username" value="ada">
<div class="h-captcha" data-sitekey="`+site.SiteKey+`" data-callback="onPass" data-expired-callback="onExp" data-error-callback="onErr"></div>
<button id="submit">Log in</button></form>
<script>
  function onPass(t) { window.passed = t; }
  function onExp() { window.expired = (window.expired || 0) + 1; }
  function onErr(e) { window.err = e; }
</script>
<script src="https://js.hcaptcha.com/1/api.js" async defer></script>`, "", nil, "")
		Expect(s.str(`String(document.querySelectorAll(".h-captcha textarea").length)`)).To(Equal("2"))
		s.click(".h-captcha .hcaptcha-checkbox")
		s.waitTrue(`window.passed`)
		tok := s.str(`passed`)
		Expect(tok).To(HavePrefix("P1_"))
		Expect(s.str(`document.querySelector("textarea[name=h-captcha-response]").value`)).To(Equal(tok))
		Expect(s.str(`document.querySelector("textarea[name=g-recaptcha-response]").value`)).To(Equal(tok), "the reCAPTCHA-compatible twin")
		Expect(s.str(`document.querySelector("textarea[name=h-captcha-response]").id`)).To(MatchRegexp(`^h-captcha-response-[0-9a-z]{12}$`))
		Expect(s.str(`hcaptcha.getResponse()`)).To(Equal(tok))
		Expect(s.str(`hcaptcha.getRespKey()`)).To(HavePrefix("E0_"))
		Expect(s.str(`document.querySelector("[data-hcaptcha-widget-id]").getAttribute("data-hcaptcha-response")`)).To(Equal(tok))

		// Expiry follows the mock's clock: nothing before 120 s, then
		// expired-callback, an unchecked box and empty fields.
		Expect(s.expireAfter(100 * time.Second)).To(Equal(map[string]int{"expired": 0, "callbacks": 0}))
		Expect(s.expireAfter(21 * time.Second)).To(Equal(map[string]int{"expired": 1, "callbacks": 1}))
		Expect(s.str(`String(window.expired) + "|" + hcaptcha.getResponse() + "|" + document.querySelector("textarea[name=h-captcha-response]").value`)).To(Equal("1||"))
		a, err := verifyAt(m, mockserver.HCaptcha, site.Secret, tok)
		Expect(err).NotTo(HaveOccurred())
		Expect(codesOf(a)).To(Equal([]string{"expired-input-response"}), "the page and the mock agree that it expired")

		// Solve again and post the form.
		s.click(".h-captcha .hcaptcha-checkbox")
		s.waitTrue(`hcaptcha.getResponse() !== ""`)
		tok = s.str(`hcaptcha.getResponse()`)
		s.click("#submit")
		s.waitTrue(`document.querySelector("#result.success")`)
		a = verifiedOnce(m, mockserver.HCaptcha, tok)
		Expect(a).To(HaveKeyWithValue("hostname", "127.0.0.1"))
		Expect(a).To(HaveKeyWithValue("credit", false))
		Expect(replayForm(s, "h-captcha-response", tok)).To(ContainSubstring("already-seen-response"))
		Expect(s.t.forwardedRequests()).To(ContainElement(HavePrefix("GET https://js.hcaptcha.com/1/api.js")))
		ms := mustMints(m)
		Expect(ms).To(HaveLen(2))
		Expect(ms[1].Provider).To(Equal("hcaptcha"))
		Expect(ms[1].Requested).To(Equal("checkbox"))
		Expect(ms[1].Page).To(Equal("/page"))
	})

	g.It("hCaptcha: explicit render, execute({async: true}), recaptchacompat=off, remove", func() {
		site, be := addSite(mockserver.HCaptchaEnterprise)
		s := openProviderPage(m, be, `<!doctype html><form id="f"><div class="h-captcha" data-sitekey="`+site.SiteKey+`"></div><div id="c"></div></form>
<script>
  function onLoad() {
    window.wid = hcaptcha.render("c", {sitekey: "`+site.SiteKey+`", size: "invisible", theme: "dark", unknownOption: {a: 1},
      callback: function (t) { window.cb = t; }, "expired-callback": function () { window.expired = true; }});
    hcaptcha.execute(wid, {async: true}).then(function (r) { window.res = r; }, function (e) { window.rej = e; });
  }
</script>
<script src="https://js.hcaptcha.com/1/api.js?render=explicit&onload=onLoad&recaptchacompat=off&hl=de"></script>`, "", nil, "")
		s.waitTrue(`window.res`)
		Expect(s.str(`String(document.querySelectorAll(".h-captcha *").length)`)).To(Equal("0"), "render=explicit renders nothing by itself")
		Expect(s.str(`typeof wid + " " + wid.length`)).To(Equal("string 12"))
		var res struct{ Response, Key string }
		s.eval(`res`, &res)
		Expect(res.Response).To(HavePrefix("P1_"))
		Expect(s.str(`cb`)).To(Equal(res.Response))
		Expect(s.str(`hcaptcha.getResponse(wid) + " " + hcaptcha.getRespKey(wid)`)).To(Equal(res.Response + " " + res.Key))
		Expect(s.str(`String(document.querySelectorAll("textarea[name=g-recaptcha-response]").length)`)).To(Equal("0"), "recaptchacompat=off")
		Expect(s.str(`document.querySelector("#c textarea[name=h-captcha-response]").value`)).To(Equal(res.Response))

		s.eval(`fetch("/api/login", {method: "POST", headers: {"Content-Type": "application/json"},
  body: JSON.stringify({username: "ada", hCaptchaResponse: hcaptcha.getResponse(wid)})}).then(function (r) { return r.json(); }).then(function (a) { window.ans = a; }), 0`, new(int))
		s.waitTrue(`window.ans`)
		Expect(s.str(`JSON.stringify(ans)`)).To(Equal(`{"ok":true,"user":"ada"}`))
		a := verifiedOnce(m, mockserver.HCaptcha, res.Response)
		Expect(a).To(HaveKeyWithValue("hostname", "127.0.0.1"))
		Expect(a).To(HaveKeyWithValue("score", 0.0), "an Enterprise page token is a safe user")
		Expect(replayJSON(s, "hCaptchaResponse", res.Response)).To(HaveKeyWithValue("ok", false))
		Expect(codesOf(be.lastAnswer())).To(Equal([]string{"already-seen-response"}))

		Expect(s.expireAfter(mockserver.HCaptcha.TokenLifetime() + time.Second)).To(Equal(map[string]int{"expired": 1, "callbacks": 1}))
		Expect(s.str(`String(window.expired)`)).To(Equal("true"))
		s.eval(`hcaptcha.remove(wid), 0`, new(int))
		Expect(s.str(`String(document.querySelectorAll("#c textarea").length)`)).To(Equal("0"))
		Expect(s.str(`(function () { try { hcaptcha.getResponse(wid); return "no error"; } catch (e) { return e.message; } })()`)).To(ContainSubstring("invalid hCaptcha id"))
		s.eval(`hcaptcha.execute("nope", {async: true}).catch(function (e) { window.badID = e; }), 0`, new(int))
		s.waitTrue(`window.badID`)
		Expect(s.str(`badID`)).To(Equal("invalid-captcha-id"))

		// hCaptcha's loader reports to its Sentry: answered in the browser,
		// never sent to the network, not recorded as the page's submission.
		s.eval(`fetch("https://sentry.hcaptcha.com/api/6/envelope/?sentry_key=x", {method: "POST", body: "{}"}).then(function (r) { window.sentry = r.status; }), 0`, new(int))
		s.waitTrue(`window.sentry`)
		Expect(s.str(`String(sentry)`)).To(Equal("200"))
		Expect(s.t.forwardedRequests()).To(ContainElement(HavePrefix("POST https://sentry.hcaptcha.com/api/6/envelope/?sentry_key=x -> 200 (answered in the browser)")))
		for _, sub := range s.t.posts() {
			Expect(sub.URL).NotTo(ContainSubstring("sentry"))
		}
	})

	g.It("hCaptcha: the official test sitekeys emit the documented test tokens, which verify as hCaptcha documents", func() {
		s := openProviderPage(m, nil, `<!doctype html>
<div id="a" class="h-captcha" data-sitekey="`+mockserver.HCaptchaTestSiteKey+`"></div>
<div id="b" class="h-captcha" data-sitekey="`+mockserver.HCaptchaEnterpriseSafeSiteKey+`"></div>
<div id="c" class="h-captcha" data-sitekey="`+mockserver.HCaptchaEnterpriseBotSiteKey+`"></div>
<div id="u" class="h-captcha" data-sitekey="00000000-0000-0000-0000-000000000000" data-error-callback="onErr"></div>
<script>function onErr(e) { window.err = e; }</script>
<script src="https://js.hcaptcha.com/1/api.js" async defer></script>`, "", nil, "")
		for _, tc := range []struct {
			sel, token string
			score      any
		}{
			{"#a", mockserver.HCaptchaTestToken, nil},
			{"#b", mockserver.HCaptchaEnterpriseSafeToken, 0.0},
			{"#c", mockserver.HCaptchaEnterpriseBotToken, 1.0},
		} {
			s.click(tc.sel + " .hcaptcha-checkbox")
			s.waitTrue(`document.querySelector("` + tc.sel + ` textarea[name=h-captcha-response]").value`)
			Expect(s.str(`document.querySelector("` + tc.sel + ` textarea[name=h-captcha-response]").value`)).To(Equal(tc.token))
			for range 2 {
				a, err := verifyAt(m, mockserver.HCaptcha, mockserver.HCaptchaTestSecret, tc.token)
				Expect(err).NotTo(HaveOccurred())
				Expect(a).To(HaveKeyWithValue("success", true))
				Expect(a).To(HaveKeyWithValue("hostname", mockserver.HCaptchaTestHostname))
				if tc.score == nil {
					Expect(a).NotTo(HaveKey("score"))
				} else {
					Expect(a).To(HaveKeyWithValue("score", tc.score))
				}
			}
		}
		a, err := verifyAt(m, mockserver.HCaptcha, m.Site().Secret, mockserver.HCaptchaTestToken)
		Expect(err).NotTo(HaveOccurred())
		Expect(codesOf(a)).To(Equal([]string{"not-using-dummy-secret"}))
		s.click("#u .hcaptcha-checkbox")
		s.waitTrue(`window.err`)
		Expect(s.str(`err`)).To(Equal("invalid-data"))
	})

	g.It("Turnstile: renders .cf-turnstile implicitly with data-action and data-cdata, posts cf-turnstile-response, verifies once, refuses a replay, expires and refreshes", func() {
		site, be := addSite(mockserver.TurnstileStandard)
		s := openProviderPage(m, be, `<!doctype html>
<form id="f" method="post" action="/login"><input name="username" value="ada">
<div class="cf-turnstile" data-sitekey="`+site.SiteKey+`" data-action="login" data-cdata="sess-42" data-theme="light"
  data-callback="onPass" data-expired-callback="onExp" data-error-callback="onErr"></div>
<button id="submit">Log in</button></form>
<script>
  window.passes = [];
  function onPass(t) { window.passes.push(t); }
  function onExp(t) { window.expiredToken = t; }
  function onErr(e) { window.err = e; }
</script>
<script src="https://challenges.cloudflare.com/turnstile/v0/api.js" async defer></script>`, "", nil, "")
		s.waitTrue(`passes.length === 1`)
		tok := s.str(`passes[0]`)
		Expect(tok).To(HavePrefix("0."))
		Expect(s.str(`document.querySelector("input[name=cf-turnstile-response]").value`)).To(Equal(tok))
		Expect(s.str(`document.querySelector("input[name=cf-turnstile-response]").id`)).To(MatchRegexp(`^cf-chl-widget-[0-9a-z]{5}_response$`))
		Expect(s.str(`turnstile.getResponse()`)).To(Equal(tok))

		// Expiry at 300 s: expired-callback gets the old token, and with
		// refresh-expired "auto" (the default) a new one arrives.
		Expect(s.expireAfter(299 * time.Second)).To(Equal(map[string]int{"expired": 0, "callbacks": 0}))
		Expect(s.expireAfter(2 * time.Second)).To(Equal(map[string]int{"expired": 1, "callbacks": 1}))
		Expect(s.str(`expiredToken`)).To(Equal(tok))
		s.waitTrue(`passes.length === 2 && !turnstile.isExpired()`)
		a, err := verifyAt(m, mockserver.Turnstile, site.Secret, tok)
		Expect(err).NotTo(HaveOccurred())
		Expect(codesOf(a)).To(Equal([]string{"timeout-or-duplicate"}), "the expired token")
		tok = s.str(`passes[1]`)
		Expect(s.str(`document.querySelector("input[name=cf-turnstile-response]").value`)).To(Equal(tok))

		s.click("#submit")
		s.waitTrue(`document.querySelector("#result.success")`)
		a = verifiedOnce(m, mockserver.Turnstile, tok)
		Expect(a).To(HaveKeyWithValue("hostname", "127.0.0.1"))
		Expect(a).To(HaveKeyWithValue("action", "login"))
		Expect(a).To(HaveKeyWithValue("cdata", "sess-42"))
		Expect(replayForm(s, "cf-turnstile-response", tok)).To(ContainSubstring("timeout-or-duplicate"))
		ms := mustMints(m)
		Expect(ms).To(HaveLen(2))
		Expect(ms[1].Provider).To(Equal("turnstile"))
		Expect(ms[1].Action).To(Equal("login"))
		Expect(ms[1].CData).To(Equal("sess-42"))
	})

	g.It("Turnstile: explicit render in execute mode and appearance, unknown options, manual refresh, reset, ready", func() {
		site, be := addSite(mockserver.TurnstileStandard)
		s := openProviderPage(m, be, `<!doctype html><form id="f"><div class="cf-turnstile" data-sitekey="`+site.SiteKey+`"></div><div id="c"></div></form>
<script>
  window.passes = [];
  function onLoad() {
    turnstile.ready(function () { window.readyRan = true; });
    window.wid = turnstile.render("#c", {sitekey: "`+site.SiteKey+`", action: "signup", cData: "c-1", execution: "execute",
      appearance: "execute", "refresh-expired": "manual", "offlabel-show-privacy": true, somethingNew: {a: 1},
      "response-field-name": "captcha", callback: function (t) { window.passes.push(t); },
      "expired-callback": function (t) { window.expiredToken = t; }});
  }
</script>
<script src="https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit&onload=onLoad"></script>`, "", nil, "")
		s.waitTrue(`window.wid && window.readyRan`)
		Expect(s.str(`String(document.querySelectorAll(".cf-turnstile *").length)`)).To(Equal("0"), "render=explicit renders nothing by itself")
		Expect(s.str(`wid`)).To(MatchRegexp(`^cf-chl-widget-[0-9a-z]{5}$`))
		Expect(s.str(`String(turnstile.getResponse(wid)) + " " + getComputedStyle(document.getElementById(wid)).display`)).To(Equal("undefined none"),
			"execution=execute waits, appearance=execute hides the widget until then")
		Expect(mustMints(m)).To(BeEmpty())

		s.eval(`turnstile.execute("#c"), 0`, new(int))
		s.waitTrue(`passes.length === 1`)
		tok := s.str(`passes[0]`)
		Expect(s.str(`turnstile.getResponse(wid) + " " + document.querySelector("#c input[name=captcha]").value`)).To(Equal(tok + " " + tok))
		Expect(s.str(`getComputedStyle(document.getElementById(wid)).display`)).To(Equal("block"))

		s.eval(`fetch("/api/login", {method: "POST", headers: {"Content-Type": "application/json"},
  body: JSON.stringify({username: "ada", cfTurnstileResponse: turnstile.getResponse(wid)})}).then(function (r) { return r.json(); }).then(function (a) { window.ans = a; }), 0`, new(int))
		s.waitTrue(`window.ans`)
		Expect(s.str(`JSON.stringify(ans)`)).To(Equal(`{"ok":true,"user":"ada"}`))
		a := verifiedOnce(m, mockserver.Turnstile, tok)
		Expect(a).To(HaveKeyWithValue("action", "signup"))
		Expect(a).To(HaveKeyWithValue("cdata", "c-1"))
		Expect(a).To(HaveKeyWithValue("hostname", "127.0.0.1"))
		Expect(replayJSON(s, "cfTurnstileResponse", tok)).To(HaveKeyWithValue("ok", false))
		Expect(codesOf(be.lastAnswer())).To(Equal([]string{"timeout-or-duplicate"}))

		// refresh-expired "manual": expired stays expired until the page acts.
		Expect(s.expireAfter(mockserver.Turnstile.TokenLifetime() + time.Second)).To(Equal(map[string]int{"expired": 1, "callbacks": 1}))
		Expect(s.str(`expiredToken + " " + turnstile.isExpired(wid) + " " + turnstile.getResponse(wid)`)).To(Equal(tok + " true undefined"))
		Expect(mustMints(m)).To(HaveLen(1), "no automatic refresh")
		s.eval(`turnstile.reset(wid), 0`, new(int))
		Expect(s.str(`String(turnstile.isExpired(wid))`)).To(Equal("false"))
		s.eval(`turnstile.execute(wid), 0`, new(int))
		s.waitTrue(`passes.length === 2`)
		Expect(s.str(`passes[1]`)).NotTo(Equal(tok))

		Expect(s.str(`(function () { try { turnstile.render(document.createElement("div"), {sitekey: "k", action: "log in"}); return "no error"; } catch (e) { return e.message; } })()`)).
			To(ContainSubstring(`Invalid input for optional parameter "action"`))
		s.eval(`turnstile.remove(wid), 0`, new(int))
		Expect(s.str(`String(document.querySelectorAll("#c input").length)`)).To(Equal("0"))
	})

	g.It("Turnstile: the dummy sitekeys emit XXXX.DUMMY.TOKEN.XXXX, 2x...AB fails, 3x...FF asks for a click", func() {
		s := openProviderPage(m, nil, `<!doctype html>
<div id="pass" class="cf-turnstile" data-sitekey="`+mockserver.TurnstileTestSiteKeyPass+`"></div>
<div id="inv" class="cf-turnstile" data-sitekey="`+mockserver.TurnstileTestSiteKeyInvisible+`"></div>
<div id="fail" class="cf-turnstile" data-sitekey="`+mockserver.TurnstileTestSiteKeyFail+`" data-error-callback="onErr"></div>
<div id="ia" class="cf-turnstile" data-sitekey="`+mockserver.TurnstileTestSiteKeyChallenge+`" data-appearance="interaction-only"
  data-before-interactive-callback="onBefore" data-after-interactive-callback="onAfter"></div>
<script>
  function onErr(code) { window.err = code; }
  function onBefore() { window.before = true; }
  function onAfter() { window.after = true; }
</script>
<script src="https://challenges.cloudflare.com/turnstile/v0/api.js" async defer></script>`, "", nil, "")
		s.waitTrue(`window.err && window.before`)
		Expect(s.str(`err`)).To(Equal("600010"))
		Expect(s.str(`String(turnstile.getResponse("#fail"))`)).To(Equal("undefined"))
		for _, sel := range []string{"#pass", "#inv"} {
			Expect(s.str(`document.querySelector("` + sel + ` input[name=cf-turnstile-response]").value`)).To(Equal(mockserver.TurnstileDummyToken))
		}
		Expect(s.str(`String(turnstile.getResponse("#ia"))`)).To(Equal("undefined"), "the interactive test key waits for a click")
		s.click("#ia .cf-turnstile-checkbox")
		s.waitTrue(`window.after && turnstile.getResponse("#ia")`)
		Expect(s.str(`turnstile.getResponse("#ia")`)).To(Equal(mockserver.TurnstileDummyToken))
		for range 2 {
			a, err := verifyAt(m, mockserver.Turnstile, mockserver.TurnstileTestSecretPass, mockserver.TurnstileDummyToken)
			Expect(err).NotTo(HaveOccurred())
			Expect(a).To(HaveKeyWithValue("success", true))
			Expect(a).To(HaveKeyWithValue("hostname", mockserver.TurnstileTestHostname))
		}
		for secret, code := range map[string]string{mockserver.TurnstileTestSecretFail: "invalid-input-response", mockserver.TurnstileTestSecretSpent: "timeout-or-duplicate"} {
			a, err := verifyAt(m, mockserver.Turnstile, secret, mockserver.TurnstileDummyToken)
			Expect(err).NotTo(HaveOccurred())
			Expect(codesOf(a)).To(Equal([]string{code}))
		}
	})

	g.It("answers a page on two providers' scripts with one test hook", func() {
		hc, _ := addSite(mockserver.HCaptchaPublisher)
		ts, _ := addSite(mockserver.TurnstileStandard)
		s := openProviderPage(m, nil, `<!doctype html>
<div id="h" class="h-captcha" data-sitekey="`+hc.SiteKey+`" data-expired-callback="onH"></div>
<div id="t" class="cf-turnstile" data-sitekey="`+ts.SiteKey+`" data-expired-callback="onT" data-refresh-expired="never"></div>
<script>function onH() { window.h = true; } function onT() { window.t = true; }</script>
<script src="https://js.hcaptcha.com/1/api.js"></script>
<script src="https://challenges.cloudflare.com/turnstile/v0/api.js"></script>`, "", nil, "")
		s.click("#h .hcaptcha-checkbox")
		s.waitTrue(`hcaptcha.getResponse() && turnstile.getResponse()`)
		Expect(s.expireAfter(mockserver.Turnstile.TokenLifetime() + time.Second)).To(Equal(map[string]int{"expired": 2, "callbacks": 2}))
		Expect(s.str(`String(window.h && window.t)`)).To(Equal("true"))
	})
})

// requireNPMDir returns the pinned npm project dir with its packages
// installed, or fails the spec: make tools runs npm ci there.
func requireNPMDir(name string) string {
	g.GinkgoHelper()
	dir, err := filepath.Abs(filepath.Join("..", "fixtures", "npm", name))
	Expect(err).NotTo(HaveOccurred())
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err != nil {
		g.Fail("the pinned npm packages of " + dir + " are not installed: run npm ci there (make tools)")
	}
	return dir
}

var _ = g.Describe("pages built with npm hCaptcha and Turnstile wrappers", g.Label("browser", "wrappers", "providers"), g.Ordered, func() {
	var hcBundles, tsBundles string
	g.BeforeAll(func() {
		hcBundles, tsBundles = g.GinkgoT().TempDir(), g.GinkgoT().TempDir()
		Expect(bundleWrapperPages(requireNPMDir("frontend-hcaptcha"), hcBundles)).To(Succeed())
		Expect(bundleWrapperPages(requireNPMDir("frontend-turnstile"), tsBundles)).To(Succeed())
	})

	var m *mockserver.Server
	g.BeforeEach(func() { m = mockserver.New(g.GinkgoT()) })

	// openWrapper opens /app/NAME for a new site of kind.
	openWrapper := func(kind mockserver.KeyKind, bundles, name string) (*scriptTab, mockserver.Site, *captchaBackend) {
		g.GinkgoHelper()
		site, err := m.AddSite(context.Background(), mockserver.NewSite(kind))
		Expect(err).NotTo(HaveOccurred())
		be := &captchaBackend{mock: m, p: kind.Provider(), secret: site.Secret}
		s := openProviderPage(m, be, "", bundles, map[string]string{"siteKey": site.SiteKey, "action": "login", "cData": "sess-42"}, "/app/"+name)
		s.waitTrue(`document.querySelector("#login-form")`)
		return s, site, be
	}

	// login submits the form and waits for the backend's answer and the
	// page's result of class want.
	login := func(s *scriptTab, be *captchaBackend, want string) {
		g.GinkgoHelper()
		be.mu.Lock()
		n := len(be.answers)
		be.mu.Unlock()
		s.eval(`document.querySelector("#username").value = "ada", document.querySelector("#password").value = "correct-horse-battery-staple", 0`, new(int))
		s.click("#submit")
		Eventually(func() int {
			be.mu.Lock()
			defer be.mu.Unlock()
			return len(be.answers)
		}).WithTimeout(scriptWait).Should(BeNumerically(">", n), "the page posted")
		s.waitTrue(`document.querySelector("#result.` + want + `")`)
	}

	// expiredCallbacks counts the expired-callbacks the stand-in ran.
	expiredCallbacks := func(s *scriptTab) int {
		g.GinkgoHelper()
		var evs []struct{ Type string }
		s.eval(`__siteverify.events()`, &evs)
		n := 0
		for _, e := range evs {
			if e.Type == "expired-callback" {
				n++
			}
		}
		return n
	}

	g.It("@hcaptcha/react-hcaptcha 2.2.0, the checkbox: the token posts and verifies once, a replay fails, expiry runs the wrapper's expired-callback; the page then posts the expired token", func() {
		s, _, be := openWrapper(mockserver.HCaptchaPublisher, hcBundles, "react-hcaptcha")
		Expect(s.t.forwardedRequests()).To(ContainElement(MatchRegexp(`^GET https://js\.hcaptcha\.com/1/api\.js\?onload=hCaptchaOnLoad&render=explicit&uj=false -> 200$`)))
		s.click(".hcaptcha-checkbox")
		s.waitTrue(`hcaptcha.getResponse() !== ""`)
		tok := s.str(`hcaptcha.getResponse()`)
		Expect(s.str(`document.querySelector("#login-form textarea[name=h-captcha-response]").value`)).To(Equal(tok))
		login(s, be, "success")
		Expect(s.str(`document.querySelector("#result").textContent`)).To(Equal("Welcome, ada"))
		Expect(verifiedOnce(m, mockserver.HCaptcha, tok)).To(HaveKeyWithValue("hostname", "127.0.0.1"))
		Expect(replayJSON(s, "hCaptchaResponse", tok)).To(HaveKeyWithValue("ok", false))
		Expect(codesOf(be.lastAnswer())).To(Equal([]string{"already-seen-response"}))

		// A second token, then expiry: the wrapper's own expired-callback
		// resets the widget, but the page (no onExpire) keeps the old token
		// in its state and posts it: the backend rightly refuses it.
		s.eval(`hcaptcha.reset(), 0`, new(int))
		s.click(".hcaptcha-checkbox")
		s.waitTrue(`hcaptcha.getResponse() !== "" && hcaptcha.getResponse() !== ` + js(tok))
		Expect(mustMints(m)).To(HaveLen(2))
		Expect(s.expireAfter(mockserver.HCaptcha.TokenLifetime() + time.Second)).To(Equal(map[string]int{"expired": 1, "callbacks": 1}))
		Expect(expiredCallbacks(s)).To(Equal(1))
		Expect(s.str(`hcaptcha.getResponse()`)).To(Equal(""))
		login(s, be, "rejected")
		Expect(codesOf(be.lastAnswer())).To(Equal([]string{"expired-input-response"}))
	})

	g.It("@hcaptcha/react-hcaptcha 2.2.0, programmatic execute() in onLoad: the token arrives without a click, posts and verifies once, a replay fails, expiry runs the expired-callback", func() {
		s, _, be := openWrapper(mockserver.HCaptchaPublisher, hcBundles, "react-hcaptcha-programmatic")
		s.waitTrue(`hcaptcha.getResponse() !== ""`)
		tok := s.str(`hcaptcha.getResponse()`)
		Expect(s.str(`document.querySelector("textarea[name=h-captcha-response]").value`)).To(Equal(tok))
		login(s, be, "success")
		Expect(verifiedOnce(m, mockserver.HCaptcha, tok)).To(HaveKeyWithValue("hostname", "127.0.0.1"))
		Expect(replayJSON(s, "hCaptchaResponse", tok)).To(HaveKeyWithValue("ok", false))
		Expect(codesOf(be.lastAnswer())).To(Equal([]string{"already-seen-response"}))
		Expect(s.expireAfter(mockserver.HCaptcha.TokenLifetime() + time.Second)).To(Equal(map[string]int{"expired": 1, "callbacks": 1}))
		Expect(expiredCallbacks(s)).To(Equal(1))
		Expect(mustMints(m)).To(HaveLen(1))
		Expect(mustMints(m)[0].Requested).To(Equal("checkbox"))
	})

	g.It("@marsidev/react-turnstile 1.6.1, getResponse() at submit and reset() after: the token posts and verifies once, a replay fails, expiry runs the wrapper's expired-callback and refreshes", func() {
		s, _, be := openWrapper(mockserver.TurnstileStandard, tsBundles, "react-turnstile")
		Expect(s.t.forwardedRequests()).To(ContainElement(MatchRegexp(`^GET https://challenges\.cloudflare\.com/turnstile/v0/api\.js\?onload=onloadTurnstileCallback&render=explicit -> 200$`)))
		s.waitTrue(`turnstile.getResponse()`)
		tok := s.str(`turnstile.getResponse()`)
		Expect(s.str(`document.querySelector("#login-form input[name=cf-turnstile-response]").value`)).To(Equal(tok))
		login(s, be, "success")
		a := verifiedOnce(m, mockserver.Turnstile, tok)
		Expect(a).To(HaveKeyWithValue("hostname", "127.0.0.1"))
		Expect(a).To(HaveKeyWithValue("action", ""))
		Expect(a).To(HaveKeyWithValue("cdata", ""))
		Expect(replayJSON(s, "cfTurnstileResponse", tok)).To(HaveKeyWithValue("ok", false))
		Expect(codesOf(be.lastAnswer())).To(Equal([]string{"timeout-or-duplicate"}))

		// The page resets after the post: a fresh token; then expiry and the
		// automatic refresh.
		s.waitTrue(`turnstile.getResponse() && turnstile.getResponse() !== ` + js(tok))
		Expect(s.expireAfter(mockserver.Turnstile.TokenLifetime() + time.Second)).To(Equal(map[string]int{"expired": 1, "callbacks": 1}))
		Expect(expiredCallbacks(s)).To(Equal(1))
		s.waitTrue(`window.__siteverify.idle() && turnstile.getResponse()`)
		Expect(mustMints(m)).To(HaveLen(3))
		login(s, be, "success")
		Expect(be.lastAnswer()).To(HaveKeyWithValue("success", true), "the refreshed token posts")
	})

	g.It("@marsidev/react-turnstile 1.6.1, options={{action, cData}} and onSuccess: the token carries the action and cdata, verifies once, a replay fails, expiry refreshes through onSuccess", func() {
		s, _, be := openWrapper(mockserver.TurnstileStandard, tsBundles, "react-turnstile-action")
		s.waitTrue(`turnstile.getResponse()`)
		tok := s.str(`turnstile.getResponse()`)
		Expect(s.str(`document.querySelector("input[name=cf-turnstile-response]").value`)).To(Equal(tok))
		login(s, be, "success")
		a := verifiedOnce(m, mockserver.Turnstile, tok)
		Expect(a).To(HaveKeyWithValue("hostname", "127.0.0.1"))
		Expect(a).To(HaveKeyWithValue("action", "login"))
		Expect(a).To(HaveKeyWithValue("cdata", "sess-42"))
		Expect(replayJSON(s, "cfTurnstileResponse", tok)).To(HaveKeyWithValue("ok", false))
		Expect(codesOf(be.lastAnswer())).To(Equal([]string{"timeout-or-duplicate"}))

		Expect(s.expireAfter(mockserver.Turnstile.TokenLifetime() + time.Second)).To(Equal(map[string]int{"expired": 1, "callbacks": 1}))
		Expect(expiredCallbacks(s)).To(Equal(1))
		s.waitTrue(`window.__siteverify.idle() && turnstile.getResponse()`)
		fresh := s.str(`turnstile.getResponse()`)
		Expect(fresh).NotTo(Equal(tok))
		login(s, be, "success")
		Expect(be.lastAnswer()).To(HaveKeyWithValue("success", true), "onSuccess got the refreshed token")
		Expect(verifiedOnce(m, mockserver.Turnstile, fresh)).To(HaveKeyWithValue("cdata", "sess-42"))
	})
})
