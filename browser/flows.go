package browser

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// Flow is one end-to-end check of a page's token lifecycle. IDs are stable
// and append-only, like the conformance catalog's: a flow is never
// renumbered, and a retired ID is never reused.
type Flow struct {
	// ID is the stable identifier, e.g. "FLOW-001".
	ID string
	// Title is a short name.
	Title string
	// Checks is the requirement the flow checks, in one or two sentences.
	Checks string
	// Kinds are the page kinds the flow applies to.
	Kinds []Kind
	// Offline is true for flows that need the mock (its clock, scripted
	// scores or mint log); they are skipped in staging mode.
	Offline bool

	run func(*flowRun) error
	// notFor says why the flow does not apply to a page kind it leaves out,
	// where "applies to ... pages" would not say enough.
	notFor map[Kind]string
}

// SkipReason says why the flow does not apply to pages of kind k; empty
// when it does.
func (f Flow) SkipReason(k Kind) string {
	if f.appliesTo(k) {
		return ""
	}
	if why := f.notFor[k]; why != "" {
		return why
	}
	return fmt.Sprintf("applies to %s pages", joinKinds(f.Kinds))
}

// Kinds of pages by widget, for the catalog below.
var (
	allKinds   = []Kind{KindV3, KindV2Checkbox, KindV2Invisible, KindHCaptcha, KindHCaptchaEnterprise, KindTurnstile, KindEnterprise, KindEnterpriseCheckbox}
	expiryKind = []Kind{KindV2Checkbox, KindHCaptcha, KindHCaptchaEnterprise, KindTurnstile, KindEnterpriseCheckbox}
	scoreKind  = []Kind{KindV3, KindEnterprise}
	actionKind = []Kind{KindV3, KindTurnstile, KindEnterprise, KindEnterpriseCheckbox}
)

// Why a flow leaves out the hCaptcha and Turnstile pages.
const (
	hcaptchaNoHold     = "an hCaptcha token comes from the user's click on the checkbox, not from page load; its expiry is FLOW-005's"
	turnstileNoHold    = "a Turnstile widget gets its token at render by design and renews it as it expires (300 s); FLOW-005 checks that the page posts the renewed token"
	hcaptchaNoScore    = "the hCaptcha stand-in scripts no score per page; the backend's Enterprise risk check is the conformance suite's (REJECT-016)"
	noScore            = "the provider's tokens carry no score"
	checkboxNoHold     = "a checkbox token comes from the user's click, not from page load; its expiry is FLOW-005's"
	entCheckboxNoScore = "the backend of an Enterprise checkbox key holds its assessments to no score threshold (min_score is for score keys)"
	hcaptchaNoAct      = "hCaptcha tokens carry no action"
)

// LowScore is the score FLOW-004 scripts: one of the four levels real keys
// return by default (wire-facts §1.6), well below the usual 0.5 threshold.
const LowScore = 0.1

// HoldFor is how long FLOW-003 holds the page open between load and submit,
// on the mock's clock: past the two-minute token lifetime.
const HoldFor = mockserver.DefaultTokenLifetime + time.Minute

