package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/siteverify/siteverify/browser"
	"github.com/siteverify/siteverify/cmd/siteverify/internal/htmlreport"
	"github.com/siteverify/siteverify/fixtures/refbackend"
	"github.com/siteverify/siteverify/fixtures/targets"
	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/suite"
	"github.com/siteverify/siteverify/suite/target"
)

// demoFlaws are the bugs of the demo's flawed variant: a mix that trips
// conformance cases in several areas and two browser flows, so the reader
// sees what failures look like.
var demoFlaws = []refbackend.Flaw{
	refbackend.FlawNoHostnameCheck,
	refbackend.FlawFailOpen,
	refbackend.FlawVerifyTwice,
	refbackend.FlawPageTokenAtLoad,
	refbackend.FlawPageDoubleSubmit,
	refbackend.FlawPageNoExpiryHandling,
}

type demoConfig struct {
	html    string
	chrome  string
	flaws   []refbackend.Flaw
	timeout time.Duration
}

func demoUsage(w io.Writer) {
	fmt.Fprint(w, `usage: siteverify demo [--html FILE] [--chrome PATH] [--flaws LIST] [--timeout D]

Runs the whole toolkit on built-in defaults: starts the mock and the built-in
reference backend with its pages, runs the conformance catalog and the browser
flows against it, then against a flawed variant, and writes one HTML report.
Needs nothing but this binary and Chromium.

  --html FILE    the HTML report (env SITEVERIFY_HTML; default out/siteverify-demo.html)
  --chrome PATH  Chromium or Chrome (env CHROME_PATH; default: the usual paths)
  --flaws LIST   the flawed variant's bugs, comma-separated (env SITEVERIFY_DEMO_FLAWS;
                 default `+joinFlaws(demoFlaws)+`)
  --timeout D    bound on the whole demo (env SITEVERIFY_TIMEOUT; default 5m)

Exit code 0 when the reference backend passes everything and the flawed variant
fails; 1 otherwise; 2 for a usage error; 3 when the demo could not run (no Chromium).
`)
}

func joinFlaws(fs []refbackend.Flaw) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ",")
}

// demoOptions are the demo's flags; demoUsage describes them by hand.
func demoOptions() []option {
	return []option{
		{flag: "html", env: "SITEVERIFY_HTML", def: filepath.Join("out", "siteverify-demo.html"), usage: "the HTML report"},
		{flag: "chrome", usage: "Chromium or Chrome (default: CHROME_PATH, then the usual paths)"},
		{flag: "flaws", env: "SITEVERIFY_DEMO_FLAWS", usage: "the flawed variant's bugs, comma-separated"},
		{flag: "timeout", env: "SITEVERIFY_TIMEOUT", def: "5m", usage: "bound on the whole demo"},
	}
}

func loadDemoConfig(args []string, env func(string) string) (demoConfig, error) {
	cfg := demoConfig{flaws: demoFlaws}
	o, err := parseOptions("demo", demoOptions(), args, env)
	if err != nil {
		return cfg, err
	}
	if len(o.args) > 0 {
		return cfg, fmt.Errorf("unexpected argument %q (siteverify demo takes only flags)", o.args[0])
	}
	cfg.html, cfg.chrome = o.str("html"), o.str("chrome")
	if v, src := o.get("flaws"); v != "" {
		f, err := refbackend.ParseFlaws(v)
		if err != nil {
			return cfg, fmt.Errorf("%s: %w", src, err)
		}
		cfg.flaws = f
	}
	v, src := o.get("timeout")
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return cfg, fmt.Errorf("%s=%q: want a duration such as 5m", src, v)
	}
	cfg.timeout = d
	return cfg, nil
}

