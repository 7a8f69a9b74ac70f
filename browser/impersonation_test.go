package browser

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	g "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/siteverify/siteverify/fixtures/refbackend"
	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/mockserver/intercept"
)

// The browser through the providers' real URLs: Chromium started with the
// mock's forward proxy and trusting only the mock's CA, pages loading each
// provider's script from its real URL (no interception in the browser);
// staging mode against the mock impersonating Google, the backend calling
// Google's real siteverify URL through HTTPS_PROXY with the CA trusted.

// realVerifyURL is Google's siteverify URL, which a staging backend calls.
var realVerifyURL = mockserver.ReCAPTCHA.RealURL(mockserver.VerifyPath)

// buildRefbackend builds the reference backend's command once per spec
// tree that needs it, and returns the binary's path.
func buildRefbackend() string {
	g.GinkgoHelper()
	bin := filepath.Join(g.GinkgoT().TempDir(), "refbackend")
	out, err := exec.Command("go", "build", "-o", bin, "../fixtures/refbackend/cmd/refbackend").CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "build refbackend: %s", out)
	return bin
}

// withoutProxyEnv is os.Environ without the proxy and CA variables, so a
// backend sees only the ones a spec gives it.
func withoutProxyEnv() []string {
	names := slices.Concat(intercept.ProxyEnvNames, intercept.NoProxyEnvNames, intercept.CAEnvNames)
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(names, name)
	})
}

// startRefbackend starts the reference backend's command with env and
// args, waits until it listens, and returns its base URL; it is stopped
// (by its PID) when the spec tree ends.
func startRefbackend(bin string, env []string, args ...string) string {
	g.GinkgoHelper()
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = env
	cmd.Stderr = g.GinkgoWriter
	stdout, err := cmd.StdoutPipe()
	Expect(err).NotTo(HaveOccurred())
	Expect(cmd.Start()).To(Succeed())
	g.DeferCleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	Expect(err).NotTo(HaveOccurred(), "refbackend said nothing")
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "refbackend: listening on ")
	Expect(ok).To(BeTrue(), "refbackend said %q", line)
	go func() { _, _ = bufio.NewReader(stdout).WriteTo(g.GinkgoWriter) }()
	return url
}

// mints is the mock's mint log.
func mints(m *mockserver.Server) []mockserver.Mint {
	g.GinkgoHelper()
	ms, err := m.Mints(context.Background())
	Expect(err).NotTo(HaveOccurred())
	return ms
}

// refPage is the reference backend's page at url, as the reference specs
// describe it.
func refPage(name, url string, kind Kind, sitekey, action string) Page {
	return Page{Name: name, URL: url, Kind: kind, Form: "#login-form", Submit: "#submit", Fields: refFields,
		Success: Match{Selector: "#result.success", Text: "Welcome"}, Rejected: Match{Selector: "#result.rejected"},
		SiteKey: sitekey, Action: action, Hostnames: []string{"127.0.0.1"}}
}

