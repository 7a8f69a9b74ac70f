package browser

import (
	"bytes"
	"context"
	"net/http/httptest"
	"time"

	g "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/siteverify/siteverify/fixtures/refbackend"
	"github.com/siteverify/siteverify/mockserver"
)

// providerEnv is a mock plus the reference backend twice, an hCaptcha and a
// Turnstile configuration (each with its own site), with the given page
// flaws: the flow catalog on the /login-hcaptcha and /login-turnstile pages.
type providerEnv struct {
	mock  *mockserver.Server
	pages map[Kind]Page
}

func newProviderEnv(flaws ...refbackend.Flaw) *providerEnv {
	g.GinkgoHelper()
	m := mockserver.New(g.GinkgoT())
	ctx := context.Background()
	hc, err := m.AddSite(ctx, mockserver.NewSite(mockserver.HCaptchaPublisher))
	Expect(err).NotTo(HaveOccurred())
	ts, err := m.AddSite(ctx, mockserver.NewSite(mockserver.TurnstileStandard))
	Expect(err).NotTo(HaveOccurred())
	serve := func(cfg refbackend.Config, prov *mockserver.Provider) string {
		cfg.VerifyURL, cfg.Hostnames, cfg.Flaws = m.URL()+prov.VerifyPath(), []string{"127.0.0.1"}, flaws
		h, err := refbackend.New(cfg)
		Expect(err).NotTo(HaveOccurred())
		s := httptest.NewServer(h)
		g.DeferCleanup(s.Close)
		return s.URL
	}
	hcURL := serve(refbackend.Config{Kind: refbackend.KindHCaptcha, Secret: hc.Secret, SiteKey: hc.SiteKey}, mockserver.HCaptcha)
	tsURL := serve(refbackend.Config{Kind: refbackend.KindTurnstile, Secret: ts.Secret, SiteKey: ts.SiteKey,
		Action: "login", CData: "login-form"}, mockserver.Turnstile)
	page := func(name, url string, kind Kind, sitekey, action string) Page {
		return Page{Name: name, URL: url, Kind: kind, Form: "#login-form", Submit: "#submit", Fields: refFields,
			Success: Match{Selector: "#result.success", Text: "Welcome"}, Rejected: Match{Selector: "#result.rejected"},
			SiteKey: sitekey, Action: action, Hostnames: []string{"127.0.0.1"}}
	}
	return &providerEnv{mock: m, pages: map[Kind]Page{
		KindHCaptcha:  page("login-hcaptcha", hcURL+"/login-hcaptcha", KindHCaptcha, hc.SiteKey, ""),
		KindTurnstile: page("login-turnstile", tsURL+"/login-turnstile", KindTurnstile, ts.SiteKey, "login"),
	}}
}

func (e *providerEnv) run(kinds []Kind, ids ...string) Report {
	g.GinkgoHelper()
	var pages []Page
	for _, k := range kinds {
		pages = append(pages, e.pages[k])
	}
	rep, err := Run(context.Background(), Config{Mock: e.mock, Browser: shared, Pages: pages, Flows: ids,
		Logf: func(f string, a ...any) { g.GinkgoWriter.Printf(f+"\n", a...) }})
	Expect(err).NotTo(HaveOccurred())
	return rep
}

var providerKinds = []Kind{KindHCaptcha, KindTurnstile}

var _ = g.Describe("browser flows on the reference backend's hCaptcha and Turnstile pages", g.Label("browser", "provider-flows"), func() {
	g.Describe("correct pages", g.Ordered, func() {
		var rep Report
		var took time.Duration
		g.BeforeAll(func() {
			env := newProviderEnv()
			start := time.Now()
			rep = env.run(providerKinds)
			took = time.Since(start)
			g.AddReportEntry("all flows against the hCaptcha and Turnstile reference pages", took.Round(10*time.Millisecond).String())
		})

		g.It("passes every flow that applies, and skips the others saying why", g.Label("FLOW-001", "FLOW-002", "FLOW-005", "FLOW-006"), func() {
			Expect(rep.IDs("login-hcaptcha", Passed)).To(Equal([]string{"FLOW-001", "FLOW-002", "FLOW-005"}), reportText(rep))
			Expect(rep.IDs("login-turnstile", Passed)).To(Equal([]string{"FLOW-001", "FLOW-002", "FLOW-005", "FLOW-006"}), reportText(rep))
			Expect(rep.IDs("login-hcaptcha", Skipped)).To(Equal([]string{"FLOW-003", "FLOW-004", "FLOW-006"}))
			Expect(rep.IDs("login-turnstile", Skipped)).To(Equal([]string{"FLOW-003", "FLOW-004"}))
			for _, r := range rep.Results {
				switch {
				case r.Status == Skipped:
					Expect(r.Actual).NotTo(HavePrefix("applies to"), "%s on %s says why it does not apply", r.ID, r.Page)
				case r.ID == "FLOW-001":
					Expect(r.Actual).To(ContainSubstring("the page's callback ran"))
					if r.Page == "login-turnstile" {
						Expect(r.Actual).To(ContainSubstring(`action "login", cdata "login-form"`))
					}
				}
			}
			Expect(took).To(BeNumerically("<", 3*time.Minute))
		})
	})

	g.DescribeTable("a page flaw fails exactly the flows that catch it",
		func(flaw refbackend.Flaw, kinds []Kind, want []string, actual string) {
			env := newProviderEnv(flaw)
			rep := env.run(kinds)
			Expect(rep.IDs("", Errored)).To(BeEmpty(), reportText(rep))
			var failed []string
			for _, k := range kinds {
				failed = append(failed, rep.IDs(env.pages[k].Name, Failed)...)
			}
			Expect(failed).To(Equal(want), reportText(rep))
			for _, r := range rep.NotOK() {
				Expect(r.Expected).NotTo(BeEmpty())
				Expect(r.Actual).NotTo(BeEmpty())
				Expect(r.Steps).NotTo(BeEmpty())
				Expect(bytes.HasPrefix(r.Screenshot, []byte("\x89PNG\r\n\x1a\n"))).To(BeTrue(), "a PNG screenshot")
				Expect(r.Mints).NotTo(BeEmpty(), "the tokens the page asked for")
			}
			Expect(rep.NotOK()[len(rep.NotOK())-1].Actual).To(ContainSubstring(actual))
		},
		g.Entry("page-double-submit: the backend caches verdicts per token", g.Label("FLOW-002"),
			refbackend.FlawPageDoubleSubmit, providerKinds, []string{"FLOW-002", "FLOW-002"}, "the same token was accepted twice"),
		g.Entry("page-no-expiry-handling: no expired-callback (and, on Turnstile, refresh-expired manual)", g.Label("FLOW-005"),
			refbackend.FlawPageNoExpiryHandling, providerKinds, []string{"FLOW-005", "FLOW-005"}, "the widget has cleared cf-turnstile-response"),
		g.Entry("page-token-at-load: the Turnstile page posts the first token and ignores renewals", g.Label("FLOW-005"),
			refbackend.FlawPageTokenAtLoad, []Kind{KindTurnstile}, []string{"FLOW-005"}, "the page posted the expired one it got at load"),
		// FLOW-005 submits too, after the renewal, and meets the same refusal.
		g.Entry("page-action-mismatch: the Turnstile widget's data-action is \"homepage\"", g.Label("FLOW-001", "FLOW-005", "FLOW-006"),
			refbackend.FlawPageActionMismatch, []Kind{KindTurnstile}, []string{"FLOW-001", "FLOW-005", "FLOW-006"}, `the backend expects "login"`),
	)
})