// runDemo is `siteverify demo`.
func runDemo(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	cfg, err := loadDemoConfig(args, env)
	if errors.Is(err, flag.ErrHelp) {
		demoUsage(stdout)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "siteverify demo: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	// fail is for a demo that could not run (no Chromium, no port): the
	// harness, not an integration, is at fault.
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "siteverify demo: "+format+"\n", args...)
		return exitHarness
	}

	chrome, err := browser.FindChrome(cfg.chrome, env)
	if err != nil {
		return fail("%v", err)
	}
	v3, err := builtinTarget("refbackend.yaml")
	if err != nil {
		return fail("%v", err)
	}
	v2, err := builtinTarget("refbackend-v2.yaml")
	if err != nil {
		return fail("%v", err)
	}
	mock, err := mockserver.NewServer(mockserver.Options{})
	if err != nil {
		return fail("start the mock: %v", err)
	}
	defer mock.Close()
	fmt.Fprintf(stdout, "siteverify demo: mock siteverify at %s\n", mock.VerifyURL())
	b, err := browser.Launch(ctx, browser.Options{ChromePath: chrome})
	if err != nil {
		return fail("%v", err)
	}
	defer b.Close()

	prog := newProgress(stdout)
	variants := []struct {
		name, description, expectation string
		flaws                          []refbackend.Flaw
	}{
		{"reference backend", "The built-in reference integration (Go): a reCAPTCHA v3 login API and page, and a v2 checkbox page. It checks success, score, action and hostname, verifies each token once and fails closed.",
			"A correct integration: every case and flow should pass.", nil},
		{"flawed backend", "The same backend with deliberate bugs: " + strings.ReplaceAll(joinFlaws(cfg.flaws), ",", ", ") + ".",
			"Each bug should show up as the cases and flows it breaks.", cfg.flaws},
	}
	doc := htmlreport.Document{Title: "siteverify demo report", Generated: time.Now(), Version: versionString()}
	for _, v := range variants {
		conf, flows, err := demoVariant(ctx, mock, b, v3, v2, v.name, v.flaws, prog)
		prog.clear()
		if err != nil {
			return fail("%s: %v", v.name, err)
		}
		doc.Runs = append(doc.Runs, htmlreport.Run{Name: v.name, Description: v.description, Expectation: v.expectation, Conform: &conf, Browse: &flows})
		c := flows.Counts()
		fmt.Fprintf(stdout, "%-30s conformance: %s; browser flows: %d passed, %d failed, %d skipped\n",
			v.name+":", conf.SummaryLine(), c[browser.Passed], c[browser.Failed]+c[browser.Errored], c[browser.Skipped])
		if failed := conf.Failed(); len(failed) > 0 {
			fmt.Fprintf(stdout, "%-30s failed cases: %s\n", "", strings.Join(failed, ", "))
		}
		var failedFlows []string
		for _, r := range flows.NotOK() {
			failedFlows = append(failedFlows, r.ID+" on "+r.Page)
		}
		if len(failedFlows) > 0 {
			fmt.Fprintf(stdout, "%-30s failed flows: %s\n", "", strings.Join(failedFlows, ", "))
		}
	}

	ref, bad := doc.Runs[0], doc.Runs[1]
	refOK := ref.Conform.Passed() && ref.Browse.OK() && ref.Conform.Summary.Warnings == 0
	badCaught := len(cfg.flaws) == 0 || !bad.Conform.Passed() || !bad.Browse.OK() || bad.Conform.Summary.Warnings > 0

	// hCaptcha, Turnstile and reCAPTCHA Enterprise: the catalog against the
	// reference backend of each, correct and with that provider's own
	// flaws.
	for _, pv := range providerDemos {
		tpl, err := builtinTarget(pv.target)
		if err != nil {
			return fail("%v", err)
		}
		for _, flawed := range []bool{false, true} {
			name, flaws := pv.title+" reference backend", []refbackend.Flaw(nil)
			desc, expect := pv.description, "A correct integration: every case that applies should pass."
			if flawed {
				name, flaws = pv.title+" flawed backend", pv.flaws
				desc = "The same backend with deliberate bugs: " + strings.ReplaceAll(joinFlaws(flaws), ",", ", ") + "."
				expect = "Each bug should show up as the cases it breaks."
			}
			conf, flows, err := demoProvider(ctx, mock, b, tpl, name, flaws, prog)
			prog.clear()
			if err != nil {
				return fail("%s: %v", name, err)
			}
			doc.Runs = append(doc.Runs, htmlreport.Run{Name: name, Description: desc, Expectation: expect, Conform: &conf, Browse: flows})
			flowsLine := "no browser flows (the target has no pages)"
			if flows != nil {
				c := flows.Counts()
				flowsLine = fmt.Sprintf("browser flows: %d passed, %d failed, %d skipped", c[browser.Passed], c[browser.Failed]+c[browser.Errored], c[browser.Skipped])
			}
			fmt.Fprintf(stdout, "%-30s conformance: %s; %s\n", name+":", conf.SummaryLine(), flowsLine)
			if failed := conf.Failed(); len(failed) > 0 {
				fmt.Fprintf(stdout, "%-30s failed cases: %s\n", "", strings.Join(failed, ", "))
			}
			var failedFlows []string
			flowsOK := true
			if flows != nil {
				for _, r := range flows.NotOK() {
					failedFlows = append(failedFlows, r.ID+" on "+r.Page)
				}
				flowsOK = flows.OK()
			}
			if len(failedFlows) > 0 {
				fmt.Fprintf(stdout, "%-30s failed flows: %s\n", "", strings.Join(failedFlows, ", "))
			}
			if ok := conf.Passed() && flowsOK && conf.Summary.Warnings == 0; flawed && ok {
				badCaught = false
			} else if !flawed && !ok {
				refOK = false
			}
		}
	}

	if err := writeHTML(cfg.html, doc); err != nil {
		return fail("%v", err)
	}
	abs, _ := filepath.Abs(cfg.html)
	fmt.Fprintf(stdout, "report: %s\n", abs)
	switch {
	case !refOK:
		fmt.Fprintln(stdout, "demo: a reference backend did not pass everything; see the report")
		return exitFail
	case !badCaught:
		fmt.Fprintln(stdout, "demo: a flawed backend passed everything; its flaws went unnoticed")
		return exitFail
	}
	fmt.Fprintln(stdout, "demo: every reference backend passed everything and every flawed variant was caught. Open the report to see why each failure failed.")
	return exitOK
}