var _ = g.Describe("browser flows through the providers' real URLs", g.Label("browser", "impersonation"), g.Ordered, func() {
	var (
		mock    *mockserver.Server
		ca      *intercept.CA
		imp     *Impersonation
		proxied *Browser
		bin     string
	)
	g.BeforeAll(func() {
		mock = mockserver.New(g.GinkgoT())
		var err error
		ca, err = intercept.LoadCA(g.GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		imp, err = Impersonate(mock.Handler(), ca)
		Expect(err).NotTo(HaveOccurred())
		g.DeferCleanup(imp.Close)
		path, _, err := browserGate(os.Getenv)
		Expect(err).NotTo(HaveOccurred())
		proxied, err = Launch(context.Background(), Options{ChromePath: path, Proxy: &imp.Proxy})
		Expect(err).NotTo(HaveOccurred())
		g.DeferCleanup(proxied.Close)
		bin = buildRefbackend()
	})

	run := func(cfg Config) Report {
		g.GinkgoHelper()
		cfg.Browser, cfg.Proxy = proxied, &imp.Proxy
		cfg.Logf = func(f string, a ...any) { g.GinkgoWriter.Printf(f+"\n", a...) }
		rep, err := Run(context.Background(), cfg)
		Expect(err).NotTo(HaveOccurred())
		return rep
	}

	// staging runs FLOW-001 and FLOW-002 in staging mode on the reference
	// backend's v3 page, the backend a separate process that calls Google's
	// real siteverify URL through the proxy (HTTPS_PROXY, SSL_CERT_FILE)
	// with the given keys and flaws; the page's staging sitekey is the
	// mock's default site's.
	staging := func(backend mockserver.Site, flaws ...refbackend.Flaw) Report {
		g.GinkgoHelper()
		var fl []string
		for _, f := range flaws {
			fl = append(fl, string(f))
		}
		url := startRefbackend(bin, append(withoutProxyEnv(), imp.Env()...),
			"-verify-url", realVerifyURL, "-secret", backend.Secret, "-sitekey", backend.SiteKey, "-kind", "v3",
			"-action", "login", "-hostnames", "127.0.0.1", "-timeout", "10s", "-flaws", strings.Join(fl, ","))
		page := refPage("login-v3", url+"/login-v3", KindV3, mock.Site().SiteKey, "login")
		return run(Config{Staging: true, Impersonator: mock, Pages: []Page{page}})
	}

	g.It("runs staging mode's flows against the impersonated provider: token obtained, verified once with the staging sitekey, replay refused", g.Label("FLOW-001", "FLOW-002"), func() {
		mintsBefore := len(mints(mock))
		rep := staging(mock.Site())
		text := reportText(rep)
		Expect(rep.OK()).To(BeTrue(), text)
		Expect(rep.IDs("", Passed)).To(Equal([]string{"FLOW-001", "FLOW-002"}), text)
		Expect(rep.Staging).To(BeTrue())
		Expect(rep.Against).To(Equal(AgainstImpersonation))
		Expect(rep.Proxy).To(Equal(imp.Proxy.URL))
		Expect(text).To(HavePrefix("browser flows (staging, against an impersonation of the provider, not the real provider: the mock on its real URLs through the proxy " + imp.Proxy.URL + "; Chrome/"))
		Expect(rep.Results[0].Actual).To(And(
			ContainSubstring("obtained and posted to"),
			ContainSubstring("verified once, with the secret of the staging sitekey "+mock.Site().SiteKey[:12]),
		))
		Expect(rep.Results[1].Actual).To(ContainSubstring("siteverify was called 2 times: success"))
		// The backend called Google's real URL (it knows no other), which
		// only the proxy could answer; the page's script came from the
		// mock on Google's real URL (no interception in the browser in
		// staging mode): its tokens are in the mock's mint log.
		for _, r := range rep.Results {
			if r.Status == Skipped {
				Expect(r.Actual).To(Or(ContainSubstring("runs offline only"), ContainSubstring("applies to")))
				continue
			}
			Expect(r.Journal).NotTo(BeEmpty(), "%s: the impersonating mock's journal", r.ID)
			for _, e := range r.Journal {
				Expect(e.Path).To(Equal(mockserver.VerifyPath))
				Expect(e.SecretSite).To(Equal(mock.Site().SiteKey))
			}
			Expect(r.Mints).To(BeEmpty(), "staging mode reads no mint log")
		}
		Expect(len(mints(mock))).To(BeNumerically(">", mintsBefore), "the page got its tokens from the mock's script on Google's real URL")
	})

	g.It("fails the lifecycle check of a backend that verifies the token twice (the page still shows success)", g.Label("FLOW-001"), func() {
		rep := staging(mock.Site(), refbackend.FlawVerifyTwice)
		Expect(rep.IDs("", Failed)).To(Equal([]string{"FLOW-001"}), reportText(rep))
		Expect(rep.Results[0].Actual).To(And(ContainSubstring("the page showed success, but the backend verified the page's token"),
			ContainSubstring("2 times")))
		Expect(reportText(rep)).To(ContainSubstring("siteverify journal:"))
	})

	g.It("fails the lifecycle check of a backend configured with other keys than the staging sitekey's", g.Label("FLOW-001"), func() {
		other, err := mock.AddSite(context.Background(), mockserver.NewSite(mockserver.V3))
		Expect(err).NotTo(HaveOccurred())
		rep := staging(other)
		Expect(rep.IDs("", Failed)).To(ContainElement("FLOW-001"), reportText(rep))
		Expect(rep.Results[0].Actual).To(ContainSubstring(fmt.Sprintf("the backend verified with the secret of sitekey %s, not the secret of the staging sitekey %s",
			other.SiteKey, mock.Site().SiteKey)))
	})

	g.It("runs the offline flows on reCAPTCHA and Turnstile pages whose scripts load from their real URLs through the proxy", g.Label("FLOW-001", "FLOW-002", "FLOW-003", "FLOW-004", "FLOW-005", "FLOW-006"), func() {
		ctx := context.Background()
		ts, err := mock.AddSite(ctx, mockserver.NewSite(mockserver.TurnstileStandard))
		Expect(err).NotTo(HaveOccurred())
		serve := func(cfg refbackend.Config, prov *mockserver.Provider) string {
			cfg.VerifyURL, cfg.Hostnames = mock.URL()+prov.VerifyPath(), []string{"127.0.0.1"}
			h, err := refbackend.New(cfg)
			Expect(err).NotTo(HaveOccurred())
			s := httptest.NewServer(h)
			g.DeferCleanup(s.Close)
			return s.URL
		}
		v3 := serve(refbackend.Config{Kind: refbackend.KindV3, Secret: mock.Site().Secret, SiteKey: mock.Site().SiteKey, Action: "login"}, mockserver.ReCAPTCHA)
		tsURL := serve(refbackend.Config{Kind: refbackend.KindTurnstile, Secret: ts.Secret, SiteKey: ts.SiteKey, Action: "login", CData: "login-form"}, mockserver.Turnstile)
		rep := run(Config{Mock: mock, Pages: []Page{
			refPage("login-v3", v3+"/login-v3", KindV3, mock.Site().SiteKey, "login"),
			refPage("login-turnstile", tsURL+"/login-turnstile", KindTurnstile, ts.SiteKey, "login"),
		}})
		text := reportText(rep)
		Expect(rep.OK()).To(BeTrue(), text)
		Expect(rep.IDs("login-v3", Passed)).To(Equal([]string{"FLOW-001", "FLOW-002", "FLOW-003", "FLOW-004", "FLOW-006"}), text)
		Expect(rep.IDs("login-turnstile", Passed)).To(Equal([]string{"FLOW-001", "FLOW-002", "FLOW-005", "FLOW-006"}), text)
		Expect(rep.Against).To(Equal(AgainstMock))
		Expect(text).To(HavePrefix("browser flows (offline, against the mock: the providers' real URLs through its proxy " + imp.Proxy.URL + "; Chrome/"))
	})

	g.It("refuses a provider certificate signed by another CA, though loopback pages still load", func() {
		other, err := intercept.LoadCA(g.GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		Expect(other.SPKIHash()).NotTo(Equal(ca.SPKIHash()))
		wrong, err := Impersonate(mock.Handler(), other)
		Expect(err).NotTo(HaveOccurred())
		defer wrong.Close()
		page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `<!doctype html><title>p</title><script src="https://www.google.com/recaptcha/api.js"></script><p id="x">page</p>`)
		}))
		defer page.Close()

		// loads reports whether the page's grecaptcha loaded in b, and the
		// page's console.
		loads := func(b *Browser) (bool, []string) {
			t, closeTab, err := b.openTab(context.Background(), "")
			Expect(err).NotTo(HaveOccurred())
			defer closeTab()
			fr := &flowRun{ctx: t.ctx, tab: t, page: Page{URL: page.URL, Form: "#x"}, started: time.Now()}
			Expect(fr.open()).To(Succeed(), "the loopback page loads directly, not through the proxy")
			ok, err := evaluate[bool](t.ctx, 5*time.Second, `typeof grecaptcha === "object"`)
			Expect(err).NotTo(HaveOccurred())
			time.Sleep(50 * time.Millisecond)
			return ok, t.consoleLines()
		}
		ok, console := loads(proxied)
		Expect(ok).To(BeTrue(), "the proxy signed with the trusted CA serves the script: %q", console)

		// A browser that trusts the first CA, sent to a proxy whose leaves
		// the second signs: the SPKI list vouches for the first CA only.
		path, _, err := browserGate(os.Getenv)
		Expect(err).NotTo(HaveOccurred())
		b, err := Launch(context.Background(), Options{ChromePath: path, Proxy: &Proxy{URL: wrong.Proxy.URL, CA: ca}})
		Expect(err).NotTo(HaveOccurred())
		defer b.Close()
		ok, console = loads(b)
		Expect(ok).To(BeFalse(), "a certificate from another CA must be refused")
		Expect(strings.Join(console, "\n")).To(ContainSubstring("ERR_CERT_AUTHORITY_INVALID"))

		// Run fails fast the same way, before any flow.
		_, err = Run(context.Background(), Config{Browser: b, Proxy: &Proxy{URL: wrong.Proxy.URL, CA: ca}, Staging: true,
			Pages: []Page{validPage}})
		Expect(err).To(MatchError(ContainSubstring("certificate signed by unknown authority")))
	})
})
