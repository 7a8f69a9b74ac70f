package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/siteverify/siteverify/browser"
	"github.com/siteverify/siteverify/cmd/siteverify/internal/htmlreport"
	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/mockserver/intercept"
	"github.com/siteverify/siteverify/suite"
	"github.com/siteverify/siteverify/suite/target"
)

func browseSettings() []option {
	return []option{
		{flag: "target", env: "SITEVERIFY_TARGET", usage: "target file with a pages section (required)"},
		{flag: "flow", env: "SITEVERIFY_FLOWS", usage: "comma-separated flow IDs to run, e.g. FLOW-001,FLOW-003 (default all)"},
		{flag: "chrome", env: "SITEVERIFY_CHROME", usage: "Chromium or Chrome binary (default: CHROME_PATH, then the usual paths)"},
		{flag: "out", env: "SITEVERIFY_OUT", def: "out/browse", usage: "directory for report.json and the screenshots of failed flows"},
		{flag: "html", env: "SITEVERIFY_HTML", usage: "also write a self-contained HTML report (screenshots embedded) to this file"},
		{flag: "mock-url", env: "SITEVERIFY_MOCK_URL", usage: "drive a running `siteverify serve` at this base URL instead of an in-process mock"},
		{flag: "admin-token", env: "SITEVERIFY_ADMIN_TOKEN", usage: "bearer token for the --mock-url admin API"},
		{flag: "timeout", env: "SITEVERIFY_TIMEOUT", def: "10m", usage: "bound on the whole run, backend start included"},
		{flag: "staging", env: "SITEVERIFY_STAGING", boolean: true, usage: "run against the real Google script and staging keys, no interception (needs a network)"},
		{flag: "staging-sitekey", env: "SITEVERIFY_STAGING_SITEKEY", usage: "staging mode: the sitekey the pages use (default: the target's sitekey)"},
		{flag: "staging-secret", env: "SITEVERIFY_STAGING_SECRET", usage: "staging mode: the secret a started backend gets (default: the target's secret)"},
		{flag: "staging-probe", env: "SITEVERIFY_STAGING_PROBE", def: browser.StagingScriptURL, usage: "staging mode: URL fetched first to fail fast without a network"},
		{flag: "impersonate", env: "SITEVERIFY_IMPERSONATE", boolean: true, usage: "staging mode: run against an in-process mock impersonating the provider on its real URLs (forward proxy + the mock's CA; no network needed): the browser goes through the proxy trusting only that CA, a started backend gets HTTPS_PROXY and the CA variables"},
		caDirOption,
	}
}

func browseUsage(w io.Writer) {
	fmt.Fprintf(w, `usage: siteverify browse --target FILE [flags]

Drives headless Chromium through each page of the target file's pages
section: the page loads the reCAPTCHA script, gets a token, submits it, and
the backend verifies it. Google's script URLs are answered by the mock's
client script, so the pages run unchanged with no network. The target's
backend is started as for conform. Each flag can also be set from its
environment variable; a flag wins over the variable.

--staging runs the staging code path: the provider's real script, no
interception in the browser, the staging sitekey, and a backend calling the
provider's real siteverify URL (the target's {{verify_url}}). Against the real
provider it needs a network. With --impersonate it runs offline against a mock
impersonating the provider on its real URLs, through a forward proxy with the
mock's CA (--ca-dir): the report says so, and also checks, from that mock's
journal, that the backend verified the page's token once with the staging
sitekey's secret.

`)
	printOptions(w, browseSettings())
	fmt.Fprintf(w, "\nFlows:\n")
	for _, f := range browser.Flows() {
		kinds := make([]string, len(f.Kinds))
		for i, k := range f.Kinds {
			kinds[i] = string(k)
		}
		fmt.Fprintf(w, "  %s  %s [%s]\n", f.ID, f.Title, strings.Join(kinds, ", "))
	}
	fmt.Fprintf(w, "\nExit codes: 0 every flow passed, 1 a flow failed, 2 usage or configuration error, 3 the run could\nnot happen (no Chromium, no network in staging mode, the mock unreachable, the backend never\nstarted); report.json and the HTML report are written then too, with an error per flow.\n")
}

