package target

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/siteverify/siteverify/mockserver"
)

// validate fills defaults into t and records every problem in p.errs.
func (p *parser) validate(t *Target) {
	if t.Name == "" {
		t.Name = "target"
		if p.file != "" {
			base := filepath.Base(p.file)
			t.Name = strings.TrimSuffix(base, filepath.Ext(base))
		}
	}
	if t.Provider == "" {
		t.Provider = DefaultProvider
	}
	if pr, ok := mockserver.LookupProvider(t.Provider); !ok || !slices.Contains(suiteProviders, pr) {
		var names []string
		for _, pr := range suiteProviders {
			names = append(names, strconv.Quote(pr.Name()))
		}
		if ok {
			p.errorf("provider", "the conformance suite does not run against %s backends yet (the mock serves %s: siteverify serve); use one of %s", pr, pr, strings.Join(names, ", "))
		} else {
			p.errorf("provider", "unknown provider %q; use one of %s", t.Provider, strings.Join(names, ", "))
		}
		t.Provider = DefaultProvider
	}
	switch {
	case t.Kind == "":
		p.errorf("kind", "required: the %s key type, one of %s", t.ProviderValue(), kindList(t))
	case !slices.Contains(t.ProviderValue().KeyKinds(), t.Kind):
		if other := t.Kind.Provider(); other != nil {
			p.errorf("kind", "%q is a %s kind, and the provider is %s; set provider: %s, or use one of %s", t.Kind, other, t.Provider, other.Name(), kindList(t))
		} else {
			p.errorf("kind", "unknown %s kind %q; use one of %s", t.ProviderValue(), t.Kind, kindList(t))
		}
		// No check below may depend on a kind that is not one: each would
		// report the same typo again.
		t.Kind = ""
	}
	p.validateKeys(t)
	p.validateProject(t)
	p.checkPlaceholders(t)
	if t.Start != nil {
		p.validateStart(t.Start)
	}
	if len(t.Endpoints) == 0 {
		p.errorf("endpoints", "required: list at least one protected endpoint (url, token, ...)")
	}
	names := map[string]int{}
	for i := range t.Endpoints {
		ep := &t.Endpoints[i]
		path := fmt.Sprintf("endpoints[%d]", i)
		named := ep.Name != "" || ep.URL != "" // a name made up from nothing would clash for no reason of its own
		p.validateEndpoint(t, ep, path)
		if !named {
			continue
		}
		if j, dup := names[ep.Name]; dup {
			p.errorf(path+".name", "duplicate endpoint name %q (also endpoints[%d]); give each endpoint its own name", ep.Name, j)
		}
		names[ep.Name] = i
	}
	switch t.Outage.Policy {
	case "":
		t.Outage.Policy = FailClosed
	case FailClosed, FailOpen, Challenge:
	default:
		p.errorf("outage.policy", "unknown policy %q; use one of %s, %s, %s", t.Outage.Policy, FailClosed, FailOpen, Challenge)
	}
	switch d := t.Outage.AnswerWithin.D(); {
	case d == 0:
		t.Outage.AnswerWithin = Duration(DefaultAnswerWithin)
	case d > MaxAnswerWithin:
		p.errorf("outage.answer_within", "%v is longer than the %v limit; set the backend's siteverify timeout lower", d, MaxAnswerWithin)
	}
	p.validateClassify(t)
	p.validatePages(t)
}

// suiteProviders are the providers the catalog runs against: every
// provider the mock serves, reCAPTCHA Enterprise's assessments API
// included (its own cases are ENT-*).
var suiteProviders = []*mockserver.Provider{mockserver.ReCAPTCHA, mockserver.HCaptcha, mockserver.Turnstile, mockserver.Enterprise}

// isEnterprise reports whether k is a reCAPTCHA Enterprise kind.
func isEnterprise(k mockserver.KeyKind) bool {
	return k == mockserver.EnterpriseScore || k == mockserver.EnterpriseCheckbox
}

