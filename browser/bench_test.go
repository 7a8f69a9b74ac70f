package browser

import (
	"context"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/siteverify/siteverify/fixtures/refbackend"
	"github.com/siteverify/siteverify/mockserver"
)

// BenchmarkBrowserFlows measures every flow against the v3 and v2 checkbox
// reference pages: one run is the whole catalog on both pages (eight flows
// that apply), in one browser, a fresh browser context per flow. It reports
// seconds per run and milliseconds per flow; the tests keep only a generous
// safety bound, since wall time on a loaded two-core machine varies.
//
//	go test -run '^$' -bench BrowserFlows -benchtime 3x ./browser
func BenchmarkBrowserFlows(b *testing.B) {
	path, err := FindChrome("", os.Getenv)
	if err != nil {
		b.Fatal(err)
	}
	br, err := Launch(context.Background(), Options{ChromePath: path})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	m := mockserver.New(b)
	v2, err := m.AddSite(context.Background(), mockserver.NewSite(mockserver.V2Checkbox))
	if err != nil {
		b.Fatal(err)
	}
	serve := func(cfg refbackend.Config) string {
		cfg.VerifyURL, cfg.Hostnames = m.VerifyURL(), []string{"127.0.0.1"}
		h, err := refbackend.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		s := httptest.NewServer(h)
		b.Cleanup(s.Close)
		return s.URL
	}
	page := func(name, url string, kind Kind, action string) Page {
		return Page{Name: name, URL: url, Kind: kind, Form: "#login-form", Submit: "#submit", Fields: refFields,
			Success: Match{Selector: "#result.success", Text: "Welcome"}, Rejected: Match{Selector: "#result.rejected"}, Action: action}
	}
	pages := []Page{
		page("login-v3", serve(refbackend.Config{Kind: refbackend.KindV3, Secret: m.Site().Secret, SiteKey: m.Site().SiteKey, Action: "login"})+"/login-v3", KindV3, "login"),
		page("login-v2", serve(refbackend.Config{Kind: refbackend.KindV2Checkbox, Secret: v2.Secret, SiteKey: v2.SiteKey})+"/login-v2", KindV2Checkbox, ""),
	}
	flows := 0
	b.ResetTimer()
	for b.Loop() {
		rep, err := Run(context.Background(), Config{Mock: m, Browser: br, Pages: pages})
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK() {
			b.Fatalf("a flow did not pass: %+v", rep.NotOK())
		}
		flows += len(rep.IDs("", Passed))
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/run")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(max(flows, 1)), "ms/flow")
}
