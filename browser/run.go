package browser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/siteverify/siteverify/mockserver"
)

// Status is the result of one flow against one page.
type Status string

// Flow statuses.
const (
	// Passed: the page and backend did what the flow requires.
	Passed Status = "passed"
	// Failed: they did not; Actual says what happened instead.
	Failed Status = "failed"
	// Errored: the flow could not run to a verdict, e.g. a selector from the
	// target matched nothing or the page never loaded.
	Errored Status = "error"
	// Skipped: the flow does not apply (another page kind, staging mode, or
	// missing target data); Actual says why.
	Skipped Status = "skipped"
)

// Result is one flow against one page.
type Result struct {
	// ID and Title name the flow, e.g. "FLOW-003", "token held past its lifetime".
	ID    string `json:"id"`
	Title string `json:"title"`
	// Page is the page's name, URL its address and Kind its widget.
	Page string `json:"page"`
	URL  string `json:"url"`
	Kind Kind   `json:"kind"`
	// Status is the verdict.
	Status Status `json:"status"`
	// Expected is what the flow requires; Actual is what happened.
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
	// Steps is what the flow did, with times from its start.
	Steps []string `json:"steps,omitempty"`
	// Screenshot is a PNG of the page when the flow did not pass.
	Screenshot []byte `json:"screenshot,omitempty"`
	// Console is the page's console log (console API calls, uncaught
	// exceptions, browser log entries), plus any interception problems.
	Console []string `json:"console,omitempty"`
	// Journal is the mock's siteverify journal for the flow.
	Journal []mockserver.Request `json:"journal,omitempty"`
	// Mints are the tokens the page asked the mock's client script for.
	Mints []mockserver.Mint `json:"mints,omitempty"`
	// FinalURL is where the tab was when the flow ended.
	FinalURL string `json:"final_url,omitempty"`
	// Duration is how long the flow took.
	Duration time.Duration `json:"duration_ns"`
}

// OK reports whether the result is not a failure: passed or skipped.
func (r Result) OK() bool { return r.Status == Passed || r.Status == Skipped }

// JournalDump formats the flow's siteverify journal for a human.
func (r Result) JournalDump() string { return mockserver.Dump(r.Journal) }

// Report is the outcome of a run.
type Report struct {
	// Browser is the browser's product string.
	Browser string `json:"browser"`
	// Staging is true for a run of the staging code path: the provider's
	// real script, no interception in the browser, staging sitekeys.
	Staging bool `json:"staging"`
	// Against says what answered the providers' URLs: the mock (offline),
	// a mock impersonating the provider on its real URLs (staging in
	// tests), or the real provider.
	Against Against `json:"against"`
	// Proxy is the forward proxy the browser reached the providers' real
	// URLs through, "" when none.
	Proxy string `json:"proxy,omitempty"`
	// Started is when the run began; Duration how long it took, browser
	// start included.
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	// Results are in page order, then flow order.
	Results []Result `json:"results"`
}

// Against is what answered the providers' URLs in a run.
type Against string

// What a run was against.
const (
	// AgainstMock: an offline run; the providers' URLs were answered by the
	// mock, in the browser (DevTools interception) or through its proxy.
	AgainstMock Against = "mock"
	// AgainstImpersonation: the staging code path, with the providers'
	// real URLs answered by a mock impersonating the provider (its forward
	// proxy and CA), for the browser and the backend alike.
	AgainstImpersonation Against = "impersonation"
	// AgainstProvider: the staging code path against the real provider,
	// over the network.
	AgainstProvider Against = "real provider"
)

// against is what a run with cfg is against.
func (cfg Config) against() Against {
	switch {
	case !cfg.Staging:
		return AgainstMock
	case cfg.Proxy != nil:
		return AgainstImpersonation
	}
	return AgainstProvider
}

// Mode describes the run in a few words, e.g. "staging, against an
// impersonation of the provider, not the real provider: the mock on its real
// URLs through the proxy http://127.0.0.1:41234". The report's first line
// says it, so that nobody takes a run against an impersonation for one
// against the real provider.
func (r Report) Mode() string {
	switch {
	case r.Against == AgainstImpersonation:
		return "staging, against an impersonation of the provider, not the real provider: the mock on its real URLs through the proxy " + r.Proxy
	case r.Staging:
		return "staging, against the real provider"
	case r.Proxy != "":
		return "offline, against the mock: the providers' real URLs through its proxy " + r.Proxy
	}
	return "offline, against the mock"
}