// validateProject checks the Enterprise project ID (or sets its default):
// what Google allows in a project ID or number, so that it is one path
// segment of the assessments URL.
func (p *parser) validateProject(t *Target) {
	if t.Provider != mockserver.Enterprise.Name() {
		if t.Project != "" {
			p.errorf("project", "only for provider recaptcha-enterprise (this target is %s); remove it", t.Provider)
		}
		return
	}
	if t.Project == "" {
		t.Project = DefaultProject
		return
	}
	if !projectRE.MatchString(t.Project) {
		p.errorf("project", "%q is not a Google Cloud project ID (6-30 lower-case letters, digits and hyphens, starting with a letter) or project number", t.Project)
	}
}

// projectRE matches a Google Cloud project ID or a project number.
var projectRE = regexp.MustCompile(`^(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20})$`)

// Providers lists the providers a target file may name.
func Providers() []*mockserver.Provider { return slices.Clone(suiteProviders) }

func kindList(t *Target) string {
	var s []string
	for _, k := range t.ProviderValue().KeyKinds() {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}

func (p *parser) validateKeys(t *Target) {
	for _, f := range []struct{ path, val string }{{"sitekey", t.SiteKey}, {"secret", t.Secret}} {
		switch {
		case f.val == "" && t.Start == nil:
			p.errorf(f.path, "required: the %s the running backend is configured with (or add a start section and pass {{%s}} to the backend)", f.path, f.path)
		case len(f.val) > 256:
			p.errorf(f.path, "longer than 256 characters")
		case strings.TrimSpace(f.val) != f.val:
			p.errorf(f.path, "has leading or trailing spaces; remove them")
		case strings.Contains(f.val, "{{"):
			p.errorf(f.path, "placeholders are not allowed here; write the key itself")
		}
	}
	if t.SiteKey != "" && t.SiteKey == t.Secret {
		p.errorf("secret", "must differ from sitekey (the conformance suite checks that the backend sends the secret, not the sitekey)")
	}
}

func (p *parser) validateStart(s *Start) {
	if len(s.Command) == 0 || s.Command[0] == "" {
		p.errorf("start.command", "required: the program and its arguments, e.g. [python3, app.py, --port, \"{{port}}\"]")
	}
	if s.ReadyTimeout == 0 {
		s.ReadyTimeout = Duration(DefaultReadyTimeout)
	}
	if s.StopTimeout == 0 {
		s.StopTimeout = Duration(DefaultStopTimeout)
	}
	if s.ReadyURL != "" {
		p.checkURL("start.ready_url", s.ReadyURL)
	} else if !startUses(s, "port") && len(s.Command) > 0 {
		p.errorf("start.ready_url", "required when the start section does not use {{port}}: the URL to poll until the backend is ready, e.g. \"http://127.0.0.1:8080/healthz\"")
	}
	for k := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			p.errorf(fmt.Sprintf("start.env[%q]", k), "not a valid environment variable name")
		}
	}
}

func startUses(s *Start, name string) bool {
	all := append([]string{s.Dir, s.ReadyURL}, s.Command...)
	for _, v := range s.Env {
		all = append(all, v)
	}
	for _, v := range all {
		for _, m := range placeholderRE.FindAllStringSubmatch(v, -1) {
			if m[1] == name {
				return true
			}
		}
	}
	return false
}

// checkURL validates an absolute http(s) URL, with placeholders replaced by
// sample values.
func (p *parser) checkURL(path, raw string) {
	// Unknown placeholders are reported on their own; a sample value keeps
	// them from making the URL look broken too.
	sample := placeholderRE.ReplaceAllString(expand(raw, sampleVars), "1")
	u, err := url.Parse(sample)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.errorf(path, "%q is not an absolute http(s) URL such as \"http://127.0.0.1:8080/api/login\"", raw)
	}
}

