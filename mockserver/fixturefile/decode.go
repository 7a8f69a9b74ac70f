package fixturefile

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/siteverify/siteverify/mockserver"
)

// Bounds on what one file may hold. The server's own limits are higher;
// these keep a file readable and a bad one cheap to reject.
const (
	maxSites      = 1000
	maxTokens     = 10000
	maxKeyLength  = 256      // sitekey, secret (as mockserver)
	maxClaimBytes = 255      // action, hostname, package name (as in a token)
	maxBodyBytes  = 64 << 10 // rule body (as mockserver)
	maxLifetime   = 24 * time.Hour
	maxErrorCodes = 16
)

// Known keys at each level, in the order the documentation lists them.
func topKeys() []string   { return []string{"default_site", "sites", "tokens", "rules"} }
func tokenKeys() []string { return []string{"token", "reusable", "spec"} }
func matchKeys() []string { return []string{"token", "secret", "remoteip"} }

func siteKeys() []string {
	return []string{"sitekey", "secret", "kind", "hostname", "apk_package_name", "accept_any_token"}
}

func specKeys() []string {
	return []string{"sitekey", "kind", "score", "omit_score", "action", "hostname", "apk_package_name", "issued_ago", "lifetime"}
}

func ruleKeys() []string {
	return []string{"id", "match", "times", "fault", "status", "body", "content_type", "error_codes", "delay"}
}

// items remembers where each decoded item came from, for the cross-checks in
// validate.
type items struct {
	defaultSite *fields
	sites       []*fields
	tokens      []*fields
	specs       []*fields // nil where a token has no spec
	rules       []*fields
}

func (d *decoder) decodeFile(root *yaml.Node) (Fixtures, items) {
	var fx Fixtures
	var it items
	if isNull(root) {
		return fx, it // a file with only comments
	}
	top := d.mapping(root, "", "default_site: {...}, tokens: [...]", topKeys())
	if top == nil {
		return fx, it
	}
	if v := top.value("default_site"); v != nil {
		if f := d.mapping(v, "default_site", "{sitekey: 6Lc..., secret: 6Lc..., kind: v3}", siteKeys()); f != nil {
			fx.DefaultSite = d.site(f, false)
			it.defaultSite = f
		}
	}
	for i, n := range d.sequence(top, "sites", "[{sitekey: ..., secret: ...}]", maxSites) {
		path := fmt.Sprintf("sites[%d]", i)
		if f := d.mapping(n, path, "{sitekey: ..., secret: ..., kind: v2-checkbox}", siteKeys()); f != nil {
			fx.Sites = append(fx.Sites, d.site(f, true))
			it.sites = append(it.sites, f)
		}
	}
	for i, n := range d.sequence(top, "tokens", "[{token: human, spec: {score: 0.9}}]", maxTokens) {
		path := fmt.Sprintf("tokens[%d]", i)
		if f := d.mapping(n, path, "{token: human, spec: {score: 0.9}}", tokenKeys()); f != nil {
			nt, spec := d.token(f)
			fx.Tokens = append(fx.Tokens, nt)
			it.tokens = append(it.tokens, f)
			it.specs = append(it.specs, spec)
		}
	}
	for i, n := range d.sequence(top, "rules", "[{match: {token: outage}, fault: html-error}]", mockserver.MaxRules) {
		path := fmt.Sprintf("rules[%d]", i)
		if f := d.mapping(n, path, "{match: {token: outage}, fault: html-error}", ruleKeys()); f != nil {
			fx.Rules = append(fx.Rules, d.rule(f))
			it.rules = append(it.rules, f)
		}
	}
	return fx, it
}

// site reads a site; the default site may leave its keys to the server.
func (d *decoder) site(f *fields, needKeys bool) mockserver.Site {
	s := mockserver.Site{
		SiteKey:        d.str(f, "sitekey"),
		Secret:         d.str(f, "secret"),
		Kind:           mockserver.KeyKind(d.str(f, "kind")),
		Hostname:       d.str(f, "hostname"),
		PackageName:    d.str(f, "apk_package_name"),
		AcceptAnyToken: d.boolean(f, "accept_any_token"),
	}
	for _, k := range []struct{ name, val, what string }{
		{"sitekey", s.SiteKey, "the public key pages use"},
		{"secret", s.Secret, "the private key backends send"},
	} {
		path := join(f.path, k.name)
		switch {
		case k.val == "" && needKeys:
			d.add(f.line, path, "required: %s, e.g. %s: 6Lc... (40 characters like Google's)", k.what, k.name)
		case len(k.val) > maxKeyLength:
			d.add(f.lineOf(k.name), path, "%d characters, more than %d", len(k.val), maxKeyLength)
		case strings.TrimSpace(k.val) != k.val:
			d.add(f.lineOf(k.name), path, "has leading or trailing spaces; remove them") // never echo a secret
		}
	}
	switch {
	case s.SiteKey != "" && s.SiteKey == s.Secret:
		d.add(f.lineOf("secret"), join(f.path, "secret"), "the same as the sitekey; a secret must differ from its sitekey")
	case s.SiteKey == mockserver.TestSiteKey || s.Secret == mockserver.TestSecret:
		d.add(f.line, f.path, "Google's test key pair is built in (it accepts any token); remove this site or use other keys")
	}
	d.kind(f, "kind", s.Kind)
	d.claimLength(f, "hostname", s.Hostname)
	d.claimLength(f, "apk_package_name", s.PackageName)
	return s
}