var catalog = []Flow{
	{
		ID: "FLOW-001", Title: "happy path",
		Checks: "The page gets a token, submits it, the backend verifies it exactly once (with the page's sitekey, hostname and, for v3 and Turnstile, action) " +
			"and the page shows success. On a v2 checkbox or hCaptcha page the checkbox is clicked and the page's callback runs first; " +
			"on a Turnstile page the widget solves at render and its callback runs first.",
		Kinds: allKinds,
		run:   flowHappyPath,
	},
	{
		ID: "FLOW-002", Title: "resubmitting the same token is rejected",
		Checks: "Sending the page's submit request again with the same token (back button and resubmit, a double click, a retried fetch) is refused: " +
			"tokens are single use, so the backend must verify again and refuse. The request that carried the token is captured (form post, XHR or fetch) " +
			"and sent again exactly: a form post from the page, judged by what the page shows; an XHR or fetch request with the same method, URL, headers, " +
			"cookies and body, judged by the backend's answer.",
		Kinds: allKinds,
		run:   flowResubmit,
	},
	{
		ID: "FLOW-003", Title: "token held past its lifetime",
		Checks: "With the mock's clock advanced by " + HoldFor.String() + " between load and submit, the page must not post a token it got at load " +
			"(expired after two minutes): a page that asks for its token at submit time passes.",
		Kinds: scoreKind, Offline: true,
		run: flowHeldToken,
		notFor: map[Kind]string{KindHCaptcha: hcaptchaNoHold, KindHCaptchaEnterprise: hcaptchaNoHold, KindTurnstile: turnstileNoHold,
			KindEnterpriseCheckbox: checkboxNoHold},
	},
	{
		ID: "FLOW-004", Title: "low score shows a rejection",
		Checks: fmt.Sprintf("With the page's v3 (or Enterprise score key) score scripted to %v, the page shows a rejection, never success.", LowScore),
		Kinds:  scoreKind, Offline: true,
		run: flowLowScore,
		notFor: map[Kind]string{KindHCaptcha: noScore, KindHCaptchaEnterprise: hcaptchaNoScore, KindTurnstile: noScore,
			KindEnterpriseCheckbox: entCheckboxNoScore},
	},
	{
		ID: "FLOW-005", Title: "expiry: the page reacts and recovers",
		Checks: "After the widget's token expires (mock clock past the provider's lifetime: 2 min reCAPTCHA, 120 s hCaptcha, 300 s Turnstile), " +
			"a checkbox page's expired-callback runs, and clicking the checkbox again and submitting is accepted. " +
			"On a Turnstile page the widget renews the token itself (refresh-expired auto) or the page's expired-callback resets it, " +
			"and submitting then posts the renewed token and is accepted.",
		Kinds: expiryKind, Offline: true,
		run: flowExpiry,
	},
	{
		ID: "FLOW-006", Title: "page action matches the backend's",
		Checks: "The action the page passes to grecaptcha.execute (v3) or grecaptcha.enterprise.execute (Enterprise score key), " +
			"or the Turnstile or Enterprise checkbox widget's data-action, is the action the backend expects (the target's action for the page).",
		Kinds: actionKind, Offline: true,
		run:    flowActionMatch,
		notFor: map[Kind]string{KindHCaptcha: hcaptchaNoAct, KindHCaptchaEnterprise: hcaptchaNoAct},
	},
}

// Flows returns the flow catalog in ID order.
func Flows() []Flow { return slices.Clone(catalog) }

// FlowIDs returns every flow ID in order.
func FlowIDs() []string {
	ids := make([]string, len(catalog))
	for i, f := range catalog {
		ids[i] = f.ID
	}
	return ids
}

// Lookup returns the flow with the given ID.
func Lookup(id string) (Flow, bool) {
	for _, f := range catalog {
		if strings.EqualFold(f.ID, id) {
			return f, true
		}
	}
	return Flow{}, false
}

func (f Flow) appliesTo(k Kind) bool { return slices.Contains(f.Kinds, k) }

// --- the flows ---