// providerDemos are the demo's hCaptcha and Turnstile runs.
var providerDemos = []struct {
	title, target, description string
	flaws                      []refbackend.Flaw
}{
	{"hCaptcha", "refbackend-hcaptcha-enterprise.yaml",
		"The built-in reference integration (Go) for hCaptcha Enterprise: it sends its sitekey, reads the risk score on hCaptcha's scale (1 is a bot), checks the hostname, verifies each token once and fails closed.",
		[]refbackend.Flaw{refbackend.FlawScoreNotInverted, refbackend.FlawNoSitekey}},
	{"Turnstile", "refbackend-turnstile.yaml",
		"The built-in reference integration (Go) for Cloudflare Turnstile: it checks hostname, action and cdata, verifies each token once, retries a lost answer once with the same idempotency_key and fails closed.",
		[]refbackend.Flaw{refbackend.FlawNoCDataCheck, refbackend.FlawRetryWithoutKey}},
	{"Enterprise", "refbackend-enterprise.yaml",
		"The built-in reference integration (Go) for reCAPTCHA Enterprise: it creates an assessment in its project with the API key in x-goog-api-key, rejects valid:false whatever the score, checks score, action, hostname and the classification reasons it refuses (AUTOMATION, TOO_MUCH_TRAFFIC), takes Google's error envelope for an outage and fails closed.",
		// Server-side bugs: the catalog finds them; the page still works.
		[]refbackend.Flaw{refbackend.FlawIgnoresValidFalse, refbackend.FlawIgnoresReasons, refbackend.FlawLogsAPIKeyInURL}},
}

// demoProvider serves the reference backend of tpl with the given flaws,
// runs the catalog against it and the browser flows against its pages (a
// nil report when it has none).
func demoProvider(ctx context.Context, mock *mockserver.Server, b *browser.Browser, tpl *target.Target, name string,
	flaws []refbackend.Flaw, prog *progress) (suite.Report, *browser.Report, error) {
	be, err := startDemoBackend(mock, tpl, name, flaws)
	if err != nil {
		return suite.Report{}, nil, err
	}
	defer be.stop()
	cases, err := suite.Select(nil, "")
	if err != nil {
		return suite.Report{}, nil, err
	}
	n := 0
	conf, err := suite.Run(ctx, suite.Config{Target: be.target, Mock: mock, OnResult: func(r suite.Result) {
		n++
		prog.step("conformance: "+name, n, len(cases), r.ID+" "+r.Title)
	}})
	if err != nil {
		return conf, nil, fmt.Errorf("conformance run: %w", err)
	}
	conf.TargetOutput = be.output.String()
	t := be.target
	pages := pagesFromTarget(t, mockserver.Site{SiteKey: t.SiteKey, Secret: t.Secret, Kind: t.Kind})
	if len(pages) == 0 {
		return conf, nil, nil
	}
	total := len(browser.Flows()) * len(pages)
	n = 0
	flows, err := browser.Run(ctx, browser.Config{Mock: mock, Browser: b, Pages: pages, Logf: func(format string, args ...any) {
		n++
		prog.step("browser flows: "+name, n, total, fmt.Sprintf(format, args...))
	}})
	if err != nil {
		return conf, &flows, fmt.Errorf("browser flows: %w", err)
	}
	conf.TargetOutput = be.output.String()
	return conf, &flows, nil
}

// builtinTarget is an embedded target file of the reference backend.
func builtinTarget(name string) (*target.Target, error) {
	data, err := targets.FS.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read the built-in target %s: %w", name, err)
	}
	return target.Parse(data, name+" (built in)")
}

// demoBackend is the reference backend running in this process for one
// target of the demo.
type demoBackend struct {
	target *target.Target // placeholders expanded, no start section
	output lockedBuffer
	srv    *http.Server
}

