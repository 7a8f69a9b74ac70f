package browser

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/siteverify/siteverify/mockserver"
)

// Kind is the kind of captcha integration a page has: its widget.
type Kind string

// Page kinds.
const (
	// KindV3 is a score-based page: it calls grecaptcha.execute(sitekey,
	// {action}) and posts the token with its form.
	KindV3 Kind = "v3"
	// KindV2Checkbox is an "I'm not a robot" checkbox page.
	KindV2Checkbox Kind = "v2-checkbox"
	// KindV2Invisible is an invisible v2 page: the submit control is bound
	// to the widget (or the page calls grecaptcha.execute), and the
	// widget's callback submits.
	KindV2Invisible Kind = "v2-invisible"
)

// Page kinds of the other providers: the key kinds of hCaptcha and
// Turnstile, whose widget the page renders.
const (
	// KindHCaptcha is an hCaptcha checkbox page: the widget fills
	// h-captcha-response once its checkbox is clicked, and calls
	// data-callback.
	KindHCaptcha Kind = "hcaptcha"
	// KindHCaptchaEnterprise is the same widget on an hCaptcha Enterprise
	// site (the backend also checks the risk score).
	KindHCaptchaEnterprise Kind = "hcaptcha-enterprise"
	// KindTurnstile is a Cloudflare Turnstile page: the managed widget
	// solves at render, fills cf-turnstile-response and calls
	// data-callback; its token is bound to the widget's action and cdata.
	KindTurnstile Kind = "turnstile"
)

// Page kinds of reCAPTCHA Enterprise: the key kinds, whose widget the page
// renders from enterprise.js (grecaptcha.enterprise) as its reCAPTCHA twin.
const (
	// KindEnterprise is a page with an Enterprise score key: it calls
	// grecaptcha.enterprise.execute(sitekey, {action}), as a v3 page does,
	// and its backend creates an assessment.
	KindEnterprise Kind = "recaptcha-enterprise"
	// KindEnterpriseCheckbox is a page with an Enterprise checkbox key:
	// the "I'm not a robot" checkbox, with the widget's data-action.
	KindEnterpriseCheckbox Kind = "recaptcha-enterprise-checkbox"
)

// Kinds lists the page kinds.
func Kinds() []Kind {
	return []Kind{KindV3, KindV2Checkbox, KindV2Invisible, KindHCaptcha, KindHCaptchaEnterprise, KindTurnstile, KindEnterprise, KindEnterpriseCheckbox}
}

// provider is the provider whose widget a page of kind k renders.
func (k Kind) provider() *mockserver.Provider {
	if p := mockserver.KeyKind(k).Provider(); p != nil {
		return p
	}
	return mockserver.ReCAPTCHA
}

// checkboxWidget reports whether the user solves the page's widget by
// clicking a checkbox: reCAPTCHA v2 checkbox (and Enterprise's checkbox
// key) and hCaptcha.
func (k Kind) checkboxWidget() bool {
	return k == KindV2Checkbox || k == KindHCaptcha || k == KindHCaptchaEnterprise || k == KindEnterpriseCheckbox
}

// hasAction reports whether the page's tokens carry an action the backend
// compares: v3, Turnstile and both Enterprise keys.
func (k Kind) hasAction() bool {
	return k == KindV3 || k == KindTurnstile || k == KindEnterprise || k == KindEnterpriseCheckbox
}

// Match says what an outcome looks like on the page: an element matching a
// CSS selector, optionally containing some text.
type Match struct {
	// Selector is a CSS selector, e.g. "#result.success".
	Selector string `json:"selector" yaml:"selector"`
	// Text, when set, must occur in the element's text, e.g. "Welcome".
	Text string `json:"text,omitempty" yaml:"text,omitempty"`
}

// DefaultCheckbox is the CSS selector of the mock widget's checkbox.
const DefaultCheckbox = ".recaptcha-checkbox"

// DefaultHCaptchaCheckbox is the CSS selector of the hCaptcha stand-in's
// checkbox, the default on hCaptcha pages.
const DefaultHCaptchaCheckbox = ".hcaptcha-checkbox"

