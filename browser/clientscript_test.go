package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
	g "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/siteverify/siteverify/mockserver"
)

// scriptWait bounds each wait of the client-script specs. It is a safety
// bound, not a speed requirement: the waits poll and end as soon as the page
// is ready (milliseconds), and a machine loaded by other test runs can
// stretch a step by seconds.
const scriptWait = 20 * time.Second

// scriptTab is a tab on a one-page site, with Google's URLs answered by mock.
type scriptTab struct {
	t    *tab
	mock *mockserver.Server
	url  string
}

func openScriptPage(m *mockserver.Server, html string) *scriptTab {
	g.GinkgoHelper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, html)
	}))
	g.DeferCleanup(srv.Close)
	t, closeTab, err := shared.openTab(context.Background(), m.URL())
	Expect(err).NotTo(HaveOccurred())
	g.DeferCleanup(closeTab)
	st := &scriptTab{t: t, mock: m, url: srv.URL + "/page"}
	ctx, cancel := context.WithTimeout(t.ctx, scriptWait*2)
	defer cancel()
	Expect(chromedp.Do(ctx, chromedp.Navigate(st.url))).To(Succeed())
	st.waitTrue(`window.__siteverify && window.__siteverify.idle()`)
	return st
}

func (s *scriptTab) eval(expr string, out any) {
	g.GinkgoHelper()
	raw, err := evaluate[[]byte](s.t.ctx, scriptWait, expr)
	Expect(err).NotTo(HaveOccurred(), expr)
	Expect(json.Unmarshal(raw, out)).To(Succeed(), string(raw))
}

func (s *scriptTab) str(expr string) string {
	g.GinkgoHelper()
	var v string
	s.eval(expr, &v)
	return v
}

func (s *scriptTab) waitTrue(expr string) {
	g.GinkgoHelper()
	Eventually(func() bool {
		v, err := evaluate[bool](s.t.ctx, time.Second, fmt.Sprintf(`!!(%s)`, expr))
		return err == nil && v
	}).WithTimeout(scriptWait).WithPolling(20*time.Millisecond).Should(BeTrue(), expr+"\nconsole: %v", s.t.consoleLines())
}

func (s *scriptTab) click(sel string) {
	g.GinkgoHelper()
	ctx, cancel := context.WithTimeout(s.t.ctx, scriptWait)
	defer cancel()
	Expect(chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel)))).To(Succeed(), sel)
}

func verifyToken(m *mockserver.Server, secret, token string) map[string]any {
	g.GinkgoHelper()
	resp, err := http.PostForm(m.VerifyURL(), url.Values{"secret": {secret}, "response": {token}})
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	var a map[string]any
	Expect(json.NewDecoder(resp.Body).Decode(&a)).To(Succeed())
	return a
}