func (d *decoder) kind(f *fields, name string, k mockserver.KeyKind) {
	if k != "" && !k.Valid() {
		d.add(f.lineOf(name), join(f.path, name), "%q is not a key kind%s (want one of %s)", k, suggest(string(k), mockserver.KeyKinds()), list(mockserver.KeyKinds()))
	}
}

func (d *decoder) claimLength(f *fields, name, v string) {
	if len(v) > maxClaimBytes {
		d.add(f.lineOf(name), join(f.path, name), "%d bytes, more than %d", len(v), maxClaimBytes)
	}
}

// token reads a named token and returns its spec's fields (nil if none).
func (d *decoder) token(f *fields) (mockserver.NamedToken, *fields) {
	nt := mockserver.NamedToken{Token: d.str(f, "token"), Reusable: d.boolean(f, "reusable")}
	switch {
	case !f.has("token"):
		d.add(f.line, join(f.path, "token"), "required: the exact string clients send as response, e.g. token: human-login")
	case nt.Token == "":
		d.add(f.lineOf("token"), join(f.path, "token"), "empty; give the string clients send as response, e.g. human-login")
	case len(nt.Token) > mockserver.MaxTokenLength:
		d.add(f.lineOf("token"), join(f.path, "token"), "%d characters, more than %d", len(nt.Token), mockserver.MaxTokenLength)
	}
	v := f.value("spec")
	if v == nil {
		return nt, nil
	}
	spec := d.mapping(v, join(f.path, "spec"), "{kind: v3, score: 0.9, action: login}", specKeys())
	if spec != nil {
		nt.Spec = d.spec(spec)
	}
	return nt, spec
}

func (d *decoder) spec(f *fields) mockserver.TokenSpec {
	s := mockserver.TokenSpec{
		SiteKey:     d.str(f, "sitekey"),
		Kind:        mockserver.KeyKind(d.str(f, "kind")),
		OmitScore:   d.boolean(f, "omit_score"),
		Action:      d.str(f, "action"),
		Hostname:    d.str(f, "hostname"),
		PackageName: d.str(f, "apk_package_name"),
		IssuedAgo:   d.duration(f, "issued_ago"),
		Lifetime:    d.duration(f, "lifetime"),
	}
	d.kind(f, "kind", s.Kind)
	if score, ok := d.number(f, "score", "a number from 0 to 1"); ok {
		switch {
		case math.IsNaN(score) || score < 0 || score > 1:
			d.add(f.lineOf("score"), join(f.path, "score"), "%v is outside [0, 1]; v3 scores run from 0.0 (bot) to 1.0 (human)", score)
		case score == 0:
			s.Score = mockserver.ExactlyZero
		default:
			s.Score = score
		}
	}
	if s.IssuedAgo < 0 {
		d.add(f.lineOf("issued_ago"), join(f.path, "issued_ago"), "%v is negative; a token cannot be issued in the future", s.IssuedAgo)
	}
	if s.Lifetime < 0 || s.Lifetime > maxLifetime {
		d.add(f.lineOf("lifetime"), join(f.path, "lifetime"), "%v: want between 0 (default %v) and %v", s.Lifetime, mockserver.DefaultTokenLifetime, maxLifetime)
	}
	d.claimLength(f, "action", s.Action)
	d.claimLength(f, "hostname", s.Hostname)
	d.claimLength(f, "apk_package_name", s.PackageName)
	return s
}

// autoRuleID is the form of the IDs the server assigns itself.
var autoRuleID = regexp.MustCompile(`^r[0-9]+$`)

