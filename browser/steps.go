package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/siteverify/siteverify/mockserver"
)

// Step timeouts. A missing selector fails its step after stepTimeout instead
// of using up the flow's whole budget.
const (
	stepTimeout    = 5 * time.Second
	outcomeTimeout = 10 * time.Second
	settleTimeout  = 5 * time.Second
	pollEvery      = 25 * time.Millisecond
)

// flowRun is one flow against one page, in its own tab.
type flowRun struct {
	ctx  context.Context // the tab's context, bounded by the flow timeout
	tab  *tab
	page Page
	mock mockserver.ClientMock // nil in staging mode
	// jnl is whose siteverify journal the flow reads: the mock offline,
	// the impersonating mock in staging mode against one, else nil.
	jnl      mockserver.ClientMock
	staging  bool
	steps    []string
	started  time.Time
	startJnl uint64
	startMnt uint64
	expected string
}

// failure is a flow's verdict that the page or backend misbehaved.
type failure struct{ actual string }

func (f *failure) Error() string { return f.actual }

func failf(format string, args ...any) error {
	return &failure{actual: fmt.Sprintf(format, args...)}
}

// skip means the flow does not apply.
type skip struct{ reason string }

func (s *skip) Error() string { return s.reason }

// passed carries what a passing flow saw.
type passed struct{ actual string }

func (p *passed) Error() string { return p.actual }

func passf(format string, args ...any) error { return &passed{actual: fmt.Sprintf(format, args...)} }

func (fr *flowRun) step(format string, args ...any) {
	fr.steps = append(fr.steps, fmt.Sprintf("%6.2fs  ", time.Since(fr.started).Seconds())+fmt.Sprintf(format, args...))
}