// startDemoBackend serves the reference backend described by tpl, with the
// given flaws, on a free loopback port, and registers its site on the mock.
func startDemoBackend(mock *mockserver.Server, tpl *target.Target, name string, flaws []refbackend.Flaw) (*demoBackend, error) {
	site := mockserver.Site{SiteKey: tpl.SiteKey, Secret: tpl.Secret, Kind: tpl.Kind}
	verifyURL, project := mock.URL()+tpl.ProviderValue().VerifyPath(), ""
	if tpl.ProviderValue() == mockserver.Enterprise {
		// The key is its project's: the backend calls that project's URL.
		project = tpl.Project
		site.Project, verifyURL = project, mock.URL()+"/v1/projects/"+project+"/assessments"
	}
	if _, err := mock.AddSite(context.Background(), site); err != nil {
		return nil, fmt.Errorf("register the site of %s: %w", tpl.Name, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the backend: %w", err)
	}
	t, err := tpl.Expand(target.Vars{VerifyURL: verifyURL, MockURL: mock.URL(),
		Secret: tpl.Secret, SiteKey: tpl.SiteKey, Project: project, Port: ln.Addr().(*net.TCPAddr).Port})
	if err != nil {
		ln.Close()
		return nil, err
	}
	t.Start = nil // the demo runs the backend in this process
	t.Name = name
	ep := t.Endpoints[0]
	minScore := target.DefaultMinScore
	if ep.MinScore != nil {
		minScore = *ep.MinScore
	}
	maxScore := target.DefaultMaxScore
	if ep.MaxScore != nil {
		maxScore = *ep.MaxScore
	}
	b := &demoBackend{target: t}
	handler, err := refbackend.New(refbackend.Config{
		VerifyURL: verifyURL, Secret: t.Secret, SiteKey: t.SiteKey, Kind: string(t.Kind),
		Action: ep.Action, CData: ep.CData, MinScore: minScore, MaxScore: maxScore, Hostnames: ep.Hostnames, Outage: t.Outage.Policy,
		RejectReasons: ep.RejectReasons,
		Timeout:       2 * time.Second, Flaws: flaws,
		Logger: slog.New(slog.NewTextHandler(&b.output, nil)),
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("configure the reference backend: %w", err)
	}
	b.srv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(ln) }()
	fmt.Fprintf(&b.output, "%s (%s): listening on http://%s (flaws: %s)\n", name, t.Kind, ln.Addr(), orNoneFlaws(flaws))
	return b, nil
}

func (b *demoBackend) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.srv.Shutdown(ctx)
}

// demoVariant serves the reference backend, with the given flaws, for the
// v3 target and the v2-checkbox one; runs the catalog against the v3 one
// and the browser flows against both pages; and stops them.
func demoVariant(ctx context.Context, mock *mockserver.Server, b *browser.Browser, v3, v2 *target.Target,
	name string, flaws []refbackend.Flaw, prog *progress) (suite.Report, browser.Report, error) {
	var backends []*demoBackend
	defer func() {
		for _, be := range backends {
			be.stop()
		}
	}()
	for _, tpl := range []*target.Target{v3, v2} {
		be, err := startDemoBackend(mock, tpl, name, flaws)
		if err != nil {
			return suite.Report{}, browser.Report{}, err
		}
		backends = append(backends, be)
	}
	output := func() string {
		var out strings.Builder
		for _, be := range backends {
			out.WriteString(be.output.String())
		}
		return out.String()
	}

	cases, err := suite.Select(nil, "")
	if err != nil {
		return suite.Report{}, browser.Report{}, err
	}
	n := 0
	conf, err := suite.Run(ctx, suite.Config{Target: backends[0].target, Mock: mock, OnResult: func(r suite.Result) {
		n++
		prog.step("conformance: "+name, n, len(cases), r.ID+" "+r.Title)
	}})
	if err != nil {
		return conf, browser.Report{}, fmt.Errorf("conformance run: %w", err)
	}

	var pages []browser.Page
	for _, be := range backends {
		t := be.target
		pages = append(pages, pagesFromTarget(t, mockserver.Site{SiteKey: t.SiteKey, Secret: t.Secret, Kind: t.Kind})...)
	}
	total := len(browser.Flows()) * len(pages) // Run reports every flow on every page, skipped ones too
	n = 0
	flows, err := browser.Run(ctx, browser.Config{Mock: mock, Browser: b, Pages: pages, Logf: func(format string, args ...any) {
		n++
		prog.step("browser flows: "+name, n, total, fmt.Sprintf(format, args...))
	}})
	if err != nil {
		return conf, flows, fmt.Errorf("browser flows: %w", err)
	}
	conf.TargetOutput = output()
	return conf, flows, nil
}

func orNoneFlaws(fs []refbackend.Flaw) string {
	if len(fs) == 0 {
		return "none"
	}
	return joinFlaws(fs)
}

// writeHTML writes the report, creating its directory.
func writeHTML(path string, doc htmlreport.Document) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("write the HTML report: %w", err)
		}
	}
	var buf bytes.Buffer
	if err := htmlreport.Write(&buf, doc); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write the HTML report: %w", err)
	}
	return nil
}

// lockedBuffer collects a backend's log lines from its handler goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