var _ = g.Describe("the mock's client script in a real browser", g.Label("browser", "client-script"), func() {
	var m *mockserver.Server
	var v2 mockserver.Site
	g.BeforeEach(func() {
		m = mockserver.New(g.GinkgoT())
		var err error
		v2, err = m.AddSite(context.Background(), mockserver.NewSite(mockserver.V2Checkbox))
		Expect(err).NotTo(HaveOccurred())
	})

	g.It("renders explicitly on onload, keeps a stub grecaptcha, drains ___grecaptcha_cfg.fns, and runs the widget lifecycle", func() {
		s := openScriptPage(m, `<!doctype html><form id="f"><div id="w0"></div><div id="w1"></div></form>
<script>
  window.grecaptcha = {stub: true};
  window.___grecaptcha_cfg = {fns: [function () { window.queued = (window.queued || 0) + 1; }]};
  window.ids = [];
  function onExp() { window.expired1 = (window.expired1 || 0) + 1; }
  function onloadCb() {
    ids.push(grecaptcha.render("w0", {sitekey: "`+v2.SiteKey+`"}));
    ids.push(grecaptcha.render(document.getElementById("w1"), {sitekey: "`+v2.SiteKey+`",
      callback: function (t) { window.got1 = t; }, "expired-callback": "onExp"}));
    window.onloadRan = true;
  }
</script>
<script src="https://www.google.com/recaptcha/api.js?onload=onloadCb&render=explicit" async defer></script>`)
		s.waitTrue(`window.onloadRan && window.queued === 1`)
		var ids []int
		s.eval(`ids`, &ids)
		Expect(ids).To(Equal([]int{0, 1}))
		Expect(s.str(`String(grecaptcha.stub)`)).To(Equal("true"), "the page's stub object is kept and filled in")
		Expect(s.str(`document.querySelector("#w0 textarea").id + " " + document.querySelector("#w1 textarea").id`)).
			To(Equal("g-recaptcha-response g-recaptcha-response-1"))
		Expect(s.str(`document.querySelectorAll("textarea[name=g-recaptcha-response]").length + " " + getComputedStyle(document.getElementById("g-recaptcha-response")).display`)).
			To(Equal("2 none"))

		s.click("#w1 .recaptcha-checkbox")
		s.waitTrue(`window.got1`)
		tok := s.str(`got1`)
		Expect(s.str(`grecaptcha.getResponse(1)`)).To(Equal(tok))
		Expect(s.str(`document.getElementById("g-recaptcha-response-1").value`)).To(Equal(tok))
		Expect(s.str(`grecaptcha.getResponse()`)).To(Equal(""), "no argument means the first widget, which is unsolved")
		Expect(s.str(`document.querySelector("#w1 .recaptcha-checkbox").getAttribute("aria-checked")`)).To(Equal("true"))
		Expect(verifyToken(m, v2.Secret, tok)).To(HaveKeyWithValue("hostname", "127.0.0.1"))

		// Expiry follows the mock's clock: nothing expires before the
		// lifetime, then expired-callback runs and the widget resets.
		var res map[string]int
		s.eval(fmt.Sprintf(`__siteverify.expire(%d)`, m.Now().UnixMilli()), &res)
		Expect(res["expired"]).To(Equal(0))
		now, err := m.Advance(context.Background(), mockserver.DefaultTokenLifetime+time.Second)
		Expect(err).NotTo(HaveOccurred())
		s.eval(fmt.Sprintf(`__siteverify.expire(%d)`, now.UnixMilli()), &res)
		Expect(res).To(Equal(map[string]int{"expired": 1, "callbacks": 1}))
		Expect(s.str(`String(expired1) + "|" + grecaptcha.getResponse(1) + "|" + document.querySelector("#w1 .recaptcha-checkbox").getAttribute("aria-checked")`)).
			To(Equal("1||false"))

		s.click("#w1 .recaptcha-checkbox")
		s.waitTrue(`grecaptcha.getResponse(1) !== ""`)
		s.eval(`grecaptcha.reset(1), grecaptcha.getResponse(1)`, new(string))
		Expect(s.str(`grecaptcha.getResponse(1)`)).To(Equal(""))
		Expect(s.str(`(function(){ try { grecaptcha.render("w0", {sitekey: "x"}); return "no error"; } catch (e) { return e.message; } })()`)).
			To(ContainSubstring("already been rendered"))
	})

	g.It("makes the v3 badge for ?render=SITEKEY and mints execute(sitekey, {action}) tokens", func() {
		key := m.Site().SiteKey
		s := openScriptPage(m, `<!doctype html><form><input name="x"></form>
<script src="https://www.google.com/recaptcha/api.js?render=`+key+`"></script>
<script>
  grecaptcha.ready(function () {
    grecaptcha.execute("`+key+`", {action: "signup"}).then(function (t) { window.tok = t; });
    grecaptcha.execute("6LcNOTLOADED", {action: "x"}).catch(function (e) { window.bad = e.message; });
  });
</script>`)
		s.waitTrue(`window.tok && window.bad`)
		Expect(s.str(`bad`)).To(ContainSubstring("Invalid site key or not loaded in api.js: 6LcNOTLOADED"))
		Expect(s.str(`document.querySelector(".grecaptcha-badge textarea").id`)).To(Equal("g-recaptcha-response-100000"))
		tok := s.str(`tok`)
		Expect(s.str(`grecaptcha.getResponse()`)).To(Equal(tok), "the badge is the only widget")
		a := verifyToken(m, m.Site().Secret, tok)
		Expect(a).To(HaveKeyWithValue("action", "signup"))
		Expect(a).To(HaveKeyWithValue("hostname", "127.0.0.1"))
		ms := mustMints(m)
		Expect(ms).To(HaveLen(1))
		Expect(ms[0].Page).To(Equal("/page"))
		Expect(ms[0].Widget).To(Equal("100000"))
	})

	g.It("renders .g-recaptcha implicitly: error-callback for an unknown key, bound buttons, invisible widgets", func() {
		inv, err := m.AddSite(context.Background(), mockserver.NewSite(mockserver.V2Invisible))
		Expect(err).NotTo(HaveOccurred())
		s := openScriptPage(m, `<!doctype html>
<form id="a"><div class="g-recaptcha" data-sitekey="6LcUNKNOWNKEY" data-error-callback="onErr"></div></form>
<form id="b"><input name="q"><button class="g-recaptcha" data-sitekey="`+m.Site().SiteKey+`" data-callback="onSubmit" data-action="checkout">Buy</button></form>
<div id="inv"></div>
<script>
  function onErr() { window.errored = true; }
  function onSubmit(t) { window.bound = t; }
  function onInvisible(t) { window.invisible = t; }
</script>
<script src="https://www.google.com/recaptcha/api.js" async defer></script>`)
		s.click("#a .recaptcha-checkbox")
		s.waitTrue(`window.errored`)
		Expect(s.str(`document.querySelector("#a .rc-anchor-error-msg").textContent`)).To(Equal("ERROR for site owner: Invalid site key"))
		Expect(s.str(`grecaptcha.getResponse(0)`)).To(Equal(""))

		s.click("#b button")
		s.waitTrue(`window.bound`)
		Expect(s.str(`document.querySelector("#b textarea[name=g-recaptcha-response]").value`)).To(Equal(s.str(`bound`)),
			"a bound button's textarea sits inside its form")
		Expect(verifyToken(m, m.Site().Secret, s.str(`bound`))).To(HaveKeyWithValue("action", "checkout"))

		s.eval(`window.invID = grecaptcha.render("inv", {sitekey: "`+inv.SiteKey+`", size: "invisible", callback: onInvisible}), grecaptcha.execute(invID), invID`, new(int))
		s.waitTrue(`window.invisible`)
		Expect(verifyToken(m, inv.Secret, s.str(`invisible`))).To(HaveKeyWithValue("success", true))
		var kinds []string
		for _, mt := range mustMints(m) {
			kinds = append(kinds, mt.Requested+"/"+string(mt.Kind))
		}
		Expect(kinds).To(Equal([]string{"v2-checkbox/", "v3/v3", "invisible/v2-invisible"}), "a button bound to a v3 key is a v3 widget")
	})

	g.It("works on a page whose Content-Security-Policy allows Google's script but not fetch to it", func() {
		key := m.Site().SiteKey
		s := openScriptPage(m, `<!doctype html>
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; script-src 'self' 'unsafe-inline' https://www.google.com/recaptcha/; connect-src 'self'">
<form></form>
<script src="https://www.google.com/recaptcha/api.js?render=`+key+`"></script>
<script>
  grecaptcha.ready(function () {
    grecaptcha.execute("`+key+`", {action: "login"}).then(function (t) { window.tok = t; }, function (e) { window.err = e.message; });
  });
</script>`)
		s.waitTrue(`window.tok || window.err`)
		Expect(s.str(`String(window.err)`)).To(Equal("undefined"))
		Expect(verifyToken(m, m.Site().Secret, s.str(`tok`))).To(HaveKeyWithValue("action", "login"))
		Expect(strings.Join(s.t.forwardedRequests(), "\n")).To(ContainSubstring("GET https://www.google.com/recaptcha/api2/mint?"))
	})

	g.It("serves enterprise.js as grecaptcha.enterprise on www.recaptcha.net", func() {
		key := m.Site().SiteKey
		s := openScriptPage(m, `<!doctype html><form></form>
<script src="https://www.recaptcha.net/recaptcha/enterprise.js?render=`+key+`"></script>
<script>
  grecaptcha.enterprise.ready(function () {
    grecaptcha.enterprise.execute("`+key+`", {action: "login"}).then(function (t) { window.tok = t; });
  });
</script>`)
		s.waitTrue(`window.tok`)
		Expect(verifyToken(m, m.Site().Secret, s.str(`tok`))).To(HaveKeyWithValue("action", "login"))
		Expect(mustMints(m)[0].Enterprise).To(BeTrue())
		Expect(strings.Join(s.t.forwardedRequests(), "\n")).To(ContainSubstring("https://www.recaptcha.net/recaptcha/api2/mint"))
	})

	g.It("accepts every documented call pattern, and takes the widget type from the key type", func() {
		inv, err := m.AddSite(context.Background(), mockserver.NewSite(mockserver.V2Invisible))
		Expect(err).NotTo(HaveOccurred())
		v3 := m.Site().SiteKey
		s := openScriptPage(m, `<!doctype html><form id="f">
<div id="c1"></div><div id="c2"></div><div id="c3"></div><div id="c4" data-sitekey="`+inv.SiteKey+`" data-callback="onInv"></div></form>
<script>
  window.log = [];
  function onInv(t) { window.invTok = t; }
  function onl() {
    window.ids = {
      // render(params) alone, as the recaptcha-v3 loader calls it, with a v3 key: a v3 badge in a new element.
      paramsOnly: grecaptcha.render({sitekey: "`+v3+`", badge: "inline"}),
      // a v3 key makes a v3 widget whatever size says
      v3NoSize: grecaptcha.render("c1", {sitekey: "`+v3+`", callback: function (t) { window.v3cb = t; }}),
      // size chooses between the v2 widgets; a checkbox key in an invisible widget fails as with Google
      wrongType: grecaptcha.render(document.getElementById("c2"), {sitekey: "`+v2.SiteKey+`", size: "invisible", "error-callback": function () { window.wrongType = true; }}),
      checkbox: grecaptcha.render("c3", {sitekey: "`+v2.SiteKey+`", hl: "de"}),
      // inherit: the data-* attributes fill what the parameters leave out
      inherited: grecaptcha.render("c4", {size: "invisible"}, true)
    };
  }
</script>
<script src="https://www.google.com/recaptcha/api.js?render=explicit&onload=onl&hl=de" async defer></script>`)
		s.waitTrue(`window.ids`)
		var ids map[string]int
		s.eval(`ids`, &ids)
		Expect(ids).To(Equal(map[string]int{"paramsOnly": 0, "v3NoSize": 1, "wrongType": 2, "checkbox": 3, "inherited": 4}))
		var widgets []struct {
			ID   int    `json:"id"`
			Kind string `json:"kind"`
		}
		s.eval(`__siteverify.widgets()`, &widgets)
		kinds := map[int]string{}
		for _, w := range widgets {
			kinds[w.ID] = w.Kind
		}
		Expect(kinds).To(Equal(map[int]string{0: "v3", 1: "v3", 2: "invisible", 3: "v2-checkbox", 4: "invisible"}))
		Expect(s.str(`document.body.lastElementChild.querySelector(".grecaptcha-badge").getAttribute("data-style")`)).To(Equal("inline"),
			"render(params) renders into a new element at the end of the body")
		Expect(s.str(`String(document.querySelectorAll("#c1 .recaptcha-checkbox").length)`)).To(Equal("0"), "a v3 key never shows a checkbox")
		Expect(s.str(`__siteverify.hl`)).To(Equal("de"))

		// execute(widgetId, {action}) and execute(sitekey, {action}) on rendered v3 widgets resolve to tokens.
		s.eval(`grecaptcha.execute(ids.paramsOnly, {action: "signup"}).then(function (t) { window.t0 = t; }), 0`, new(int))
		s.waitTrue(`window.t0`)
		Expect(verifyToken(m, m.Site().Secret, s.str(`t0`))).To(HaveKeyWithValue("action", "signup"))
		Expect(s.str(`grecaptcha.getResponse()`)).To(Equal(s.str(`t0`)), "getResponse() without an id is the first widget")
		Expect(s.str(`grecaptcha.getResponse(0)`)).To(Equal(s.str(`t0`)))
		s.eval(`grecaptcha.execute(1, {action: "login"}), 0`, new(int))
		s.waitTrue(`window.v3cb`)
		Expect(s.str(`grecaptcha.getResponse(1)`)).To(Equal(s.str(`v3cb`)), "a v3 widget's callback gets the token")
		s.eval(`grecaptcha.execute("`+v3+`", {action: "buy"}).then(function (t) { window.t2 = t; }), 0`, new(int))
		s.waitTrue(`window.t2`)
		Expect(verifyToken(m, m.Site().Secret, s.str(`t2`))).To(HaveKeyWithValue("action", "buy"))
		s.eval(`grecaptcha.reset(), 0`, new(int))
		Expect(s.str(`grecaptcha.getResponse()`)).To(Equal(""), "reset() without an id resets the first widget")

		s.eval(`grecaptcha.execute(ids.wrongType), 0`, new(int))
		s.waitTrue(`window.wrongType`)
		s.eval(`grecaptcha.execute(ids.inherited), 0`, new(int))
		s.waitTrue(`window.invTok`)
		Expect(verifyToken(m, inv.Secret, s.str(`invTok`))).To(HaveKeyWithValue("success", true))

		// The checkbox shows its state: a check mark once solved.
		Expect(s.str(`document.querySelector("#c3 .recaptcha-checkbox").textContent`)).To(Equal(""))
		s.click("#c3 .recaptcha-checkbox")
		s.waitTrue(`grecaptcha.getResponse(3) !== ""`)
		Expect(s.str(`(function(){ var b = document.querySelector("#c3 .recaptcha-checkbox"); return b.textContent + " " + b.className + " " + b.getAttribute("aria-checked"); })()`)).
			To(Equal("\u2714 recaptcha-checkbox recaptcha-checkbox-checked true"))
		Expect(s.str(`(function(){ try { grecaptcha.render("c3x", {sitekey: "k"}); return "no error"; } catch (e) { return e.message; } })()`)).
			To(ContainSubstring("must be an element or id"))
		Expect(s.str(`(function(){ try { grecaptcha.render(document.createElement("div")); return "no error"; } catch (e) { return e.message; } })()`)).
			To(ContainSubstring("Missing required parameters: sitekey"))
	})

	g.It("implements every method and render parameter of the official typings (@types/grecaptcha), under grecaptcha and grecaptcha.enterprise", func() {
		dir := requireFrontend()
		dts, err := os.ReadFile(filepath.Join(dir, "node_modules", "@types", "grecaptcha", "index.d.ts"))
		Expect(err).NotTo(HaveOccurred())
		methods, params := typingsSurface(string(dts))
		Expect(methods).To(ContainElements("render", "reset", "getResponse", "execute", "ready"), "the typings parse")
		Expect(params).To(ContainElements("sitekey", "callback", "expired-callback", "size"), "the typings parse")
		key := m.Site().SiteKey
		for _, script := range []string{"api.js", "enterprise.js"} {
			s := openScriptPage(m, `<!doctype html><form></form><script src="https://www.google.com/recaptcha/`+script+`?render=`+key+`"></script>`)
			ns := "grecaptcha"
			if script == "enterprise.js" {
				ns = "grecaptcha.enterprise"
			}
			for _, name := range methods {
				Expect(s.str(`typeof `+ns+`.`+name)).To(Equal("function"), "%s.%s (%s)", ns, name, script)
			}
			var surface struct{ Params []string }
			s.eval(`__siteverify.surface`, &surface)
			Expect(surface.Params).To(ContainElements(params), "render parameters the stand-in reads (%s)", script)
		}
	})
})

// typingsSurface reads the methods of interface ReCaptcha and the fields of
// interface Parameters from @types/grecaptcha's index.d.ts.
func typingsSurface(dts string) (methods, params []string) {
	block := func(name string) string {
		i := strings.Index(dts, "interface "+name+" {")
		if i < 0 {
			return ""
		}
		rest := dts[i:]
		if j := strings.Index(rest, "\n    }"); j >= 0 {
			return rest[:j]
		}
		return rest
	}
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(\w+)\(`).FindAllStringSubmatch(block("ReCaptcha"), -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			methods = append(methods, m[1])
		}
	}
	for _, m := range regexp.MustCompile(`(?m)^\s+"?([\w-]+)"?\??[(:]`).FindAllStringSubmatch(block("Parameters"), -1) {
		params = append(params, m[1])
	}
	return methods, params
}

// mustMints reads m's mint log.
func mustMints(m mockserver.ClientMock) []mockserver.Mint {
	g.GinkgoHelper()
	ms, err := m.Mints(context.Background())
	Expect(err).NotTo(HaveOccurred())
	return ms
}
