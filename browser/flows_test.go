package browser

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"time"

	g "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/siteverify/siteverify/fixtures/refbackend"
	"github.com/siteverify/siteverify/mockserver"
)

// refEnv is a mock plus the reference backend twice (a v3 and a v2 checkbox
// configuration, each with its own site), with the given page flaws.
type refEnv struct {
	mock  *mockserver.Server
	pages map[Kind]Page
	// scripted are the v3 pages that send the token with fetch
	// ("login-v3-fetch", JSON body) and XHR ("login-v3-xhr", token in a
	// header) to /api/login.
	scripted []Page
}

var refFields = map[string]string{"#username": "ada", "#password": "correct-horse-battery-staple"}

func newRefEnv(flaws ...refbackend.Flaw) *refEnv {
	g.GinkgoHelper()
	m := mockserver.New(g.GinkgoT())
	v2, err := m.AddSite(context.Background(), mockserver.NewSite(mockserver.V2Checkbox))
	Expect(err).NotTo(HaveOccurred())
	serve := func(cfg refbackend.Config) string {
		cfg.VerifyURL, cfg.Hostnames, cfg.Flaws = m.VerifyURL(), []string{"127.0.0.1"}, flaws
		h, err := refbackend.New(cfg)
		Expect(err).NotTo(HaveOccurred())
		s := httptest.NewServer(h)
		g.DeferCleanup(s.Close)
		return s.URL
	}
	v3URL := serve(refbackend.Config{Kind: refbackend.KindV3, Secret: m.Site().Secret, SiteKey: m.Site().SiteKey, Action: "login"})
	v2URL := serve(refbackend.Config{Kind: refbackend.KindV2Checkbox, Secret: v2.Secret, SiteKey: v2.SiteKey})
	page := func(name, url string, kind Kind, sitekey, action string) Page {
		return Page{Name: name, URL: url, Kind: kind, Form: "#login-form", Submit: "#submit", Fields: refFields,
			Success: Match{Selector: "#result.success", Text: "Welcome"}, Rejected: Match{Selector: "#result.rejected"},
			SiteKey: sitekey, Action: action}
	}
	return &refEnv{mock: m, pages: map[Kind]Page{
		KindV3:         page("login-v3", v3URL+"/login-v3", KindV3, m.Site().SiteKey, "login"),
		KindV2Checkbox: page("login-v2", v2URL+"/login-v2", KindV2Checkbox, v2.SiteKey, ""),
	}, scripted: []Page{
		page("login-v3-fetch", v3URL+"/login-v3-fetch", KindV3, m.Site().SiteKey, "login"),
		page("login-v3-xhr", v3URL+"/login-v3-xhr", KindV3, m.Site().SiteKey, "login"),
	}}
}