func flowHappyPath(fr *flowRun) error {
	fr.expected = "the page shows success, and the backend verified the page's token exactly once, with the page's sitekey and hostname (and action, for v3)"
	if err := fr.open(); err != nil {
		return err
	}
	if err := fr.fill(); err != nil {
		return err
	}
	callbackNote := ""
	ran, err := fr.solve()
	if err != nil {
		return err
	}
	if ran {
		callbackNote = "; the page's callback ran"
	}
	out, err := fr.submit()
	if err != nil {
		return err
	}
	if fr.staging {
		return fr.stagingHappyPath(out, callbackNote)
	}
	ms, j := fr.mints(), fr.journal()
	m, ok := fr.submittedMint(ms, j)
	if out != outcomeSuccess {
		return failf("the page showed %s; %s", describeOutcome(out), fr.diagnose(ms, j, m, ok))
	}
	if !ok {
		if p := mintProblems(ms); p != "" {
			return failf("the page showed success but %s", p)
		}
		return failf("the page showed success, but it never posted a token from the %s script and the backend never verified one", fr.page.Kind.provider())
	}
	switch n := countCalls(j, m.Token); {
	case n == 0:
		return failf("the page showed success, but the backend never called siteverify with the page's token %s", abbrev(m.Token))
	case n > 1:
		return failf("the page showed success, but the backend verified the same token %d times (%s); a token verifies once, so a second call fails with timeout-or-duplicate",
			n, describeVerifications(j, m.Token))
	}
	if fr.page.SiteKey != "" && m.SiteKey != fr.page.SiteKey {
		return failf("the page used sitekey %s, but the target says %s", m.SiteKey, fr.page.SiteKey)
	}
	if h := fr.page.hostname(); h != "" && !strings.EqualFold(m.Hostname, h) {
		return failf("the token was minted for hostname %q, but the page is at %q", m.Hostname, h)
	}
	action := ""
	switch m.Kind {
	case mockserver.V3, mockserver.EnterpriseScore, mockserver.EnterpriseCheckbox:
		action = fmt.Sprintf(", action %q", m.Action)
	case mockserver.TurnstileStandard:
		action = fmt.Sprintf(", action %q, cdata %q", m.Action, m.CData)
	}
	return passf("success%s; token %s (sitekey %s, hostname %q%s); %s", callbackNote, abbrev(m.Token), abbrev(m.SiteKey), m.Hostname, action,
		describeVerifications(j, m.Token))
}

func flowResubmit(fr *flowRun) error {
	fr.expected = "the second post of the same form and token shows a rejection, never success"
	if err := fr.open(); err != nil {
		return err
	}
	if err := fr.fill(); err != nil {
		return err
	}
	if _, err := fr.solve(); err != nil {
		return err
	}
	first, err := fr.submit()
	if err != nil {
		return err
	}
	token := ""
	if !fr.staging {
		if m, ok := fr.submittedMint(fr.mints(), fr.journal()); ok {
			token = m.Token
		}
	} else if fr.jnl != nil {
		token, _, _ = fr.stagingToken(fr.journal())
	}
	sub, ok := fr.submissionWith(token)
	if !ok {
		if token == "" {
			return errors.New("the page sent no request with a body to its backend, so there is nothing to send again")
		}
		return fmt.Errorf("no request the page sent (form post, XHR or fetch) carried its token %s in its URL, headers or body", abbrev(token))
	}
	var second outcome
	how := ""
	if sub.isScripted() {
		if second, how, err = fr.replayScripted(sub, token); err != nil {
			return err
		}
		how = ": " + how
	} else if second, err = fr.replay(sub); err != nil {
		return err
	}
	firstNote := ""
	if first != outcomeSuccess {
		firstNote = fmt.Sprintf(" (the first post already showed %s, so this check is weak)", describeOutcome(first))
	}
	j := fr.journal()
	if second == outcomeNone && sub.isScripted() {
		return fmt.Errorf("cannot judge the replayed XHR/fetch request%s", how)
	}
	if second == outcomeSuccess {
		why := ""
		if fr.jnl != nil && token != "" {
			switch n := countCalls(j, token); n {
			case 0, 1:
				why = fmt.Sprintf("; the backend called siteverify only %d time(s) for this token, so it reused an earlier verdict instead of verifying again", n)
			default:
				why = "; " + describeVerifications(j, token) + ", yet the backend accepted"
			}
		}
		what := "the second post showed success"
		if sub.isScripted() {
			what = "the backend accepted the replayed XHR/fetch request" + how
		}
		return failf("the same token was accepted twice: %s%s", what, why)
	}
	detail := ""
	if fr.jnl != nil && token != "" {
		detail = "; " + describeVerifications(j, token)
	}
	if sub.isScripted() {
		return passf("the replayed XHR/fetch request %s %s was refused%s%s%s", sub.Method, sub.URL, how, detail, firstNote)
	}
	return passf("the second post showed %s%s%s", describeOutcome(second), detail, firstNote)
}