// ruleIDChars is what a rule ID may contain: it goes in admin API paths.
var ruleIDChars = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func (d *decoder) rule(f *fields) mockserver.Rule {
	r := mockserver.Rule{
		ID:          d.str(f, "id"),
		Times:       d.integer(f, "times", "a whole number: a count, 0 (once) or -1 (forever)"),
		Status:      d.integer(f, "status", "an HTTP status such as 503"),
		Body:        d.str(f, "body"),
		ContentType: d.str(f, "content_type"),
		Fault:       mockserver.Fault(d.str(f, "fault")),
		Delay:       d.duration(f, "delay"),
	}
	if v := f.value("match"); v != nil {
		if m := d.mapping(v, join(f.path, "match"), "{token: outage}", matchKeys()); m != nil {
			r.Match = mockserver.Match{Token: d.str(m, "token"), Secret: d.str(m, "secret"), RemoteIP: d.str(m, "remoteip")}
		}
	}
	if v := f.value("error_codes"); v != nil && v.Kind == yaml.SequenceNode {
		r.ErrorCodes = []string{} // [] answers success false with no codes at all
	}
	for i, n := range d.sequence(f, "error_codes", "[timeout-or-duplicate]", maxErrorCodes) {
		path := fmt.Sprintf("%s[%d]", join(f.path, "error_codes"), i)
		if isNull(n) || resolve(n).Kind != yaml.ScalarNode || resolve(n).Value == "" {
			d.add(lineOf(resolve(n)), path, "want an error code such as timeout-or-duplicate, got %s", describe(n))
			continue
		}
		r.ErrorCodes = append(r.ErrorCodes, resolve(n).Value)
	}
	d.checkRule(f, r)
	return r
}

// checkRule reports values the server would refuse and combinations in
// which one field silently overrides another.
func (d *decoder) checkRule(f *fields, r mockserver.Rule) {
	at := func(name string) (int, string) { return f.lineOf(name), join(f.path, name) }
	start := len(d.errs) + d.more
	switch {
	case r.ID == "" && f.has("id"):
		line, path := at("id")
		d.add(line, path, "empty; leave id out and the server numbers the rule")
	case r.ID == "":
	case autoRuleID.MatchString(r.ID):
		line, path := at("id")
		d.add(line, path, "%q looks like the IDs the server assigns (r1, r2, ...); choose a name such as outage", r.ID)
	case !ruleIDChars.MatchString(r.ID):
		line, path := at("id")
		d.add(line, path, "%q: use 1 to 64 letters, digits, '.', '_' or '-' (it appears in /__admin/rules/{id})", r.ID)
	}
	if r.Times < mockserver.Forever {
		line, path := at("times")
		d.add(line, path, "%d: want a count, 0 (once) or -1 (forever)", r.Times)
	}
	if r.Status != 0 && (r.Status < 100 || r.Status > 599) {
		line, path := at("status")
		d.add(line, path, "%d is not an HTTP status (100-599)", r.Status)
	}
	if r.Delay < 0 || r.Delay > mockserver.MaxRuleDelay {
		line, path := at("delay")
		d.add(line, path, "%v: want between 0 and %v", r.Delay, mockserver.MaxRuleDelay)
	}
	if len(r.Body) > maxBodyBytes {
		line, path := at("body")
		d.add(line, path, "%d bytes, more than %d", len(r.Body), maxBodyBytes)
	}
	if r.Fault != "" && !knownFault(r.Fault) {
		line, path := at("fault")
		d.add(line, path, "%q is not a fault%s (want one of %s)", r.Fault, suggest(string(r.Fault), mockserver.Faults()), list(mockserver.Faults()))
	}
	switch {
	case r.Fault != "" && r.Body != "":
		line, path := at("body")
		d.add(line, path, "a rule with a fault sends no body; remove body or fault")
	case r.Fault != "" && r.ErrorCodes != nil:
		line, path := at("error_codes")
		d.add(line, path, "a rule with a fault sends no error codes; remove error_codes or fault")
	case r.Fault != "" && r.Fault != mockserver.FaultHTMLError && r.Status != 0:
		line, path := at("status")
		d.add(line, path, "only fault html-error sends a status; remove status")
	case r.Body != "" && r.ErrorCodes != nil:
		line, path := at("error_codes")
		d.add(line, path, "body wins over error_codes; keep one")
	case r.ContentType != "" && r.Body == "":
		line, path := at("content_type")
		d.add(line, path, "applies only with body; add a body or remove content_type")
	case r.Fault == "" && r.Body == "" && r.ErrorCodes == nil && r.Status == 0 && r.Delay == 0:
		d.add(f.line, f.path, "does nothing: set fault, body, error_codes, status or delay")
	}
	if len(d.errs)+d.more > start {
		return
	}
	// The server's own check, in case it knows something this file does not.
	if err := r.Validate(); err != nil {
		msg := strings.TrimPrefix(err.Error(), "rule "+r.ID+": ")
		d.add(f.line, f.path, "%s", msg)
	}
}

func knownFault(f mockserver.Fault) bool {
	for _, k := range mockserver.Faults() {
		if k == f {
			return true
		}
	}
	return false
}