// within runs actions with a step timeout, wrapping the error with what the
// step was.
func (fr *flowRun) within(d time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(fr.ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		if errors.Is(err, context.DeadlineExceeded) && fr.ctx.Err() == nil {
			return fmt.Errorf("%s: nothing happened within %v", what, d)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func evaluate[T any](ctx context.Context, d time.Duration, expr string) (T, error) {
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return chromedp.Run(c, chromedp.Evaluate[T](expr))
}

// js quotes v as a JavaScript literal.
func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// open loads the page and waits until it has settled: loaded, and the
// captcha script (if the page loaded it) idle, so a page that fetches its
// token at load time has it.
func (fr *flowRun) open() error {
	fr.step("open %s", fr.page.URL)
	ctx, cancel := context.WithTimeout(fr.ctx, 15*time.Second)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(fr.page.URL))
	if err != nil {
		return fmt.Errorf("open %s: %w", fr.page.URL, err)
	}
	if resp != nil && resp.Status >= 400 {
		return fmt.Errorf("open %s: the page answered HTTP %d", fr.page.URL, resp.Status)
	}
	fr.step("loaded (HTTP %d)", statusOf(resp))
	if err := fr.settle(); err != nil {
		return err
	}
	fr.step("settled")
	form := fr.page.Form
	if form == "" {
		form = "form"
	}
	return fr.within(stepTimeout, "find the form "+form, chromedp.WaitReady(chromedp.CSS(form)))
}

func statusOf(r *network.Response) int64 {
	if r == nil {
		return 0
	}
	return r.Status
}

// settle waits until the document is complete and the mock script (if any)
// has no token request in flight.
func (fr *flowRun) settle() error {
	deadline := time.Now().Add(settleTimeout)
	expr := `document.readyState === "complete" && (!window.__siteverify || window.__siteverify.idle())`
	for {
		ok, err := evaluate[bool](fr.ctx, time.Second, expr)
		if err == nil && ok {
			return nil
		}
		if fr.ctx.Err() != nil {
			return fr.ctx.Err()
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("wait for the page to settle: %w", err)
			}
			return fmt.Errorf("wait for the page to settle: the captcha script still had a token request in flight after %v", settleTimeout)
		}
		time.Sleep(pollEvery)
	}
}

// fill types the page's fields, in selector order.
func (fr *flowRun) fill() error {
	sels := make([]string, 0, len(fr.page.Fields))
	for s := range fr.page.Fields {
		sels = append(sels, s)
	}
	sort.Strings(sels)
	for _, s := range sels {
		fr.step("type into %s", s)
		// Focus and KeyEvent rather than SendKeys: chromedp v0.22.1's SendKeys
		// reads the node's attributes unlocked while the attribute event that
		// Clear causes may be writing them (a data race under -race).
		if err := fr.within(stepTimeout, "fill "+s, chromedp.Clear(chromedp.CSS(s)),
			chromedp.Focus(chromedp.CSS(s), chromedp.NodeVisible), chromedp.KeyEvent(fr.page.Fields[s])); err != nil {
			return err
		}
	}
	return nil
}

// widgetEvents returns the mock script's event log (empty in staging mode).
type widgetEvent struct {
	Type   string          `json:"type"`
	Widget any             `json:"widget"` // a number (reCAPTCHA) or a string (hCaptcha, Turnstile)
	Detail json.RawMessage `json:"detail"`
}

func (fr *flowRun) widgetEvents() []widgetEvent {
	ev, err := evaluate[[]widgetEvent](fr.ctx, 2*time.Second, `window.__siteverify ? window.__siteverify.events() : []`)
	if err != nil {
		return nil
	}
	return ev
}

func countEvents(evs []widgetEvent, typ string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// solve gets the page's widget a token the way a user does: clicks the
// checkbox of a v2 checkbox or hCaptcha page, waits for the Turnstile
// widget, which solves at render; nothing for v3 and v2 invisible pages,
// which ask at submit. It reports whether the page's callback ran.
func (fr *flowRun) solve() (callback bool, err error) {
	switch {
	case fr.page.Kind.checkboxWidget():
		return fr.solveCheckbox()
	case fr.page.Kind == KindTurnstile:
		return fr.waitWidgetToken()
	}
	return false, nil
}

// waitWidgetToken waits until a widget on the page holds a token (the
// Turnstile widget solves at render, and again when it renews an expired
// token). It reports whether the page's callback had run by then.
func (fr *flowRun) waitWidgetToken() (callback bool, err error) {
	fr.step("wait for the widget's token")
	expr := `(function(){var h=window.__siteverify;return !!h && !!h.widgets && h.widgets().some(function(x){return !!x.response;});})()`
	deadline := time.Now().Add(stepTimeout)
	for {
		ok, err := evaluate[bool](fr.ctx, time.Second, expr)
		if err == nil && ok {
			break
		}
		if time.Now().After(deadline) || fr.ctx.Err() != nil {
			msg := "the widget got no token within " + stepTimeout.String()
			for _, e := range fr.widgetEvents() {
				if e.Type == "error" {
					msg += "; the widget reported an error: " + strings.Trim(string(e.Detail), `"`)
				}
			}
			if p := mintProblems(fr.mints()); p != "" {
				msg += "; " + p
			}
			return false, errors.New(msg)
		}
		time.Sleep(pollEvery)
	}
	if err := fr.settle(); err != nil { // the callback runs after the token is set
		return false, err
	}
	n := countEvents(fr.widgetEvents(), "callback")
	fr.step("the widget holds a token; callback ran %d time(s)", n)
	return n > 0, nil
}

// solveCheckbox clicks the v2 checkbox and waits until it is checked, i.e.
// the widget got a token. It reports whether the page's callback ran.
func (fr *flowRun) solveCheckbox() (callback bool, err error) {
	sel := fr.page.checkbox()
	before := countEvents(fr.widgetEvents(), "callback")
	fr.step("click the checkbox %s", sel)
	if err := fr.within(stepTimeout, "click the "+fr.page.Kind.provider().String()+" checkbox "+sel, chromedp.Click(chromedp.CSS(sel))); err != nil {
		return false, err
	}
	expr := fmt.Sprintf(`(function(){var e=document.querySelector(%s);return !!e && e.getAttribute("aria-checked")==="true";})()`, js(sel))
	deadline := time.Now().Add(stepTimeout)
	for {
		ok, err := evaluate[bool](fr.ctx, time.Second, expr)
		if err == nil && ok {
			break
		}
		if time.Now().After(deadline) || fr.ctx.Err() != nil {
			msg := "the checkbox did not become checked"
			for _, e := range fr.widgetEvents() {
				if e.Type == "error" {
					msg += "; the widget reported an error: " + strings.Trim(string(e.Detail), `"`)
				}
			}
			return false, errors.New(msg)
		}
		time.Sleep(pollEvery)
	}
	after := countEvents(fr.widgetEvents(), "callback")
	fr.step("checkbox checked; callback ran: %v", after > before)
	return after > before, nil
}

// outcome is what the page showed after a submission.
type outcome string

const (
	outcomeSuccess  outcome = "success"
	outcomeRejected outcome = "rejected"
	outcomeNone     outcome = ""
)

// outcomeExpr evaluates to "success", "rejected" or "". Without a Rejected
// selector, a new document that does not show success counts as a
// rejection; markDocument tells the new document from the old one.
func (fr *flowRun) outcomeExpr(newDocument bool) string {
	rej := fr.page.Rejected
	return fmt.Sprintf(`(function(s, st, r, rt, nd){
  function m(sel, txt){ if(!sel) return false; var e=document.querySelector(sel); return !!e && (!txt || (e.textContent||"").indexOf(txt) >= 0); }
  if (nd && window.__siteverifyOldDocument) return "";
  if (m(s, st)) return "success";
  if (m(r, rt)) return "rejected";
  if (!r && !window.__siteverifyOldDocument && document.readyState === "complete") return "rejected";
  return "";
})(%s, %s, %s, %s, %t)`, js(fr.page.Success.Selector), js(fr.page.Success.Text), js(rej.Selector), js(rej.Text), newDocument)
}

// markDocument marks the current document, so a navigation is visible.
func (fr *flowRun) markDocument() {
	_, _ = evaluate[bool](fr.ctx, time.Second, `window.__siteverifyOldDocument = true`)
}

// currentURL is the tab's URL, "" if unknown.
func (fr *flowRun) currentURL() string {
	u, err := evaluate[string](fr.ctx, time.Second, `location.href`)
	if err != nil {
		return ""
	}
	return u
}

// submit clicks the submit control and waits for the page to show success
// or rejection.
func (fr *flowRun) submit() (outcome, error) {
	fr.markDocument()
	if o, _ := evaluate[string](fr.ctx, time.Second, fr.outcomeExpr(false)); o != "" {
		return "", fmt.Errorf("the page already shows %s before submitting: make the success and rejected selectors specific to the result", o)
	}
	fr.step("click %s", fr.page.Submit)
	if err := fr.within(stepTimeout, "click the submit control "+fr.page.Submit, chromedp.Click(chromedp.CSS(fr.page.Submit))); err != nil {
		return "", err
	}
	return fr.waitOutcome(false)
}

// waitOutcome polls until success or rejection shows, across the
// navigation that a form post causes. With newDocument, only a document
// loaded after markDocument counts.
func (fr *flowRun) waitOutcome(newDocument bool) (outcome, error) {
	deadline := time.Now().Add(outcomeTimeout)
	for {
		o, err := evaluate[string](fr.ctx, time.Second, fr.outcomeExpr(newDocument))
		if err == nil && o != "" {
			fr.step("the page shows %s (%s)", o, fr.currentURL())
			return outcome(o), nil
		}
		if fr.ctx.Err() != nil {
			return "", fr.ctx.Err()
		}
		if time.Now().After(deadline) {
			snippet, _ := evaluate[string](fr.ctx, time.Second, `(document.title + " | " + (document.body ? document.body.innerText : "")).replace(/\s+/g, " ").slice(0, 200)`)
			fr.step("neither success nor rejection after %v; page: %s", outcomeTimeout, snippet)
			return outcomeNone, nil
		}
		time.Sleep(pollEvery)
	}
}

// formPair is one field of a form post, in order.
type formPair struct {
	Name  string `json:"n"`
	Value string `json:"v"`
}

// parsePost splits a captured form post into its fields, in order, and says
// which enctype to replay it with.
func parsePost(s Submission) ([]formPair, string, error) {
	mt, params, _ := mime.ParseMediaType(s.ContentType)
	switch mt {
	case "", "application/x-www-form-urlencoded":
		var out []formPair
		for _, kv := range strings.Split(string(s.Body), "&") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			kk, err1 := url.QueryUnescape(k)
			vv, err2 := url.QueryUnescape(v)
			if err1 != nil || err2 != nil {
				return nil, "", fmt.Errorf("the captured form post is not valid urlencoded data")
			}
			out = append(out, formPair{kk, vv})
		}
		return out, "application/x-www-form-urlencoded", nil
	case "multipart/form-data":
		r := multipart.NewReader(bytes.NewReader(s.Body), params["boundary"])
		var out []formPair
		for {
			p, err := r.NextPart()
			if err == io.EOF {
				return out, mt, nil
			}
			if err != nil {
				return nil, "", fmt.Errorf("read the captured multipart form post: %w", err)
			}
			if p.FileName() != "" {
				return nil, "", fmt.Errorf("the form post has a file field %q; replaying file uploads is not supported", p.FormName())
			}
			b, err := io.ReadAll(io.LimitReader(p, 1<<20))
			if err != nil {
				return nil, "", err
			}
			out = append(out, formPair{p.FormName(), string(b)})
		}
	}
	return nil, "", fmt.Errorf("the form post has content type %q; only urlencoded and multipart posts can be replayed", s.ContentType)
}

// replay posts a captured form submission again from the current page, as a
// user who goes back and submits the same form (or a double click) would.
func (fr *flowRun) replay(s Submission) (outcome, error) {
	pairs, enctype, err := parsePost(s)
	if err != nil {
		return "", err
	}
	fr.step("post the same form again to %s", s.URL)
	fr.markDocument()
	expr := fmt.Sprintf(`(function(url, enctype, pairs){
  var f = document.createElement("form");
  f.method = "POST"; f.action = url; f.enctype = enctype; f.style.display = "none";
  pairs.forEach(function(p){ var i = document.createElement("input"); i.type = "hidden"; i.name = p.n; i.value = p.v; f.appendChild(i); });
  (document.body || document.documentElement).appendChild(f);
  HTMLFormElement.prototype.submit.call(f);
  return true;
})(%s, %s, %s)`, js(s.URL), js(enctype), js(pairs))
	if _, err := evaluate[bool](fr.ctx, stepTimeout, expr); err != nil {
		return "", fmt.Errorf("post the form again: %w", err)
	}
	return fr.waitOutcome(true)
}

// journal returns the siteverify requests since the flow started.
func (fr *flowRun) journal() []mockserver.Request {
	if fr.jnl == nil {
		return nil
	}
	j, err := fr.jnl.JournalSince(context.WithoutCancel(fr.ctx), fr.startJnl)
	if err != nil {
		fr.step("read the mock's journal: %v", err)
		return nil
	}
	return j.Since(fr.startJnl)
}

// mints returns the tokens minted for the page since the flow started.
// loadMintWait is how long FLOW-003 waits after load for a page that mints
// its token at load to have done so; a page that mints at submit time
// costs this once.
const loadMintWait = 2 * time.Second

// waitForLoadMint waits up to d for the page to have minted a token, and a
// further moment for mints that follow it (a widget that renders twice).
func (fr *flowRun) waitForLoadMint(d time.Duration) {
	deadline := time.Now().Add(d)
	for len(fr.mints()) == 0 && time.Now().Before(deadline) && fr.ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	if len(fr.mints()) > 0 {
		time.Sleep(200 * time.Millisecond)
	}
}

func (fr *flowRun) mints() []mockserver.Mint {
	if fr.mock == nil {
		return nil
	}
	all, err := fr.mock.Mints(context.WithoutCancel(fr.ctx))
	if err != nil {
		fr.step("read the mock's mint log: %v", err)
		return nil
	}
	var out []mockserver.Mint
	for _, m := range all {
		if m.Seq > fr.startMnt {
			out = append(out, m)
		}
	}
	return out
}

// tokens are the minted tokens (errors left out).
func tokens(ms []mockserver.Mint) []mockserver.Mint {
	var out []mockserver.Mint
	for _, m := range ms {
		if m.Token != "" {
			out = append(out, m)
		}
	}
	return out
}

// submittedMint finds which minted token the page posted: the first minted
// token that a captured request to the backend carries (form post, XHR or
// fetch; in its URL, a header or its body), else the last one the backend
// verified. ok is false when neither is known.
func (fr *flowRun) submittedMint(ms []mockserver.Mint, j []mockserver.Request) (mockserver.Mint, bool) {
	posts := fr.tab.posts()
	for i := len(posts) - 1; i >= 0; i-- {
		for _, m := range ms {
			if posts[i].carries(m.Token) {
				return m, true
			}
		}
	}
	for i := len(j) - 1; i >= 0; i-- {
		for _, m := range ms {
			if m.Token != "" && j[i].Token == m.Token {
				return m, true
			}
		}
	}
	return mockserver.Mint{}, false
}

// submissionWith returns the last captured request that carries token, or,
// when token is empty (staging mode), the last one with a body.
func (fr *flowRun) submissionWith(token string) (Submission, bool) {
	posts := fr.tab.posts()
	for i := len(posts) - 1; i >= 0; i-- {
		if posts[i].carries(token) || (token == "" && len(posts[i].Body) > 0) {
			return posts[i], true
		}
	}
	return Submission{}, false
}

// answer is the parts of a siteverify answer a report quotes.
type answer struct {
	Success    bool     `json:"success"`
	Score      *float64 `json:"score"`
	Action     string   `json:"action"`
	Hostname   string   `json:"hostname"`
	ErrorCodes []string `json:"error-codes"`
}

// describeVerifications says how the backend verified token, e.g.
// `siteverify was called once: success (score 0.9, action "login", hostname "127.0.0.1")`.
func describeVerifications(j []mockserver.Request, token string) string {
	var calls []string
	for _, e := range j {
		if token != "" && e.Token != token {
			continue
		}
		calls = append(calls, describeCall(e))
	}
	api := "siteverify"
	if slices.ContainsFunc(j, func(e mockserver.Request) bool { return strings.Contains(e.Path, "/assessments") }) {
		api = "the assessments API" // reCAPTCHA Enterprise
	}
	switch len(calls) {
	case 0:
		return "the backend never called " + api + " with it"
	case 1:
		return api + " was called once: " + calls[0]
	}
	return fmt.Sprintf("%s was called %d times: %s", api, len(calls), strings.Join(calls, "; "))
}

// assessment is the parts of a reCAPTCHA Enterprise Assessment a report
// quotes.
type assessment struct {
	RiskAnalysis *struct {
		Score float64 `json:"score"`
	} `json:"riskAnalysis"`
	TokenProperties *struct {
		Valid         bool   `json:"valid"`
		InvalidReason string `json:"invalidReason"`
		Hostname      string `json:"hostname"`
		Action        string `json:"action"`
	} `json:"tokenProperties"`
}

func describeCall(e mockserver.Request) string {
	var a answer
	if e.Status != 200 || json.Unmarshal([]byte(e.Response), &a) != nil {
		return e.Outcome
	}
	var as assessment
	if json.Unmarshal([]byte(e.Response), &as) == nil && as.TokenProperties != nil {
		tp := as.TokenProperties
		if !tp.Valid {
			return "assessment: invalid, " + tp.InvalidReason
		}
		score := ""
		if as.RiskAnalysis != nil {
			score = fmt.Sprintf("score %v, ", as.RiskAnalysis.Score)
		}
		return fmt.Sprintf("assessment: valid (%saction %q, hostname %q)", score, tp.Action, tp.Hostname)
	}
	if !a.Success {
		return e.Outcome
	}
	var parts []string
	if a.Score != nil {
		parts = append(parts, fmt.Sprintf("score %v", *a.Score))
	}
	if a.Action != "" {
		parts = append(parts, fmt.Sprintf("action %q", a.Action))
	}
	parts = append(parts, fmt.Sprintf("hostname %q", a.Hostname))
	return "success (" + strings.Join(parts, ", ") + ")"
}

func countCalls(j []mockserver.Request, token string) int {
	n := 0
	for _, e := range j {
		if e.Token == token {
			n++
		}
	}
	return n
}

func abbrev(tok string) string {
	if len(tok) > 12 {
		return tok[:12] + "…"
	}
	return tok
}

// mintProblems describes failed token requests, e.g. an unknown sitekey.
func mintProblems(ms []mockserver.Mint) string {
	var out []string
	for _, m := range ms {
		if m.Error != "" {
			out = append(out, fmt.Sprintf("the page asked for a token with sitekey %s and the mock refused: %s", abbrev(m.SiteKey), m.Error))
		}
	}
	return strings.Join(out, "; ")
}