func flowHeldToken(fr *flowRun) error {
	fr.expected = fmt.Sprintf("after %v on the mock's clock between load and submit, the page posts a token it asked for at submit time, not one from page load", HoldFor)
	if err := fr.open(); err != nil {
		return err
	}
	// A page that asks for its token when it loads may do so a moment after
	// the document is ready (a React component's effect, once the script has
	// loaded). Hold only after that, or the token would be minted after the
	// hold and look fresh by chance.
	fr.waitForLoadMint(loadMintWait)
	now, err := fr.mock.Advance(context.WithoutCancel(fr.ctx), HoldFor)
	if err != nil {
		return fmt.Errorf("advance the mock's clock: %w", err)
	}
	fr.step("advanced the mock's clock by %v", HoldFor)
	if err := fr.fill(); err != nil {
		return err
	}
	out, err := fr.submit()
	if err != nil {
		return err
	}
	ms, j := fr.mints(), fr.journal()
	m, ok := fr.submittedMint(ms, j)
	if !ok {
		if p := mintProblems(ms); p != "" {
			return fmt.Errorf("no token was posted: %s", p)
		}
		return fmt.Errorf("the page posted no token from the captcha script (the page showed %s), so the check cannot run", describeOutcome(out))
	}
	if m.Time.Before(now.Add(-HoldFor / 2)) {
		return failf("the page posted the token it got at page load, %v old on the mock's clock (lifetime %v): %s; the page showed %s. Ask for the token in the submit handler instead.",
			now.Sub(m.Time).Round(time.Second), m.ExpiresAt.Sub(m.Time), describeVerifications(j, m.Token), describeOutcome(out))
	}
	return passf("the page asked for a fresh token at submit time; %s; the page showed %s", describeVerifications(j, m.Token), describeOutcome(out))
}

func flowLowScore(fr *flowRun) error {
	fr.expected = fmt.Sprintf("with the page's score scripted to %v, the page shows a rejection", LowScore)
	ctx := context.WithoutCancel(fr.ctx)
	score := mockserver.ClientScore{Page: fr.page.path(), Score: LowScore}
	if err := fr.mock.SetClientScore(ctx, score); err != nil {
		return fmt.Errorf("script the score: %w", err)
	}
	defer func() { _ = fr.mock.RemoveClientScore(ctx, score.Action, score.Page) }()
	fr.step("scripted score %v for page %s", LowScore, score.Page)
	if err := fr.open(); err != nil {
		return err
	}
	if err := fr.fill(); err != nil {
		return err
	}
	out, err := fr.submit()
	if err != nil {
		return err
	}
	ms, j := fr.mints(), fr.journal()
	m, ok := fr.submittedMint(ms, j)
	if ok && (m.Score == nil || *m.Score != LowScore) {
		return fmt.Errorf("the scripted score did not apply: the page's token was minted on page %q with score %v", m.Page, m.Score)
	}
	detail := "the page posted no token from the captcha script"
	if ok {
		detail = describeVerifications(j, m.Token)
	}
	switch out {
	case outcomeSuccess:
		return failf("the page showed success for a score of %v; %s", LowScore, detail)
	case outcomeNone:
		return failf("the page showed neither success nor a rejection; %s", detail)
	}
	return passf("the page showed a rejection; %s", detail)
}

