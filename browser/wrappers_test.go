package browser

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	g "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"gopkg.in/yaml.v3"

	"github.com/siteverify/siteverify/fixtures/refbackend"
	"github.com/siteverify/siteverify/mockserver"
)

// bundleWrapperPages bundles every page source in dir/pages with the pinned
// esbuild (no network: esbuild's binary ships inside its npm package) into
// out, one NAME.js per page.
func bundleWrapperPages(dir, out string) error {
	entries, err := filepath.Glob(filepath.Join(dir, "pages", "*.js*"))
	if err != nil {
		return err
	}
	var pages []string
	for _, e := range entries {
		if filepath.Base(e) != "login.js" { // shared module, not a page
			pages = append(pages, e)
		}
	}
	args := append(pages, "--bundle", "--format=iife", "--jsx=automatic", "--log-level=warning", "--outdir="+out,
		`--define:process.env.NODE_ENV="production"`, "--define:__VUE_OPTIONS_API__=true",
		"--define:__VUE_PROD_DEVTOOLS__=false", "--define:__VUE_PROD_HYDRATION_MISMATCH_DETAILS__=false")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "node_modules", ".bin", "esbuild"), args...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("esbuild: %w\n%s", err, b)
	}
	return nil
}

// wrapperPages reads fixtures/npm/frontend/pages.yaml with base as {{base}}.
func wrapperPages(dir, base string) ([]Page, error) {
	b, err := os.ReadFile(filepath.Join(dir, "pages.yaml"))
	if err != nil {
		return nil, err
	}
	var f struct {
		Pages []Page `yaml:"pages"`
	}
	if err := yaml.Unmarshal([]byte(strings.ReplaceAll(string(b), "{{base}}", base)), &f); err != nil {
		return nil, fmt.Errorf("pages.yaml: %w", err)
	}
	return f.Pages, nil
}

// wrapperServer serves the bundled pages at /app/NAME (a shell that gives the
// page its sitekey and action) and /app/NAME.js, in front of backend.
func wrapperServer(bundles string, backend http.Handler, siteKey string) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /app/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if strings.HasSuffix(name, ".js") {
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			http.ServeFile(w, r, filepath.Join(bundles, filepath.Base(name)))
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>%s</title></head><body><div id="app"></div>
<script>window.SITEVERIFY = {siteKey: %q, action: "login"};</script>
<script src="/app/%s.js"></script></body></html>`, html.EscapeString(name), siteKey, html.EscapeString(name))
	})
	mux.Handle("/", backend)
	return httptest.NewServer(mux)
}

// wrapperWant is what the flows find on each wrapper page: the flows that
// pass and the flows that fail; every other flow is skipped (it does not
// apply to the page's kind).
var wrapperWant = map[string]struct{ passed, failed []string }{
	"react-google-recaptcha":              {passed: []string{"FLOW-001", "FLOW-002", "FLOW-005"}},
	"react-google-recaptcha-invisible":    {passed: []string{"FLOW-001", "FLOW-002"}},
	"react-google-recaptcha-v3":           {passed: []string{"FLOW-001", "FLOW-002", "FLOW-003", "FLOW-004", "FLOW-006"}},
	"react-google-recaptcha-v3-container": {passed: []string{"FLOW-001", "FLOW-002", "FLOW-003", "FLOW-004", "FLOW-006"}},
	// The component asks for its token when it mounts: after three minutes
	// on the page the form posts an expired token.
	"react-google-recaptcha-v3-component": {passed: []string{"FLOW-001", "FLOW-002", "FLOW-004", "FLOW-006"}, failed: []string{"FLOW-003"}},
	"vue-recaptcha-v3":                    {passed: []string{"FLOW-001", "FLOW-002", "FLOW-003", "FLOW-004", "FLOW-006"}},
	"recaptcha-v3":                        {passed: []string{"FLOW-001", "FLOW-002", "FLOW-003", "FLOW-004", "FLOW-006"}},
}

var _ = g.Describe("pages built with npm reCAPTCHA wrappers", g.Label("browser", "wrappers"), g.Ordered, func() {
	var rep Report
	var pages []Page
	g.BeforeAll(func() {
		dir := requireFrontend()
		bundles := g.GinkgoT().TempDir()
		Expect(bundleWrapperPages(dir, bundles)).To(Succeed())
		m := mockserver.New(g.GinkgoT())
		servers := map[Kind]string{}
		for _, kind := range Kinds() {
			site := m.Site()
			if kind != KindV3 {
				var err error
				site, err = m.AddSite(context.Background(), mockserver.NewSite(mockserver.KeyKind(kind)))
				Expect(err).NotTo(HaveOccurred())
			}
			h, err := refbackend.New(refbackend.Config{Kind: string(kind), VerifyURL: m.VerifyURL(), Secret: site.Secret, SiteKey: site.SiteKey,
				Action: "login", Hostnames: []string{"127.0.0.1"}})
			Expect(err).NotTo(HaveOccurred())
			srv := wrapperServer(bundles, h, site.SiteKey)
			g.DeferCleanup(srv.Close)
			servers[kind] = srv.URL
		}
		all, err := wrapperPages(dir, "BASE")
		Expect(err).NotTo(HaveOccurred())
		for _, p := range all {
			p.URL = strings.Replace(p.URL, "BASE", servers[p.Kind], 1)
			pages = append(pages, p)
		}
		rep, err = Run(context.Background(), Config{Mock: m, Browser: shared, Pages: pages,
			Logf: func(f string, a ...any) { g.GinkgoWriter.Printf(f+"\n", a...) }})
		Expect(err).NotTo(HaveOccurred())
	})

	g.It("lists a page for every wrapper the test expects, and no other", func() {
		var names, want []string
		for _, p := range pages {
			names = append(names, p.Name)
		}
		for n := range wrapperWant {
			want = append(want, n)
		}
		sort.Strings(want)
		Expect(names).To(ConsistOf(want))
	})

	for name, want := range wrapperWant {
		g.It(name+": exactly the expected flows pass and fail", func() {
			Expect(rep.IDs(name, Errored)).To(BeEmpty(), reportText(rep))
			Expect(rep.IDs(name, Passed)).To(Equal(want.passed), reportText(rep))
			if len(want.failed) == 0 {
				Expect(rep.IDs(name, Failed)).To(BeEmpty(), reportText(rep))
			} else {
				Expect(rep.IDs(name, Failed)).To(Equal(want.failed), reportText(rep))
			}
		})
	}
})