// OK reports whether no flow failed or errored.
func (r Report) OK() bool {
	for _, x := range r.Results {
		if !x.OK() {
			return false
		}
	}
	return true
}

// NotOK returns the failed and errored results.
func (r Report) NotOK() []Result {
	var out []Result
	for _, x := range r.Results {
		if !x.OK() {
			out = append(out, x)
		}
	}
	return out
}

// IDs returns the flow IDs with the given status on the named page (every
// page when page is empty), in order.
func (r Report) IDs(page string, status Status) []string {
	var out []string
	for _, x := range r.Results {
		if (page == "" || x.Page == page) && x.Status == status {
			out = append(out, x.ID)
		}
	}
	return out
}

// Counts returns how many results have each status.
func (r Report) Counts() map[Status]int {
	m := map[Status]int{}
	for _, x := range r.Results {
		m[x.Status]++
	}
	return m
}

// WriteText writes a human-readable report: one line per result, then the
// details of each result that did not pass (expected, actual, steps,
// console, journal). Screenshots are not written; see Result.Screenshot.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "browser flows (%s; %s)\n", r.Mode(), r.Browser)
	for _, x := range r.Results {
		fmt.Fprintf(&b, "  %-8s %-8s %-16s %s (%.2fs)\n", strings.ToUpper(string(x.Status)), x.ID, x.Page, x.Title, x.Duration.Seconds())
		if x.Status == Skipped && x.Actual != "" {
			fmt.Fprintf(&b, "           skipped: %s\n", x.Actual)
		}
	}
	for _, x := range r.NotOK() {
		fmt.Fprintf(&b, "\n%s %s on %s (%s): %s\n", x.ID, x.Title, x.Page, x.URL, strings.ToUpper(string(x.Status)))
		fmt.Fprintf(&b, "  expected: %s\n  actual:   %s\n", x.Expected, x.Actual)
		if len(x.Steps) > 0 {
			b.WriteString("  steps:\n")
			for _, s := range x.Steps {
				fmt.Fprintf(&b, "    %s\n", s)
			}
		}
		b.WriteString("  console:\n")
		if len(x.Console) == 0 {
			b.WriteString("    (empty)\n")
		}
		for _, s := range x.Console {
			fmt.Fprintf(&b, "    %s\n", s)
		}
		if !r.Staging || r.Against == AgainstImpersonation {
			b.WriteString("  siteverify journal:\n")
			for _, line := range strings.Split(strings.TrimRight(x.JournalDump(), "\n"), "\n") {
				fmt.Fprintf(&b, "  %s\n", line)
			}
			if len(x.Mints) > 0 {
				b.WriteString("  tokens minted for the page:\n")
				for _, m := range x.Mints {
					fmt.Fprintf(&b, "    #%d %s sitekey=%s kind=%s action=%q hostname=%q page=%q", m.Seq, m.Time.Format("15:04:05.000"), abbrev(m.SiteKey), m.Kind, m.Action, m.Hostname, m.Page)
					if m.Score != nil {
						fmt.Fprintf(&b, " score=%v", *m.Score)
					}
					if m.Error != "" {
						fmt.Fprintf(&b, " error=%q", m.Error)
					} else {
						fmt.Fprintf(&b, " token=%s", abbrev(m.Token))
					}
					b.WriteString("\n")
				}
			}
		}
		if len(x.Screenshot) > 0 {
			fmt.Fprintf(&b, "  screenshot: %d bytes PNG\n", len(x.Screenshot))
		}
	}
	c := r.Counts()
	fmt.Fprintf(&b, "\n%d passed, %d failed, %d errors, %d skipped in %.1fs\n", c[Passed], c[Failed], c[Errored], c[Skipped], r.Duration.Seconds())
	_, err := io.WriteString(w, b.String())
	return err
}

// StagingScriptURL is Google's script, which staging mode loads for real.
var StagingScriptURL = mockserver.ReCAPTCHA.RealURL(mockserver.ScriptPath)