func flowExpiry(fr *flowRun) error {
	fr.expected = "when the checkbox token expires, the page's expired-callback runs; clicking the checkbox again and submitting is accepted"
	if fr.page.Kind == KindTurnstile {
		fr.expected = "when the widget's token expires, the widget renews it (or the page's expired-callback resets the widget); submitting then posts the renewed token and is accepted"
	}
	if err := fr.open(); err != nil {
		return err
	}
	if err := fr.fill(); err != nil {
		return err
	}
	if _, err := fr.solve(); err != nil {
		return err
	}
	ms := tokens(fr.mints())
	if len(ms) == 0 {
		return errors.New("the widget is solved but no token was minted")
	}
	m := ms[len(ms)-1]
	now, err := fr.mock.Advance(context.WithoutCancel(fr.ctx), m.ExpiresAt.Sub(m.Time)+time.Second)
	if err != nil {
		return fmt.Errorf("advance the mock's clock: %w", err)
	}
	fr.step("advanced the mock's clock past the token's lifetime (%v)", m.ExpiresAt.Sub(m.Time))
	type expiry struct {
		Expired   int `json:"expired"`
		Callbacks int `json:"callbacks"`
	}
	res, err := evaluate[expiry](fr.ctx, stepTimeout, fmt.Sprintf(`window.__siteverify.expire(%d)`, now.UnixMilli()))
	if err != nil {
		return fmt.Errorf("expire the widget's token: %w", err)
	}
	fr.step("the widget expired %d token(s); expired-callback ran %d time(s)", res.Expired, res.Callbacks)
	if res.Expired == 0 {
		return errors.New("no widget held a token that had expired on the mock's clock")
	}
	if fr.page.Kind == KindTurnstile {
		return fr.turnstileRenewal(m, now, res.Callbacks)
	}
	if res.Callbacks == 0 {
		state := ""
		disabled, err := evaluate[bool](fr.ctx, time.Second, fmt.Sprintf(`(function(){var e=document.querySelector(%s);return !!e && !!e.disabled;})()`, js(fr.page.Submit)))
		if err == nil && !disabled {
			state = fmt.Sprintf(" The submit control is still enabled, and the widget has cleared %s, so a user who submits now posts an empty token.", fr.page.Kind.provider().TokenField())
		}
		return failf("the page registered no expired-callback: when the token expired nothing on the page reacted.%s Handle expiry with data-expired-callback (or the expired-callback render parameter).", state)
	}
	if _, err := fr.solveCheckbox(); err != nil {
		return fmt.Errorf("recover after expiry: %w", err)
	}
	out, err := fr.submit()
	if err != nil {
		return fmt.Errorf("recover after expiry: %w", err)
	}
	if out != outcomeSuccess {
		all, j := fr.mints(), fr.journal()
		sm, ok := fr.submittedMint(all, j)
		return failf("after expiry the expired-callback ran, but solving again and submitting showed %s; %s", describeOutcome(out), fr.diagnose(all, j, sm, ok))
	}
	return passf("expired-callback ran; solving again and submitting was accepted")
}

func flowActionMatch(fr *flowRun) error {
	if fr.page.Action == "" {
		return &skip{reason: "the target names no expected action for this page"}
	}
	fr.expected = fmt.Sprintf("the page executes action %q, the action the backend expects", fr.page.Action)
	if err := fr.open(); err != nil {
		return err
	}
	if err := fr.fill(); err != nil {
		return err
	}
	if _, err := fr.solve(); err != nil {
		return err
	}
	out, err := fr.submit()
	if err != nil {
		return err
	}
	ms, j := tokens(fr.mints()), fr.journal()
	if len(ms) == 0 {
		if p := mintProblems(fr.mints()); p != "" {
			return fmt.Errorf("no token was minted: %s", p)
		}
		return errors.New("the page's widget minted no token (no grecaptcha.execute, no Turnstile render), so its action is unknown")
	}
	var wrong []string
	for _, m := range ms {
		if m.Action != fr.page.Action {
			wrong = append(wrong, fmt.Sprintf("%q", m.Action))
		}
	}
	if len(wrong) > 0 {
		m, _ := fr.submittedMint(ms, j)
		return failf("the page executes action %s but the backend expects %q: the provider echoes the page's action, so the backend rejects the token (%s; the page showed %s)",
			strings.Join(slices.Compact(wrong), ", "), fr.page.Action, describeVerifications(j, m.Token), describeOutcome(out))
	}
	return passf("the page executes action %q", fr.page.Action)
}

