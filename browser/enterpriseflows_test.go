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

// newEnterpriseEnv is a mock plus the reference backend twice in its
// reCAPTCHA Enterprise mode, a score key and a checkbox key (each its own
// site in the mock's default project), with the given page flaws: the flow
// catalog on /login-enterprise and /login-enterprise-checkbox. The pages
// load Google's enterprise.js, which the browser answers from the mock.
func newEnterpriseEnv(flaws ...refbackend.Flaw) *providerEnv {
	g.GinkgoHelper()
	m := mockserver.New(g.GinkgoT())
	ctx := context.Background()
	serve := func(kind mockserver.KeyKind, path string) Page {
		site, err := m.AddSite(ctx, mockserver.NewSite(kind))
		Expect(err).NotTo(HaveOccurred())
		h, err := refbackend.New(refbackend.Config{Kind: string(kind), VerifyURL: m.URL() + mockserver.Enterprise.VerifyPath(),
			Secret: site.Secret, SiteKey: site.SiteKey, Action: "login", Hostnames: []string{"127.0.0.1"}, Flaws: flaws})
		Expect(err).NotTo(HaveOccurred())
		s := httptest.NewServer(h)
		g.DeferCleanup(s.Close)
		return Page{Name: strings.TrimPrefix(path, "/"), URL: s.URL + path, Kind: Kind(kind), Form: "#login-form", Submit: "#submit",
			Fields: refFields, Success: Match{Selector: "#result.success", Text: "Welcome"}, Rejected: Match{Selector: "#result.rejected"},
			SiteKey: site.SiteKey, Action: "login", Hostnames: []string{"127.0.0.1"}}
	}
	return &providerEnv{mock: m, pages: map[Kind]Page{
		KindEnterprise:         serve(mockserver.EnterpriseScore, "/login-enterprise"),
		KindEnterpriseCheckbox: serve(mockserver.EnterpriseCheckbox, "/login-enterprise-checkbox"),
	}}
}

var enterpriseKinds = []Kind{KindEnterprise, KindEnterpriseCheckbox}

var _ = g.Describe("browser flows on the reference backend's reCAPTCHA Enterprise pages", g.Label("browser", "enterprise-flows"), func() {
	g.Describe("correct pages", g.Ordered, func() {
		var rep Report
		var took time.Duration
		g.BeforeAll(func() {
			env := newEnterpriseEnv()
			start := time.Now()
			rep = env.run(enterpriseKinds)
			took = time.Since(start)
			g.AddReportEntry("all flows against the Enterprise reference pages", took.Round(10*time.Millisecond).String())
		})

		g.It("passes every flow that applies, and skips the others saying why", g.Label("FLOW-001", "FLOW-002", "FLOW-003", "FLOW-004", "FLOW-005", "FLOW-006"), func() {
			Expect(rep.IDs("login-enterprise", Passed)).To(Equal([]string{"FLOW-001", "FLOW-002", "FLOW-003", "FLOW-004", "FLOW-006"}), reportText(rep))
			Expect(rep.IDs("login-enterprise-checkbox", Passed)).To(Equal([]string{"FLOW-001", "FLOW-002", "FLOW-005", "FLOW-006"}), reportText(rep))
			Expect(rep.IDs("login-enterprise", Skipped)).To(Equal([]string{"FLOW-005"}))
			Expect(rep.IDs("login-enterprise-checkbox", Skipped)).To(Equal([]string{"FLOW-003", "FLOW-004"}))
			for _, r := range rep.Results {
				switch {
				case r.Status == Skipped && r.Page == "login-enterprise-checkbox":
					Expect(r.Actual).NotTo(HavePrefix("applies to"), "%s on %s says why it does not apply", r.ID, r.Page)
				case r.ID == "FLOW-001":
					// The page's token is an Enterprise one, bound to the
					// action, and the backend assessed it once.
					Expect(r.Actual).To(ContainSubstring(`action "login"`))
					Expect(r.Actual).To(ContainSubstring("the assessments API was called once: assessment: valid"))
					Expect(r.Mints).To(HaveLen(1))
					Expect(r.Mints[0].Provider).To(Equal(mockserver.Enterprise.Name()))
					Expect(string(r.Mints[0].Kind)).To(Equal(string(r.Kind)))
					if r.Page == "login-enterprise-checkbox" {
						Expect(r.Actual).To(ContainSubstring("the page's callback ran"))
					}
				}
			}
			Expect(took).To(BeNumerically("<", 3*time.Minute))
		})
	})

	g.DescribeTable("a page flaw fails exactly the flows that catch it",
		func(flaw refbackend.Flaw, want map[string][]string, actual string) {
			env := newEnterpriseEnv(flaw)
			rep := env.run(enterpriseKinds)
			Expect(rep.IDs("", Errored)).To(BeEmpty(), reportText(rep))
			for _, k := range enterpriseKinds {
				name := env.pages[k].Name
				Expect(rep.IDs(name, Failed)).To(Equal(want[name]), "%s\n%s", name, reportText(rep))
			}
			for _, r := range rep.NotOK() {
				Expect(r.Expected).NotTo(BeEmpty())
				Expect(r.Actual).NotTo(BeEmpty())
				Expect(r.Steps).NotTo(BeEmpty())
				Expect(bytes.HasPrefix(r.Screenshot, []byte("\x89PNG\r\n\x1a\n"))).To(BeTrue(), "a PNG screenshot")
				Expect(r.Mints).NotTo(BeEmpty(), "the tokens the page asked for")
			}
			Expect(reportText(rep)).To(ContainSubstring(actual))
		},
		g.Entry("page-token-at-load: the score page executes once at load and posts that token", g.Label("FLOW-003"),
			refbackend.FlawPageTokenAtLoad, map[string][]string{"login-enterprise": {"FLOW-003"}}, "the page posted the token it got at page load"),
		g.Entry("page-double-submit: the backend caches verdicts per token", g.Label("FLOW-002"),
			refbackend.FlawPageDoubleSubmit, map[string][]string{"login-enterprise": {"FLOW-002"}, "login-enterprise-checkbox": {"FLOW-002"}},
			"the same token was accepted twice"),
		// On the checkbox page FLOW-005 submits too, after solving again, and meets the same refusal.
		g.Entry("page-action-mismatch: the pages' action is \"homepage\"", g.Label("FLOW-001", "FLOW-005", "FLOW-006"),
			refbackend.FlawPageActionMismatch, map[string][]string{"login-enterprise": {"FLOW-001", "FLOW-006"},
				"login-enterprise-checkbox": {"FLOW-001", "FLOW-005", "FLOW-006"}}, `the backend expects "login"`),
		g.Entry("page-no-expiry-handling: the checkbox page has no expired-callback", g.Label("FLOW-005"),
			refbackend.FlawPageNoExpiryHandling, map[string][]string{"login-enterprise-checkbox": {"FLOW-005"}}, "the page registered no expired-callback"),
	)
})