// Config configures Run.
type Config struct {
	// Mock is the mock the pages' backend verifies against. Required offline;
	// unused in staging mode. *mockserver.Server and a *mockserver.Client
	// from mockserver.Dial both work.
	Mock mockserver.ClientMock
	// Browser runs the flows; nil means Run launches one with
	// BrowserOptions and closes it when done. Share one between runs to
	// pay for the browser's start once.
	Browser        *Browser
	BrowserOptions Options
	// Pages are the pages to test.
	Pages []Page
	// Flows selects flows by ID; empty means every flow.
	Flows []string
	// Staging runs the staging code path: the real provider script URL,
	// no interception in the browser, the pages' staging sitekeys, and a
	// backend that calls the provider's real verify URL. Flows that need the
	// mock are skipped. Against the real provider (no Proxy) it needs a
	// network and fails fast without one.
	Staging bool
	// StagingProbeURL is fetched before a staging run to fail fast without a
	// network (or without the proxy); empty means StagingScriptURL.
	StagingProbeURL string
	// Proxy, when set, is the forward proxy through which the browser
	// reaches the providers' real URLs, answered by a mock (see
	// [Impersonate]); the browser trusts the proxy's CA for the run. Offline
	// it replaces the interception in the browser (Mock must be the mock
	// behind the proxy); in staging mode it makes the run one against an
	// impersonation of the provider. A Browser given must have been
	// launched with the same proxy.
	Proxy *Proxy
	// Impersonator, in staging mode with a Proxy, is the mock behind the
	// proxy. Only its siteverify journal is read, for the lifecycle checks
	// a real provider cannot show: the page's token verified exactly once
	// by the backend, with the secret of the page's sitekey.
	Impersonator mockserver.ClientMock
	// FlowTimeout bounds each flow; 0 means 30 s.
	FlowTimeout time.Duration
	// Logf, when set, gets a line per finished flow.
	Logf func(format string, args ...any)
}

// ErrNoNetwork wraps the error of a staging run that cannot reach Google.
var ErrNoNetwork = errors.New("staging mode needs network access to Google")

// Run runs the selected flows against every page, one fresh browser context
// per flow, one after the other (flows move the mock's clock and script its
// scores, so they do not overlap). A flow's failure is in the report; the
// error is for runs that cannot start: bad configuration, no Chromium, or
// staging mode without a network.
func Run(ctx context.Context, cfg Config) (Report, error) {
	rep := Report{Staging: cfg.Staging, Against: cfg.against(), Started: time.Now()}
	if cfg.Proxy != nil {
		rep.Proxy = cfg.Proxy.URL
	}
	if err := validatePages(cfg.Pages); err != nil {
		return rep, err
	}
	flows, err := selectFlows(cfg.Flows)
	if err != nil {
		return rep, err
	}
	switch {
	case !cfg.Staging && cfg.Mock == nil:
		return rep, errors.New("browser flows need a mock (Config.Mock), or staging mode")
	case cfg.Impersonator != nil && (!cfg.Staging || cfg.Proxy == nil):
		return rep, errors.New("the impersonator (Config.Impersonator) is for staging mode against an impersonation: set Staging and Proxy too")
	case cfg.Proxy != nil:
		if err := cfg.Proxy.validate(); err != nil {
			return rep, err
		}
		if cfg.Browser != nil && (cfg.Browser.Proxy() == nil || cfg.Browser.Proxy().URL != cfg.Proxy.URL) {
			return rep, fmt.Errorf("the browser was not launched with the proxy %s (Config.Proxy): launch it with Options.Proxy", cfg.Proxy.URL)
		}
		if err := checkProxy(ctx, cfg.Proxy, cfg.StagingProbeURL); err != nil {
			return rep, err
		}
	case cfg.Browser != nil && cfg.Browser.Proxy() != nil:
		// Its requests would reach the proxy's mock, while the report says
		// otherwise.
		return rep, fmt.Errorf("the browser was launched with the proxy %s: set Config.Proxy to it too", cfg.Browser.Proxy().URL)
	case cfg.Staging:
		if err := CheckStagingNetwork(ctx, cfg.StagingProbeURL); err != nil {
			return rep, err
		}
	}
	b := cfg.Browser
	if b == nil {
		opts := cfg.BrowserOptions
		opts.Proxy = cfg.Proxy
		if b, err = Launch(ctx, opts); err != nil {
			return rep, err
		}
		defer b.Close()
	}
	rep.Browser = b.Version()
	for _, p := range cfg.Pages {
		for _, f := range flows {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			r := runFlow(ctx, b, cfg, p, f)
			rep.Results = append(rep.Results, r)
			if cfg.Logf != nil {
				line := fmt.Sprintf("%s %s %s: %s (%.2fs)", r.ID, r.Page, r.Title, r.Status, r.Duration.Seconds())
				if r.Status != Passed {
					line += ": " + r.Actual
				}
				cfg.Logf("%s", line)
			}
		}
	}
	rep.Duration = time.Since(rep.Started)
	return rep, nil
}