// turnstileRenewal is FLOW-005's end on a Turnstile page, once the token
// has expired at now (callbacks: how many expired-callbacks ran): the
// widget renews the token (refresh-expired "auto"), or the page's
// expired-callback resets the widget; then the page must post the renewed
// token, not the expired one or none.
func (fr *flowRun) turnstileRenewal(old mockserver.Mint, now time.Time, callbacks int) error {
	field := fr.page.Kind.provider().TokenField()
	if err := fr.settle(); err != nil {
		return err
	}
	renewed := func() bool {
		for _, m := range tokens(fr.mints()) {
			if !m.Time.Before(now) {
				return true
			}
		}
		return false
	}
	if callbacks == 0 && !renewed() {
		return failf("when the token expired the page registered no expired-callback and the widget did not renew the token (refresh-expired is not \"auto\"): "+
			"nothing on the page reacted, and the widget has cleared %s, so a user who submits now posts an empty token. "+
			"Keep refresh-expired \"auto\", or handle data-expired-callback (turnstile.reset).", field)
	}
	if _, err := fr.waitWidgetToken(); err != nil {
		return fmt.Errorf("after expiry (expired-callback ran %d time(s)): %w", callbacks, err)
	}
	fr.step("the widget holds a renewed token")
	out, err := fr.submit()
	if err != nil {
		return fmt.Errorf("after expiry: %w", err)
	}
	all, j := fr.mints(), fr.journal()
	sm, ok := fr.submittedMint(all, j)
	if ok && sm.Token == old.Token {
		return failf("after expiry the widget renewed its token, but the page posted the expired one it got at load (minted %v before the renewal): %s; the page showed %s. "+
			"Post the widget's current %s (or take the token from every callback).",
			now.Sub(sm.Time).Round(time.Second), describeVerifications(j, sm.Token), describeOutcome(out), field)
	}
	if out != outcomeSuccess {
		return failf("after expiry the token was renewed, but submitting showed %s; %s", describeOutcome(out), fr.diagnose(all, j, sm, ok))
	}
	return passf("the token expired (expired-callback ran %d time(s)), the widget renewed it, and the page posted the renewed token: accepted", callbacks)
}

// diagnose explains why a submission was not accepted, from what the mock
// saw.
func (fr *flowRun) diagnose(ms []mockserver.Mint, j []mockserver.Request, m mockserver.Mint, ok bool) string {
	if p := mintProblems(ms); p != "" {
		return p
	}
	if !ok {
		if len(j) == 0 {
			return "the page posted no token from the captcha script and the backend never called siteverify"
		}
		return "the page posted no token from the captcha script; " + describeVerifications(j, "")
	}
	d := describeVerifications(j, m.Token)
	if fr.page.Kind.hasAction() && fr.page.Action != "" && m.Action != fr.page.Action {
		d += fmt.Sprintf("; the page executed action %q but the backend expects %q (see FLOW-006)", m.Action, fr.page.Action)
	}
	if len(fr.page.Hostnames) > 0 && !slices.ContainsFunc(fr.page.Hostnames, func(h string) bool { return strings.EqualFold(h, m.Hostname) }) {
		d += fmt.Sprintf("; the page runs on hostname %q, which the backend does not accept (it allows %s): serve the page from an allowed hostname, e.g. http://%s:PORT/",
			m.Hostname, strings.Join(fr.page.Hostnames, ", "), fr.page.Hostnames[0])
	}
	return d
}

func describeOutcome(o outcome) string {
	switch o {
	case outcomeSuccess:
		return "success"
	case outcomeRejected:
		return "a rejection"
	}
	return "neither success nor a rejection"
}