func (e *refEnv) run(kinds []Kind, ids ...string) Report {
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

func reportText(r Report) string {
	var b strings.Builder
	_ = r.WriteText(&b)
	return b.String()
}

var bothKinds = []Kind{KindV3, KindV2Checkbox}

var _ = g.Describe("browser flows against the reference backend", g.Label("browser"), func() {
	g.Describe("correct pages", g.Ordered, func() {
		var rep Report
		var took time.Duration
		g.BeforeAll(func() {
			env := newRefEnv()
			start := time.Now()
			rep = env.run(bothKinds)
			took = time.Since(start)
			g.AddReportEntry("all flows against the v3 and v2 reference pages", took.Round(10*time.Millisecond).String())
		})

		for _, f := range Flows() {
			g.It(f.ID+" "+f.Title+" passes", g.Label(f.ID), func() {
				ran := 0
				for _, r := range rep.Results {
					if r.ID != f.ID || r.Status == Skipped {
						continue
					}
					ran++
					Expect(r.Status).To(Equal(Passed), reportText(rep))
					Expect(r.Screenshot).To(BeNil(), "screenshots are for flows that did not pass")
				}
				Expect(ran).To(BeNumerically(">", 0), "the flow ran on at least one reference page")
			})
		}

		// The time the flows take is a benchmark's figure
		// (BenchmarkBrowserFlows); the test keeps only a safety bound far
		// above it (46 s measured under -race on a two-core machine shared
		// with other test runs), which catches flows that wait out their
		// timeouts.
		g.It("runs every flow against both reference pages, one browser, a fresh context per flow, well within a safety bound", func() {
			Expect(rep.OK()).To(BeTrue(), reportText(rep))
			Expect(rep.IDs("", Passed)).To(HaveLen(8))
			Expect(took).To(BeNumerically("<", 3*time.Minute))
		})
	})

	g.DescribeTable("a page flaw fails exactly the flows that catch it",
		func(flaw refbackend.Flaw, kinds []Kind, want []string) {
			env := newRefEnv(flaw)
			rep := env.run(kinds)
			Expect(rep.IDs("", Errored)).To(BeEmpty(), reportText(rep))
			var failed []string
			for _, k := range kinds {
				failed = append(failed, rep.IDs(env.pages[k].Name, Failed)...)
			}
			Expect(failed).To(Equal(want), reportText(rep))
			// What a failed flow carries into the report.
			for _, r := range rep.NotOK() {
				Expect(r.Expected).NotTo(BeEmpty())
				Expect(r.Actual).NotTo(BeEmpty())
				Expect(r.Steps).NotTo(BeEmpty())
				Expect(bytes.HasPrefix(r.Screenshot, []byte("\x89PNG\r\n\x1a\n"))).To(BeTrue(), "a PNG screenshot")
				if r.ID != "FLOW-005" { // FLOW-005 fails before anything is submitted
					Expect(r.Journal).NotTo(BeEmpty(), "the flow's siteverify journal")
				}
				Expect(r.Mints).NotTo(BeEmpty(), "the tokens the page asked for")
			}
			Expect(reportText(rep)).To(And(ContainSubstring("siteverify journal:"), ContainSubstring("console:"), ContainSubstring("screenshot:")))
		},
		g.Entry("page-token-at-load: a token fetched at load and held 3 minutes", g.Label("FLOW-003"),
			refbackend.FlawPageTokenAtLoad, []Kind{KindV3}, []string{"FLOW-003"}),
		g.Entry("page-action-mismatch: the page executes \"homepage\", the backend expects \"login\"", g.Label("FLOW-001", "FLOW-006"),
			refbackend.FlawPageActionMismatch, []Kind{KindV3}, []string{"FLOW-001", "FLOW-006"}),
		g.Entry("page-double-submit: the backend caches verdicts per token", g.Label("FLOW-002"),
			refbackend.FlawPageDoubleSubmit, bothKinds, []string{"FLOW-002", "FLOW-002"}),
		g.Entry("page-no-expiry-handling: the v2 page registers no expired-callback", g.Label("FLOW-005"),
			refbackend.FlawPageNoExpiryHandling, []Kind{KindV2Checkbox}, []string{"FLOW-005"}),
	)

	g.DescribeTable("FLOW-002 replays the fetch or XHR request that carried the token and judges the backend's answer",
		func(flaw refbackend.Flaw, want Status, actual string) {
			var flaws []refbackend.Flaw
			if flaw != "" {
				flaws = append(flaws, flaw)
			}
			env := newRefEnv(flaws...)
			rep, err := Run(context.Background(), Config{Mock: env.mock, Browser: shared, Pages: env.scripted, Flows: []string{"FLOW-001", "FLOW-002"},
				Logf: func(f string, a ...any) { g.GinkgoWriter.Printf(f+"\n", a...) }})
			Expect(err).NotTo(HaveOccurred())
			for _, p := range env.scripted {
				Expect(rep.IDs(p.Name, Passed)).To(ContainElement("FLOW-001"), reportText(rep))
				Expect(rep.IDs(p.Name, want)).To(ContainElement("FLOW-002"), reportText(rep))
			}
			for _, r := range rep.Results {
				if r.ID == "FLOW-002" {
					Expect(r.Actual).To(ContainSubstring(actual))
					Expect(r.Steps).To(ContainElement(ContainSubstring("POST " + strings.TrimSuffix(r.URL, r.URL[strings.LastIndex(r.URL, "/"):]) + "/api/login again, exactly")))
				}
			}
		},
		g.Entry("a correct backend refuses the replay", g.Label("FLOW-002"), refbackend.Flaw(""), Passed,
			"refused: the backend refused the replay (HTTP 403"),
		g.Entry("cache-verdict: /api/login reuses the verdict for a repeated token", g.Label("FLOW-002"), refbackend.FlawCacheVerdict, Failed,
			"the backend accepted the replayed"),
	)

	g.It("says why the happy path failed when the page's action is wrong", g.Label("FLOW-001"), func() {
		env := newRefEnv(refbackend.FlawPageActionMismatch)
		rep := env.run([]Kind{KindV3}, "FLOW-001", "FLOW-006")
		Expect(rep.Results[0].Actual).To(ContainSubstring(`the page executed action "homepage" but the backend expects "login"`))
		Expect(rep.Results[1].Actual).To(ContainSubstring(`the page executes action "homepage" but the backend expects "login"`))
	})

	g.It("says why the happy path failed when the page's hostname is not one the backend accepts", g.Label("FLOW-001"), func() {
		m := mockserver.New(g.GinkgoT())
		h, err := refbackend.New(refbackend.Config{VerifyURL: m.VerifyURL(), Secret: m.Site().Secret, SiteKey: m.Site().SiteKey,
			Hostnames: []string{"localhost"}})
		Expect(err).NotTo(HaveOccurred())
		srv := httptest.NewServer(h) // on 127.0.0.1
		g.DeferCleanup(srv.Close)
		p := Page{Name: "login-v3", URL: srv.URL + "/login-v3", Kind: KindV3, Submit: "#submit", Fields: refFields,
			Success: Match{Selector: "#result.success"}, Rejected: Match{Selector: "#result.rejected"}, Hostnames: []string{"localhost"}}
		rep, err := Run(context.Background(), Config{Mock: m, Browser: shared, Pages: []Page{p}, Flows: []string{"FLOW-001"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Results[0].Status).To(Equal(Failed))
		Expect(rep.Results[0].Actual).To(ContainSubstring(`the page runs on hostname "127.0.0.1", which the backend does not accept (it allows localhost)`))
	})

	g.It("drives a mock in another process through its admin API", g.Label("FLOW-001", "FLOW-004"), func() {
		env := newRefEnv()
		remote, err := mockserver.Dial(context.Background(), env.mock.URL(), mockserver.DialOptions{})
		Expect(err).NotTo(HaveOccurred())
		rep, err := Run(context.Background(), Config{Mock: remote, Browser: shared,
			Pages: []Page{env.pages[KindV3]}, Flows: []string{"FLOW-004", "FLOW-001"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.IDs("", Passed)).To(Equal([]string{"FLOW-004", "FLOW-001"}), reportText(rep))
		Expect(env.mock.ClientScores()).To(BeEmpty(), "FLOW-004 removes the score it scripted")
	})

	g.It("reports a page whose selectors match nothing as an error, quickly, with a screenshot", func() {
		env := newRefEnv()
		p := env.pages[KindV3]
		p.Submit = "#no-such-button"
		rep, err := Run(context.Background(), Config{Mock: env.mock, Browser: shared, Pages: []Page{p}, Flows: []string{"FLOW-001"},
			FlowTimeout: 2 * time.Minute})
		Expect(err).NotTo(HaveOccurred())
		r := rep.Results[0]
		Expect(r.Status).To(Equal(Errored))
		// Quickly: the step's own timeout ended it, not the flow's (asserted
		// by cause rather than wall time, which a loaded machine stretches).
		Expect(r.Actual).To(ContainSubstring("click the submit control #no-such-button: nothing happened within " + stepTimeout.String()))
		Expect(r.Screenshot).NotTo(BeEmpty())
	})
})