// browseConfig is a validated `siteverify browse` configuration.
type browseConfig struct {
	target         string
	flows          []string
	chrome         string
	out            string
	html           string
	mockURL        string
	adminToken     string
	timeout        time.Duration
	staging        bool
	stagingSitekey string
	stagingSecret  string
	stagingProbe   string
	impersonate    bool
	caDir          string
}

func loadBrowseConfig(args []string, env func(string) string) (browseConfig, error) {
	o, err := parseOptions("browse", browseSettings(), args, env)
	if err != nil {
		return browseConfig{}, err
	}
	if len(o.args) > 0 {
		return browseConfig{}, fmt.Errorf("browse takes no arguments, got %q (see siteverify help browse)", o.args)
	}
	var cfg browseConfig
	if cfg.target = o.str("target"); cfg.target == "" {
		return cfg, errors.New("--target is required: the target file whose pages section lists the pages to drive (see siteverify help browse)")
	}
	if v, s := o.get("flow"); v != "" {
		for _, id := range strings.Split(v, ",") {
			id = strings.TrimSpace(id)
			if id == "" {
				continue
			}
			f, ok := browser.Lookup(id)
			if !ok {
				return cfg, fmt.Errorf("%s: unknown flow %q (known: %s)", s, id, strings.Join(browser.FlowIDs(), ", "))
			}
			cfg.flows = append(cfg.flows, f.ID)
		}
	}
	cfg.chrome = o.str("chrome")
	cfg.out = o.str("out")
	cfg.html = o.str("html")
	cfg.mockURL = o.str("mock-url")
	cfg.adminToken = o.str("admin-token")
	v, s := o.get("timeout")
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return cfg, fmt.Errorf("%s=%q: want a positive duration such as 10m", s, v)
	}
	cfg.timeout = d
	if cfg.staging, err = o.boolean("staging"); err != nil {
		return cfg, err
	}
	cfg.stagingSitekey = o.str("staging-sitekey")
	cfg.stagingSecret = o.str("staging-secret")
	cfg.stagingProbe = o.str("staging-probe")
	if cfg.staging && cfg.mockURL != "" {
		return cfg, errors.New("--staging and --mock-url exclude each other: staging mode uses Google, not a mock")
	}
	if cfg.impersonate, err = o.boolean("impersonate"); err != nil {
		return cfg, err
	}
	// The CA directory serves --impersonate, and offline a target that
	// reaches the mock on the providers' real URLs (start.use_proxy...);
	// empty leaves the session its default.
	cfg.caDir = o.str("ca-dir")
	if cfg.impersonate {
		if !cfg.staging {
			return cfg, errors.New("--impersonate is for --staging: an offline run is against the mock already")
		}
		if cfg.caDir, err = caDir(o); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// runBrowse is `siteverify browse`.
func runBrowse(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	cfg, err := loadBrowseConfig(args, env)
	if errors.Is(err, flag.ErrHelp) {
		browseUsage(stdout)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "siteverify browse: %v\n", err)
		return exitUsage
	}
	t, err := target.Load(cfg.target)
	if err != nil {
		fmt.Fprintf(stderr, "siteverify browse: %v\n", err)
		return exitUsage
	}
	if len(t.Pages) == 0 {
		fmt.Fprintf(stderr, "siteverify browse: %s has no pages section: add the pages to drive (url, form, submit, fields, success, rejected; see siteverify help browse)\n", cfg.target)
		return exitUsage
	}
	if cfg.staging && t.Intercepts() {
		// The session would serve its own mock on the providers' URLs, and
		// staging has none to give it.
		fmt.Fprintf(stderr, "siteverify browse: --staging: target %s asks for the providers' real URLs to be intercepted (start.use_proxy, start.resolve_providers or {{proxy_url}}, {{ca_file}}, {{tls_addr}}), which only an offline run does: "+
			"with --impersonate, browse gives a started backend the proxy and CA variables itself (drop start.use_proxy); against the real provider there is nothing to intercept\n", t.Name)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	// fail reports a run that could not happen: the reports are written
	// with an error entry per flow, and the exit code says "harness".
	fail := func(format string, args ...any) int {
		return browseHarnessError(cfg, t, fmt.Errorf(format, args...), stdout, stderr)
	}

	// Fail fast, before starting anything: no network in staging mode
	// against the real provider, no browser at all.
	if cfg.staging && !cfg.impersonate {
		if err := browser.CheckStagingNetwork(ctx, cfg.stagingProbe); err != nil {
			return fail("%w", err)
		}
	}
	chrome, err := browser.FindChrome(cfg.chrome, env)
	if err != nil {
		return fail("%w", err)
	}

	var mock mockserver.Mock
	var clientMock, impersonator mockserver.ClientMock
	var proxy *browser.Proxy
	var environ []string // nil: the backend inherits this process's environment
	switch {
	case cfg.staging:
		site := mockserver.Site{SiteKey: t.SiteKey, Secret: t.Secret, Kind: t.Kind}
		if cfg.stagingSitekey != "" {
			site.SiteKey = cfg.stagingSitekey
		}
		if cfg.stagingSecret != "" {
			site.Secret = cfg.stagingSecret
		}
		if site.SiteKey == "" {
			fmt.Fprintln(stderr, "siteverify browse: staging mode needs the staging sitekey: set it in the target (sitekey) or with --staging-sitekey")
			return exitUsage
		}
		stg := googleStaging{site: site}
		if cfg.impersonate {
			imp, srv, err := startImpersonation(cfg.caDir)
			if err != nil {
				return fail("%w", err)
			}
			defer srv.Close()
			defer imp.Close()
			stg.impersonator, impersonator, proxy = srv, srv, &imp.Proxy
			// The backend calls the provider's real URL through the proxy,
			// trusting the CA (intercept.ProxyEnv and CAEnv; later entries win).
			environ = append(os.Environ(), imp.Env()...)
			fmt.Fprintf(stderr, "siteverify browse: staging against an impersonation of the provider: proxy %s, CA %s\n", imp.Proxy.URL, imp.Proxy.CA.CertFile())
		}
		mock = stg
	case cfg.mockURL != "":
		c, err := mockserver.Dial(ctx, cfg.mockURL, mockserver.DialOptions{AdminToken: cfg.adminToken})
		if err != nil {
			return fail("%w", err)
		}
		mock, clientMock = c, c
	default:
		srv, err := mockserver.NewServer(mockserver.Options{})
		if err != nil {
			return fail("start the mock: %w", err)
		}
		defer srv.Close()
		mock, clientMock = srv, srv
	}

	session, err := suite.NewSession(ctx, suite.Config{Target: t, Mock: mock, Environ: environ, CADir: cfg.caDir})
	if err != nil {
		return fail("prepare the target: %w", err)
	}
	defer session.Close()
	pages := pagesFromTarget(session.Target(), session.Site())

	rep, err := browser.Run(ctx, browser.Config{
		Mock:            clientMock,
		BrowserOptions:  browser.Options{ChromePath: chrome},
		Pages:           pages,
		Flows:           cfg.flows,
		Staging:         cfg.staging,
		StagingProbeURL: cfg.stagingProbe,
		Proxy:           proxy,
		Impersonator:    impersonator,
		Logf:            func(format string, args ...any) { fmt.Fprintf(stderr, "siteverify browse: "+format+"\n", args...) },
	})
	if err != nil {
		if out := session.BackendOutput(); out != "" && ctx.Err() != nil {
			fmt.Fprintf(stderr, "backend output (last lines):\n%s\n", lastLines(out, 20))
		}
		return fail("%w", err)
	}
	written := writeBrowseReports(cfg, session.Target().Name, rep, session.BackendOutput(), stdout, stderr)
	if !rep.OK() {
		if out := session.BackendOutput(); out != "" {
			fmt.Fprintf(stdout, "\nbackend output (last lines):\n%s\n", lastLines(out, 20))
		}
		return exitFail
	}
	if !written {
		return exitHarness
	}
	return exitOK
}

// writeBrowseReports prints the report and writes report.json, the
// screenshots and the HTML report that were asked for; it reports whether
// every file was written.
func writeBrowseReports(cfg browseConfig, name string, rep browser.Report, backendOutput string, stdout, stderr io.Writer) bool {
	ok := true
	files, werr := writeBrowseFiles(cfg.out, rep)
	_ = rep.WriteText(stdout)
	for _, f := range files {
		fmt.Fprintf(stdout, "wrote %s\n", f)
	}
	if werr != nil {
		fmt.Fprintf(stderr, "siteverify browse: write the report files: %v\n", werr)
		ok = false
	}
	if cfg.html != "" {
		doc := htmlreport.Document{Title: "siteverify browser flows: " + name, Generated: time.Now(), Version: versionString(),
			Runs: []htmlreport.Run{{Name: name, Description: "Target file " + cfg.target + ".", Browse: &rep, BackendOutput: backendOutput}}}
		if err := writeHTML(cfg.html, doc); err != nil {
			fmt.Fprintf(stderr, "siteverify browse: %v\n", err)
			ok = false
		} else {
			fmt.Fprintf(stdout, "wrote %s\n", cfg.html)
		}
	}
	return ok
}

// browseHarnessError reports a run that could not happen (no Chromium, no
// network in staging mode, the mock unreachable, the backend never started):
// every flow that would have run is an error entry saying why, the reports
// are written all the same, and the exit code is exitHarness.
func browseHarnessError(cfg browseConfig, t *target.Target, runErr error, stdout, stderr io.Writer) int {
	fmt.Fprintf(stderr, "siteverify browse: %v\n", runErr)
	rep := browser.Report{Staging: cfg.staging, Against: browseAgainst(cfg), Started: time.Now()}
	for _, p := range t.Pages {
		kind := browser.Kind(p.Kind)
		if kind == "" {
			kind = browser.Kind(t.Kind)
		}
		for _, f := range browser.Flows() {
			if !slices.Contains(f.Kinds, kind) || (len(cfg.flows) > 0 && !slices.Contains(cfg.flows, f.ID)) {
				continue
			}
			rep.Results = append(rep.Results, browser.Result{ID: f.ID, Title: f.Title, Page: p.Name, URL: p.URL, Kind: kind,
				Status: browser.Errored, Actual: "not run: " + runErr.Error()})
		}
	}
	writeBrowseReports(cfg, t.Name, rep, "", stdout, stderr)
	return exitHarness
}

// pagesFromTarget turns the target's pages (placeholders expanded) into
// browser pages. The page's sitekey is the target's; the expected v3 action
// is the one the target's endpoints expect, when they agree on one; the
// accepted hostnames are the endpoints' hostnames.
func pagesFromTarget(t *target.Target, site mockserver.Site) []browser.Page {
	actions := map[string]bool{}
	var hostnames []string
	for _, ep := range t.Endpoints {
		if ep.Action != "" {
			actions[ep.Action] = true
		}
		for _, h := range ep.Hostnames {
			if !slices.Contains(hostnames, h) {
				hostnames = append(hostnames, h)
			}
		}
	}
	action := ""
	if len(actions) == 1 {
		for a := range actions {
			action = a
		}
	}
	out := make([]browser.Page, 0, len(t.Pages))
	for _, p := range t.Pages {
		kind := browser.Kind(p.Kind)
		if kind == "" {
			kind = browser.Kind(t.Kind)
		}
		bp := browser.Page{
			Name: p.Name, URL: p.URL, Kind: kind, Form: p.Form, Submit: p.Submit, Fields: p.Fields,
			Success:   browser.Match{Selector: p.Success.Selector, Text: p.Success.Text},
			Rejected:  browser.Match{Selector: p.Rejected.Selector, Text: p.Rejected.Text},
			SiteKey:   site.SiteKey,
			Hostnames: hostnames,
		}
		if kind == browser.KindV3 || kind == browser.KindTurnstile || kind == browser.KindEnterprise || kind == browser.KindEnterpriseCheckbox { // the kinds whose tokens carry an action
			bp.Action = action
		}
		out = append(out, bp)
	}
	return out
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// writeBrowseFiles writes report.json and one PNG per flow that did not
// pass, and returns the paths written.
func writeBrowseFiles(dir string, rep browser.Report) ([]string, error) {
	if dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, r := range rep.Results {
		if len(r.Screenshot) == 0 {
			continue
		}
		p := filepath.Join(dir, unsafeName.ReplaceAllString(r.Page+"-"+r.ID, "_")+".png")
		if err := os.WriteFile(p, r.Screenshot, 0o644); err != nil {
			return files, err
		}
		files = append(files, p)
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return files, err
	}
	p := filepath.Join(dir, "report.json")
	if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
		return files, err
	}
	return append(files, p), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// browseAgainst is what a run with cfg is against, for a report written
// when the run could not happen.
func browseAgainst(cfg browseConfig) browser.Against {
	switch {
	case !cfg.staging:
		return browser.AgainstMock
	case cfg.impersonate:
		return browser.AgainstImpersonation
	}
	return browser.AgainstProvider
}

// startImpersonation starts an in-process mock and a forward proxy on
// loopback that answers the providers' real URLs from it, with the CA kept
// in caDir.
func startImpersonation(caDir string) (*browser.Impersonation, *mockserver.Server, error) {
	ca, err := intercept.LoadCA(caDir)
	if err != nil {
		return nil, nil, fmt.Errorf("--ca-dir %s: %w", caDir, err)
	}
	srv, err := mockserver.NewServer(mockserver.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("start the impersonating mock: %w", err)
	}
	imp, err := browser.Impersonate(srv.Handler(), ca)
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	return imp, srv, nil
}

// googleStaging stands in for the mock in staging mode: placeholders expand
// to Google's URLs ({{mock_url}}/recaptcha/api.js is Google's script and
// {{verify_url}} Google's siteverify), and the site is the staging site as
// given. Nothing else is available: staging flows do not use the mock.
// With an impersonator (--impersonate), the staging site is registered on
// it, since it answers Google's URLs in Google's place.
type googleStaging struct {
	site         mockserver.Site
	impersonator *mockserver.Server
}

var errStagingNoMock = errors.New("not available in staging mode: there is no mock")

func (g googleStaging) URL() string                        { return mockserver.ReCAPTCHA.RealURL("") }
func (g googleStaging) VerifyURL() string                  { return mockserver.ReCAPTCHA.RealURL(mockserver.VerifyPath) }
func (g googleStaging) Site() mockserver.Site              { return g.site }
func (g googleStaging) ClearJournal(context.Context) error { return errStagingNoMock }
func (g googleStaging) Issue(context.Context, mockserver.TokenSpec) (mockserver.Issued, error) {
	return mockserver.Issued{}, errStagingNoMock
}
func (g googleStaging) AddSite(ctx context.Context, s mockserver.Site) (mockserver.Site, error) {
	if g.impersonator != nil {
		return g.impersonator.AddSite(ctx, s)
	}
	return s, nil
}
func (g googleStaging) Advance(context.Context, time.Duration) (time.Time, error) {
	return time.Time{}, errStagingNoMock
}
func (g googleStaging) Journal(context.Context) (mockserver.Journal, error) {
	return mockserver.Journal{}, errStagingNoMock
}
func (g googleStaging) JournalSince(context.Context, uint64) (mockserver.Journal, error) {
	return mockserver.Journal{}, errStagingNoMock
}
func (g googleStaging) AddRule(context.Context, mockserver.Rule) (mockserver.Rule, error) {
	return mockserver.Rule{}, errStagingNoMock
}
func (g googleStaging) RemoveRule(context.Context, string) error { return errStagingNoMock }
func (g googleStaging) ClearRules(context.Context) error         { return errStagingNoMock }
func (g googleStaging) Reset(context.Context) error              { return errStagingNoMock }