func (p *parser) validateEndpoint(t *Target, ep *Endpoint, path string) {
	ep.Method = strings.ToUpper(ep.Method)
	switch ep.Method {
	case "":
		ep.Method = DefaultMethod
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		p.errorf(path+".method", "unsupported method %q; use GET, POST, PUT, PATCH or DELETE", ep.Method)
	}
	if ep.URL == "" {
		p.errorf(path+".url", "required: the endpoint's absolute URL, e.g. \"http://127.0.0.1:{{port}}/api/login\"")
	} else {
		p.checkURL(path+".url", ep.URL)
	}
	if ep.Name == "" {
		ep.Name = ep.Method + " " + urlPath(ep.URL)
	}
	switch ep.Body {
	case "":
		ep.Body = BodyForm
		if ep.Method == http.MethodGet {
			ep.Body = BodyQuery
		}
	case BodyForm, BodyJSON:
		if ep.Method == http.MethodGet {
			p.errorf(path+".body", "a GET request has no body; use body: query")
		}
	case BodyQuery:
	default:
		p.errorf(path+".body", "unknown body %q; use one of form, json, query", ep.Body)
	}
	if ep.Body == BodyForm || ep.Body == BodyQuery {
		for k, v := range ep.Fields {
			switch v.(type) {
			case map[string]any, []any:
				p.errorf(fmt.Sprintf("%s.fields[%q]", path, k), "a %s field must be a single value, not a list or mapping (use body: json for structured fields)", ep.Body)
			}
		}
	}
	for k := range ep.Headers {
		if !validHeaderName(k) {
			p.errorf(fmt.Sprintf("%s.headers[%q]", path, k), "not a valid HTTP header name")
		}
	}
	switch ep.Token.In {
	case "":
		ep.Token.In = TokenInField
	case TokenInField, TokenInHeader:
	default:
		p.errorf(path+".token.in", "unknown value %q; use one of field, header", ep.Token.In)
	}
	if ep.Token.Name == "" {
		switch {
		case ep.Token.In == TokenInHeader:
			p.errorf(path+".token.name", "required for a token in a header: the header name, e.g. X-Recaptcha-Token")
		case ep.Body == BodyJSON:
			ep.Token.Name = camelCase(t.ProviderValue().TokenField())
		default:
			ep.Token.Name = t.ProviderValue().TokenField()
		}
	} else if ep.Token.In == TokenInHeader && !validHeaderName(ep.Token.Name) {
		p.errorf(path+".token.name", "%q is not a valid HTTP header name", ep.Token.Name)
	}
	if ep.Token.In == TokenInField {
		if _, clash := ep.Fields[ep.Token.Name]; clash {
			p.errorf(path+".fields", "has a field %q, which is where the token goes; remove it (the suite sets the token itself)", ep.Token.Name)
		}
	}

	switch t.Kind {
	case mockserver.V3, mockserver.EnterpriseScore:
		if ep.Action == "" {
			execute := "grecaptcha.execute"
			if t.Kind == mockserver.EnterpriseScore {
				execute = "grecaptcha.enterprise.execute"
			}
			p.errorf(path+".action", "required for kind %s: the action the page passes to %s, e.g. login", t.Kind, execute)
		}
		ep.MinScore = p.threshold(path+".min_score", ep.MinScore, DefaultMinScore)
	case mockserver.HCaptchaEnterprise:
		ep.MaxScore = p.threshold(path+".max_score", ep.MaxScore, DefaultMaxScore)
	}
	if t.Kind != "" {
		if ep.Action != "" && t.Kind != mockserver.V3 && t.Kind != mockserver.TurnstileStandard && !isEnterprise(t.Kind) {
			p.errorf(path+".action", "only for kinds v3, turnstile, recaptcha-enterprise and recaptcha-enterprise-checkbox (this target is %s); remove it", t.Kind)
		}
		if ep.CData != "" && t.Kind != mockserver.TurnstileStandard {
			p.errorf(path+".cdata", "only for kind turnstile (this target is %s); remove it", t.Kind)
		}
		if ep.MinScore != nil && t.Kind != mockserver.V3 && t.Kind != mockserver.EnterpriseScore {
			p.errorf(path+".min_score", "only for kinds v3 and recaptcha-enterprise (this target is %s); remove it", t.Kind)
		}
		if len(ep.RejectReasons) > 0 && !isEnterprise(t.Kind) {
			p.errorf(path+".reject_reasons", "only for provider recaptcha-enterprise (this target is %s); remove it", t.Kind)
		}
		if ep.MaxScore != nil && t.Kind != mockserver.HCaptchaEnterprise {
			p.errorf(path+".max_score", "only for kind hcaptcha-enterprise (this target is %s); remove it", t.Kind)
		}
	}
	if t.Kind == mockserver.Android {
		if len(ep.PackageNames) == 0 {
			p.errorf(path+".package_names", "required for kind android: the apk package names the backend allows, e.g. [com.example.app]")
		}
		if len(ep.Hostnames) > 0 {
			p.errorf(path+".hostnames", "not used for kind android; list package_names instead")
		}
	} else if t.Kind != "" {
		if len(ep.Hostnames) == 0 {
			p.errorf(path+".hostnames", "required: the page hostnames the backend allows, e.g. [shop.example.com]")
		}
		if len(ep.PackageNames) > 0 {
			p.errorf(path+".package_names", "only for kind android (this target is %s); list hostnames instead", t.Kind)
		}
	}
	for i, h := range append(append([]string{}, ep.Hostnames...), ep.PackageNames...) {
		field := "hostnames"
		idx := i
		if i >= len(ep.Hostnames) {
			field, idx = "package_names", i-len(ep.Hostnames)
		}
		if h == "" || strings.ContainsAny(h, " /:*") || len(h) > 253 {
			p.errorf(fmt.Sprintf("%s.%s[%d]", path, field, idx), "%q is not a plain name; list exact names (no scheme, port or wildcard)", h)
		}
	}
	for i, r := range ep.RejectReasons {
		if !slices.Contains(mockserver.EnterpriseReasons(), r) {
			p.errorf(fmt.Sprintf("%s.reject_reasons[%d]", path, i), "unknown classification reason %q; use some of %s", r, strings.Join(mockserver.EnterpriseReasons(), ", "))
		}
	}
	switch {
	case ep.ClientIPHeader == "":
		ep.ClientIPHeader = DefaultClientIPHeader
	case ep.ClientIPHeader == NoClientIPHeader:
	case !validHeaderName(ep.ClientIPHeader):
		p.errorf(path+".client_ip_header", "%q is not a valid HTTP header name (or \"none\")", ep.ClientIPHeader)
	}
	if d := ep.RequestTimeout.D(); d < 0 || d > MaxAnswerWithin {
		p.errorf(path+".request_timeout", "%v is out of range; use a duration between 1ms and %v, e.g. 15s", d, MaxAnswerWithin)
	}
}