// Page is one form page of the application under test and what its
// outcomes look like.
type Page struct {
	// Name identifies the page in reports, e.g. "login-v3".
	Name string `json:"name" yaml:"name"`
	// URL is the page's address, e.g. "http://127.0.0.1:8080/login".
	URL string `json:"url" yaml:"url"`
	// Kind is the page's widget: "v3", "v2-checkbox" or "v2-invisible"
	// (reCAPTCHA), "hcaptcha" or "hcaptcha-enterprise" (the hCaptcha
	// checkbox), "turnstile" (the Turnstile managed widget),
	// "recaptcha-enterprise" or "recaptcha-enterprise-checkbox" (reCAPTCHA
	// Enterprise's score and checkbox keys, from enterprise.js).
	Kind Kind `json:"kind" yaml:"kind"`
	// Form is the CSS selector of the form, e.g. "#login-form"; empty means
	// the first form on the page.
	Form string `json:"form,omitempty" yaml:"form,omitempty"`
	// Submit is the CSS selector of the control that submits, e.g. "#submit".
	Submit string `json:"submit" yaml:"submit"`
	// Fields are typed into the form before submitting: CSS selector to
	// value, e.g. {"#username": "ada"}. They are filled in selector order.
	Fields map[string]string `json:"fields,omitempty" yaml:"fields,omitempty"`
	// Success is what an accepted submission shows, e.g. {Selector: "#result.success"}.
	Success Match `json:"success" yaml:"success"`
	// Rejected is what a refused submission shows, e.g. {Selector:
	// "#result.rejected"}. When empty, any outcome that is not Success counts
	// as a rejection once the page has navigated.
	Rejected Match `json:"rejected,omitzero" yaml:"rejected,omitempty"`
	// Action is the action the backend expects, e.g. "login": the v3 (or
	// Enterprise) page's execute action, the Turnstile (or Enterprise
	// checkbox) widget's data-action. Empty
	// skips FLOW-006 (action mismatch) for this page.
	Action string `json:"action,omitempty" yaml:"action,omitempty"`
	// SiteKey is the sitekey the page must use; empty means any registered
	// sitekey. In staging mode it is the staging sitekey.
	SiteKey string `json:"sitekey,omitempty" yaml:"sitekey,omitempty"`
	// Hostnames are the page hostnames the backend accepts, e.g.
	// ["localhost"]; when set, a rejection of a page served from another
	// hostname says so. Empty means unknown.
	Hostnames []string `json:"hostnames,omitempty" yaml:"hostnames,omitempty"`
	// Checkbox is the CSS selector of the v2 or hCaptcha checkbox; empty
	// means the mock widget's: DefaultCheckbox, or DefaultHCaptchaCheckbox
	// on hCaptcha pages.
	Checkbox string `json:"checkbox,omitempty" yaml:"checkbox,omitempty"`
}

// Validate reports the first problem with p, naming the field.
func (p Page) Validate() error {
	name := p.Name
	if name == "" {
		name = p.URL
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("page %s: %s", name, fmt.Sprintf(format, args...))
	}
	u, err := url.Parse(p.URL)
	switch {
	case p.Name == "":
		return fail("name is empty")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fail("url %q is not an absolute http(s) URL such as http://127.0.0.1:8080/login", p.URL)
	case !slices.Contains(Kinds(), p.Kind):
		return fail("kind %q: want %s, %s, %s, %s, %s, %s, %s or %s", p.Kind, KindV3, KindV2Checkbox, KindV2Invisible, KindHCaptcha, KindHCaptchaEnterprise, KindTurnstile,
			KindEnterprise, KindEnterpriseCheckbox)
	case strings.TrimSpace(p.Submit) == "":
		return fail("submit: the CSS selector of the submit control is required, e.g. \"#submit\"")
	case strings.TrimSpace(p.Success.Selector) == "":
		return fail("success.selector: a CSS selector for what success looks like is required, e.g. \"#result.success\"")
	}
	return nil
}

func (p Page) checkbox() string {
	if p.Checkbox != "" {
		return p.Checkbox
	}
	if p.Kind.provider() == mockserver.HCaptcha {
		return DefaultHCaptchaCheckbox
	}
	return DefaultCheckbox
}

// path is the page's URL path, which the client script reports as
// location.pathname.
func (p Page) path() string {
	u, err := url.Parse(p.URL)
	if err != nil || u.Path == "" {
		return "/"
	}
	return u.Path
}

func (p Page) hostname() string {
	u, err := url.Parse(p.URL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func validatePages(pages []Page) error {
	if len(pages) == 0 {
		return errors.New("no pages to test: give at least one page (the target file's pages section)")
	}
	seen := map[string]bool{}
	for _, p := range pages {
		if err := p.Validate(); err != nil {
			return err
		}
		if seen[p.Name] {
			return fmt.Errorf("page %s: name used twice", p.Name)
		}
		seen[p.Name] = true
	}
	return nil
}