func selectFlows(ids []string) ([]Flow, error) {
	if len(ids) == 0 {
		return Flows(), nil
	}
	var out []Flow
	for _, id := range ids {
		f, ok := Lookup(strings.TrimSpace(id))
		if !ok {
			return nil, fmt.Errorf("unknown flow %q (known: %s)", id, strings.Join(FlowIDs(), ", "))
		}
		if !slices.ContainsFunc(out, func(g Flow) bool { return g.ID == f.ID }) {
			out = append(out, f)
		}
	}
	return out, nil
}

// runFlow runs one flow against one page in a fresh browser context.
func runFlow(ctx context.Context, b *Browser, cfg Config, p Page, f Flow) (res Result) {
	res = Result{ID: f.ID, Title: f.Title, Page: p.Name, URL: p.URL, Kind: p.Kind}
	switch {
	case !f.appliesTo(p.Kind):
		res.Status, res.Actual = Skipped, f.SkipReason(p.Kind)
		return res
	case cfg.Staging && (f.Offline || p.Kind != KindV3):
		res.Status, res.Actual = Skipped, "needs the mock (its clock, scripted scores or widget); runs offline only"
		return res
	}
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	// The providers' URLs are answered in the browser only offline without
	// a proxy; through a proxy, and in staging mode, they go to the network
	// (the proxy's impersonating mock, or the real provider).
	mockURL := ""
	var mock, jnl mockserver.ClientMock
	if !cfg.Staging {
		mock, jnl = cfg.Mock, cfg.Mock
		if cfg.Proxy == nil {
			mockURL = cfg.Mock.URL()
		}
	} else if cfg.Impersonator != nil {
		jnl = cfg.Impersonator
	}
	t, closeTab, err := b.openTab(ctx, mockURL)
	if err != nil {
		res.Status, res.Actual = Errored, err.Error()
		return res
	}
	defer closeTab()
	timeout := cfg.FlowTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	fctx, cancel := context.WithTimeout(t.ctx, timeout)
	defer cancel()
	fr := &flowRun{ctx: fctx, tab: t, page: p, mock: mock, jnl: jnl, staging: cfg.Staging, started: start}
	if jnl != nil {
		if j, err := jnl.JournalSince(ctx, math.MaxUint64); err == nil { // no entries, just the newest seq
			fr.startJnl = j.LastSeq()
		}
	}
	if mock != nil {
		if ms, err := mock.Mints(ctx); err == nil && len(ms) > 0 {
			fr.startMnt = ms[len(ms)-1].Seq
		}
	}
	err = f.run(fr)
	res.Expected, res.Steps = fr.expected, fr.steps
	var pass *passed
	var fail *failure
	var sk *skip
	switch {
	case errors.As(err, &pass):
		res.Status, res.Actual = Passed, pass.actual
	case errors.As(err, &fail):
		res.Status, res.Actual = Failed, fail.actual
	case errors.As(err, &sk):
		res.Status, res.Actual = Skipped, sk.reason
	case err == nil:
		res.Status = Passed
	default:
		res.Status, res.Actual = Errored, err.Error()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			res.Actual = fmt.Sprintf("the flow did not finish within %v: %v", timeout, err)
		}
	}
	if res.Status != Skipped {
		res.Journal, res.Mints = fr.journal(), fr.mints()
	}
	if res.Status == Failed || res.Status == Errored {
		res.Screenshot = screenshot(t.ctx)
	}
	if u, err := evaluate[string](t.ctx, time.Second, `location.href`); err == nil {
		res.FinalURL = u
	}
	time.Sleep(20 * time.Millisecond) // let the last console events arrive
	res.Console = t.consoleLines()
	return res
}

// screenshot captures the tab's viewport as PNG, nil if that fails.
func screenshot(ctx context.Context) []byte {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(c, chromedp.CaptureScreenshot())
	if err != nil {
		return nil
	}
	return png
}

func joinKinds(ks []Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, " and ")
}

// CheckStagingNetwork fails fast, within five seconds, when Google's script
// (or probe, when set) cannot be fetched, so a staging run without a network
// says so at once instead of timing out flow after flow. Its errors wrap
// ErrNoNetwork.
func CheckStagingNetwork(ctx context.Context, probe string) error {
	if probe == "" {
		probe = StagingScriptURL
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, probe, nil)
	if err != nil {
		return fmt.Errorf("%w: probe %s: %v", ErrNoNetwork, probe, err)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: cannot reach %s: %v (is this machine offline? run without --staging, or with --staging --impersonate, to test against the offline mock)", ErrNoNetwork, probe, err)
	}
	resp.Body.Close()
	return nil
}