func urlPath(raw string) string {
	u, err := url.Parse(expand(raw, sampleVars))
	if err != nil || u.Path == "" {
		return "/"
	}
	return u.Path
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func (p *parser) validateClassify(t *Target) {
	p.validateClassifySection(t, &t.Classify, "classify", len(t.Endpoints) == 0 || anyWithoutClassify(t))
	for i := range t.Endpoints {
		if c := t.Endpoints[i].Classify; c != nil {
			p.validateClassifySection(t, c, fmt.Sprintf("endpoints[%d].classify", i), true)
		}
	}
}

func anyWithoutClassify(t *Target) bool {
	for _, ep := range t.Endpoints {
		if ep.Classify == nil {
			return true
		}
	}
	return false
}

func (p *parser) validateClassifySection(t *Target, c *Classify, path string, required bool) {
	if required {
		if c.Accepted == nil {
			p.errorf(path+".accepted", "required: what an accepted answer looks like, e.g. {status: [200]}")
		}
		if c.Rejected == nil {
			p.errorf(path+".rejected", "required: what a rejected answer looks like, e.g. {status: [400, 403]}")
		}
		if c.Challenge == nil && t.Outage.Policy == Challenge {
			p.errorf(path+".challenge", "required with outage.policy challenge: what a challenge answer looks like, e.g. {status: [428]}")
		}
	}
	for _, m := range []struct {
		name string
		m    *Matcher
	}{{"accepted", c.Accepted}, {"rejected", c.Rejected}, {"challenge", c.Challenge}} {
		if m.m != nil {
			p.validateMatcher(m.m, path+"."+m.name)
		}
	}
}

func (p *parser) validateMatcher(m *Matcher, path string) {
	if len(m.Status) == 0 && m.BodyContains == "" && m.JSON == nil && m.Header == nil {
		p.errorf(path, "give at least one condition: status, body_contains, json or header")
	}
	for i, s := range m.Status {
		if s < 100 || s > 599 {
			p.errorf(fmt.Sprintf("%s.status[%d]", path, i), "%d is not an HTTP status (100-599)", s)
		}
	}
	if m.JSON != nil {
		if m.JSON.Path == "" {
			p.errorf(path+".json.path", "required: a dotted path into the JSON body, e.g. ok or result.status")
		}
		if _, ok := p.d.Lines[path+".json.equals"]; !ok {
			p.errorf(path+".json.equals", "required: the value expected at %q, e.g. true", m.JSON.Path)
		}
	}
	if m.Header != nil {
		if !validHeaderName(m.Header.Name) {
			p.errorf(path+".header.name", "required: a header name, e.g. Location")
		}
		if m.Header.Contains == "" {
			p.errorf(path+".header.contains", "required: the substring the header must contain")
		}
	}
}

func (p *parser) validatePages(t *Target) {
	names := map[string]int{}
	for i := range t.Pages {
		pg := &t.Pages[i]
		path := fmt.Sprintf("pages[%d]", i)
		if pg.Name == "" {
			p.errorf(path+".name", "required: a name for this browser flow, e.g. login-v3")
		} else if j, dup := names[pg.Name]; dup {
			p.errorf(path+".name", "duplicate page name %q (also pages[%d])", pg.Name, j)
		}
		names[pg.Name] = i
		if pg.URL == "" {
			p.errorf(path+".url", "required: the page's absolute URL, e.g. \"http://127.0.0.1:{{port}}/login\"")
		} else {
			p.checkURL(path+".url", pg.URL)
		}
		if pg.Kind == "" {
			pg.Kind = t.Kind
		}
		switch pg.Kind {
		case mockserver.V3, mockserver.V2Checkbox, mockserver.V2Invisible,
			mockserver.HCaptchaPublisher, mockserver.HCaptchaEnterprise, mockserver.TurnstileStandard,
			mockserver.EnterpriseScore, mockserver.EnterpriseCheckbox:
		case "":
		default:
			p.errorf(path+".kind", "browser flows support v3, v2-checkbox, v2-invisible, hcaptcha, hcaptcha-enterprise, turnstile, recaptcha-enterprise and recaptcha-enterprise-checkbox, not %q", pg.Kind)
		}
		if pg.Form == "" {
			p.errorf(path+".form", "required: the CSS selector of the form, e.g. \"#login-form\"")
		}
		if pg.Submit == "" {
			p.errorf(path+".submit", "required: the CSS selector of the submit button, e.g. \"#submit\"")
		}
		for sel := range pg.Fields {
			if strings.TrimSpace(sel) == "" {
				p.errorf(path+".fields", "an empty selector; use a CSS selector such as \"#username\"")
			}
		}
		if pg.Success.Selector == "" {
			p.errorf(path+".success.selector", "required: a CSS selector present after an accepted submission, e.g. \"#result.success\"")
		}
		if pg.Rejected.Selector == "" {
			p.errorf(path+".rejected.selector", "required: a CSS selector present after a rejected submission, e.g. \"#result.rejected\"")
		}
	}
}

// threshold validates a score threshold (or sets its default): in [0, 1],
// at most three decimals.
func (p *parser) threshold(path string, v *float64, def float64) *float64 {
	if v == nil {
		return &def
	}
	switch s := *v; {
	case !(s >= 0 && s <= 1):
		p.errorf(path, "%v is outside [0, 1]", s)
	case math.Abs(s*1000-math.Round(s*1000)) > 1e-6:
		p.errorf(path, "%v has more than three decimals; the suite mints scores to 0.001", s)
	}
	return v
}

// camelCase turns a widget's form field into the JSON name front ends use
// for it: g-recaptcha-response is gRecaptchaResponse, h-captcha-response
// hCaptchaResponse, cf-turnstile-response cfTurnstileResponse.
func camelCase(field string) string {
	parts := strings.Split(field, "-")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}
