package fixturefile

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/siteverify/siteverify/internal/strictyaml"
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
	return []string{"sitekey", "secret", "kind", "hostname", "apk_package_name", "accept_any_token", "project", "testing_score"}
}

// specFields are the token spec fields a fixtures file may set: all but
// times, since a named token is spec.issued_ago old at every verification.
func specFields() []mockserver.SpecField {
	return slices.DeleteFunc(mockserver.TokenSpecFields(), func(f mockserver.SpecField) bool { return f.Type == "time" })
}

func specKeys() []string {
	var keys []string
	for _, f := range specFields() {
		keys = append(keys, f.Name)
	}
	return keys
}

func ruleKeys() []string {
	return []string{"id", "match", "times", "fault", "status", "body", "content_type", "error_codes", "delay", "spend"}
}

// items remembers where each decoded item came from, for the cross-checks in
// validate.
type items struct {
	defaultSite *strictyaml.Fields
	sites       []*strictyaml.Fields
	tokens      []*strictyaml.Fields
	specs       []*strictyaml.Fields // nil where a token has no spec
	rules       []*strictyaml.Fields
}

func (d *decoder) decodeFile(root *yaml.Node) (Fixtures, items) {
	var fx Fixtures
	var it items
	if strictyaml.IsNull(root) {
		return fx, it // a file with only comments
	}
	top := d.Mapping(root, "", "default_site: {...}, tokens: [...]", topKeys())
	if top == nil {
		return fx, it
	}
	if v := top.Value("default_site"); v != nil {
		if f := d.Mapping(v, "default_site", "{sitekey: 6Lc..., secret: 6Lc..., kind: v3}", siteKeys()); f != nil {
			fx.DefaultSite = d.site(f, false)
			it.defaultSite = f
		}
	}
	for i, n := range d.Sequence(top, "sites", "[{sitekey: ..., secret: ...}]", maxSites) {
		path := fmt.Sprintf("sites[%d]", i)
		if f := d.Mapping(n, path, "{sitekey: ..., secret: ..., kind: v2-checkbox}", siteKeys()); f != nil {
			fx.Sites = append(fx.Sites, d.site(f, true))
			it.sites = append(it.sites, f)
		}
	}
	for i, n := range d.Sequence(top, "tokens", "[{token: human, spec: {score: 0.9}}]", maxTokens) {
		path := fmt.Sprintf("tokens[%d]", i)
		if f := d.Mapping(n, path, "{token: human, spec: {score: 0.9}}", tokenKeys()); f != nil {
			nt, spec := d.token(f)
			fx.Tokens = append(fx.Tokens, nt)
			it.tokens = append(it.tokens, f)
			it.specs = append(it.specs, spec)
		}
	}
	for i, n := range d.Sequence(top, "rules", "[{match: {token: outage}, fault: html-error}]", mockserver.MaxRules) {
		path := fmt.Sprintf("rules[%d]", i)
		if f := d.Mapping(n, path, "{match: {token: outage}, fault: html-error}", ruleKeys()); f != nil {
			fx.Rules = append(fx.Rules, d.rule(f))
			it.rules = append(it.rules, f)
		}
	}
	return fx, it
}

// site reads a site; the default site may leave its keys to the server.
func (d *decoder) site(f *strictyaml.Fields, needKeys bool) mockserver.Site {
	s := mockserver.Site{
		SiteKey:        d.Str(f, "sitekey"),
		Secret:         d.Str(f, "secret"),
		Kind:           mockserver.KeyKind(d.Str(f, "kind")),
		Hostname:       d.Str(f, "hostname"),
		PackageName:    d.Str(f, "apk_package_name"),
		AcceptAnyToken: d.Bool(f, "accept_any_token"),
		Project:        d.Str(f, "project"),
	}
	s.TestingScore = d.score(f, "testing_score", "")
	for _, k := range []struct{ name, val, what string }{
		{"sitekey", s.SiteKey, "the public key pages use"},
		{"secret", s.Secret, "the private key backends send"},
	} {
		path := strictyaml.Join(f.Path, k.name)
		switch {
		case k.val == "" && needKeys:
			d.Add(f.Line, path, "required: %s, e.g. %s: 6Lc... (40 characters like Google's)", k.what, k.name)
		case len(k.val) > maxKeyLength:
			d.Add(f.LineOf(k.name), path, "%d characters, more than %d", len(k.val), maxKeyLength)
		case strings.TrimSpace(k.val) != k.val:
			d.Add(f.LineOf(k.name), path, "has leading or trailing spaces; remove them") // never echo a secret
		}
	}
	switch {
	case s.SiteKey != "" && s.SiteKey == s.Secret:
		d.Add(f.LineOf("secret"), strictyaml.Join(f.Path, "secret"), "the same as the sitekey; a secret must differ from its sitekey")
	case s.SiteKey == mockserver.TestSiteKey || s.Secret == mockserver.TestSecret:
		d.Add(f.Line, f.Path, "Google's test key pair is built in (it accepts any token); remove this site or use other keys")
	}
	d.kind(f, "kind", s.Kind)
	d.claimLength(f, "hostname", s.Hostname)
	d.claimLength(f, "apk_package_name", s.PackageName)
	return s
}

// score reads a score field in [0, 1] (hint follows the range error): 0
// when absent, mockserver.ExactlyZero for an explicit 0.
func (d *decoder) score(f *strictyaml.Fields, name, hint string) float64 {
	score, ok := d.Number(f, name, "a number from 0 to 1")
	switch {
	case !ok:
		return 0
	case math.IsNaN(score) || score < 0 || score > 1:
		d.Add(f.LineOf(name), strictyaml.Join(f.Path, name), "%v is outside [0, 1]%s", score, hint)
		return 0
	case score == 0:
		return mockserver.ExactlyZero
	}
	return score
}

func (d *decoder) kind(f *strictyaml.Fields, name string, k mockserver.KeyKind) {
	if k != "" && !k.Valid() {
		d.Add(f.LineOf(name), strictyaml.Join(f.Path, name), "%q is not a key kind%s (want one of %s)", k, strictyaml.Suggest(string(k), mockserver.KeyKinds()), strictyaml.List(mockserver.KeyKinds()))
	}
}

func (d *decoder) claimLength(f *strictyaml.Fields, name, v string) {
	if len(v) > maxClaimBytes {
		d.Add(f.LineOf(name), strictyaml.Join(f.Path, name), "%d bytes, more than %d", len(v), maxClaimBytes)
	}
}

// token reads a named token and returns its spec's fields (nil if none).
func (d *decoder) token(f *strictyaml.Fields) (mockserver.NamedToken, *strictyaml.Fields) {
	nt := mockserver.NamedToken{Token: d.Str(f, "token"), Reusable: d.Bool(f, "reusable")}
	switch {
	case !f.Has("token"):
		d.Add(f.Line, strictyaml.Join(f.Path, "token"), "required: the exact string clients send as response, e.g. token: human-login")
	case nt.Token == "":
		d.Add(f.LineOf("token"), strictyaml.Join(f.Path, "token"), "empty; give the string clients send as response, e.g. human-login")
	case len(nt.Token) > mockserver.MaxTokenLength:
		d.Add(f.LineOf("token"), strictyaml.Join(f.Path, "token"), "%d characters, more than %d", len(nt.Token), mockserver.MaxTokenLength)
	}
	v := f.Value("spec")
	if v == nil {
		return nt, nil
	}
	spec := d.Mapping(v, strictyaml.Join(f.Path, "spec"), "{kind: v3, score: 0.9, action: login}", specKeys())
	if spec != nil {
		nt.Spec = d.spec(spec)
	}
	return nt, spec
}

func (d *decoder) spec(f *strictyaml.Fields) mockserver.TokenSpec {
	var s mockserver.TokenSpec
	for _, field := range specFields() {
		var v any
		switch field.Type {
		case "string":
			v = d.Str(f, field.Name)
		case "kind":
			v = mockserver.KeyKind(d.Str(f, field.Name))
		case "bool":
			v = d.Bool(f, field.Name)
		case "duration":
			v = d.Duration(f, field.Name)
		case "score":
			continue // read with its range check below, after the kind check
		}
		if err := field.Set(&s, v); err != nil {
			d.Fail(f.LineOf(field.Name), strictyaml.Join(f.Path, field.Name), "cannot be set in a fixtures file (%v)", err)
		}
	}
	d.kind(f, "kind", s.Kind)
	s.Score = d.score(f, "score", "; v3 scores run from 0.0 (bot) to 1.0 (human)")
	if s.IssuedAgo < 0 {
		d.Add(f.LineOf("issued_ago"), strictyaml.Join(f.Path, "issued_ago"), "%v is negative; a token cannot be issued in the future", s.IssuedAgo)
	}
	if s.Lifetime < 0 || s.Lifetime > maxLifetime {
		d.Add(f.LineOf("lifetime"), strictyaml.Join(f.Path, "lifetime"), "%v: want between 0 (default %v) and %v", s.Lifetime, mockserver.DefaultTokenLifetime, maxLifetime)
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

func (d *decoder) rule(f *strictyaml.Fields) mockserver.Rule {
	r := mockserver.Rule{
		ID:          d.Str(f, "id"),
		Times:       d.Int(f, "times", "a whole number: a count, 0 (once) or -1 (forever)"),
		Status:      d.Int(f, "status", "an HTTP status such as 503"),
		Body:        d.Str(f, "body"),
		ContentType: d.Str(f, "content_type"),
		Fault:       mockserver.Fault(d.Str(f, "fault")),
		Delay:       d.Duration(f, "delay"),
		Spend:       d.Bool(f, "spend"),
	}
	if v := f.Value("match"); v != nil {
		if m := d.Mapping(v, strictyaml.Join(f.Path, "match"), "{token: outage}", matchKeys()); m != nil {
			r.Match = mockserver.Match{Token: d.Str(m, "token"), Secret: d.Str(m, "secret"), RemoteIP: d.Str(m, "remoteip")}
		}
	}
	if v := f.Value("error_codes"); v != nil && v.Kind == yaml.SequenceNode {
		r.ErrorCodes = []string{} // [] answers success false with no codes at all
	}
	for i, n := range d.Sequence(f, "error_codes", "[timeout-or-duplicate]", maxErrorCodes) {
		path := fmt.Sprintf("%s[%d]", strictyaml.Join(f.Path, "error_codes"), i)
		if strictyaml.IsNull(n) || strictyaml.Resolve(n).Kind != yaml.ScalarNode || strictyaml.Resolve(n).Value == "" {
			d.Add(strictyaml.LineOf(strictyaml.Resolve(n)), path, "want an error code such as timeout-or-duplicate, got %s", strictyaml.Describe(n))
			continue
		}
		r.ErrorCodes = append(r.ErrorCodes, strictyaml.Resolve(n).Value)
	}
	d.checkRule(f, r)
	return r
}

// checkRule reports values the server would refuse and combinations in
// which one field silently overrides another.
func (d *decoder) checkRule(f *strictyaml.Fields, r mockserver.Rule) {
	at := func(name string) (int, string) { return f.LineOf(name), strictyaml.Join(f.Path, name) }
	start := d.Count()
	switch {
	case r.ID == "" && f.Has("id"):
		line, path := at("id")
		d.Add(line, path, "empty; leave id out and the server numbers the rule")
	case r.ID == "":
	case autoRuleID.MatchString(r.ID):
		line, path := at("id")
		d.Add(line, path, "%q looks like the IDs the server assigns (r1, r2, ...); choose a name such as outage", r.ID)
	case !ruleIDChars.MatchString(r.ID):
		line, path := at("id")
		d.Add(line, path, "%q: use 1 to 64 letters, digits, '.', '_' or '-' (it appears in /__admin/rules/{id})", r.ID)
	}
	if r.Times < mockserver.Forever {
		line, path := at("times")
		d.Add(line, path, "%d: want a count, 0 (once) or -1 (forever)", r.Times)
	}
	if r.Status != 0 && (r.Status < 100 || r.Status > 599) {
		line, path := at("status")
		d.Add(line, path, "%d is not an HTTP status (100-599)", r.Status)
	}
	if r.Delay < 0 || r.Delay > mockserver.MaxRuleDelay {
		line, path := at("delay")
		d.Add(line, path, "%v: want between 0 and %v", r.Delay, mockserver.MaxRuleDelay)
	}
	if len(r.Body) > maxBodyBytes {
		line, path := at("body")
		d.Add(line, path, "%d bytes, more than %d", len(r.Body), maxBodyBytes)
	}
	if r.Fault != "" && !knownFault(r.Fault) {
		line, path := at("fault")
		d.Add(line, path, "%q is not a fault%s (want one of %s)", r.Fault, strictyaml.Suggest(string(r.Fault), mockserver.Faults()), strictyaml.List(mockserver.Faults()))
	}
	switch {
	case r.Fault != "" && r.Body != "":
		line, path := at("body")
		d.Add(line, path, "a rule with a fault sends no body; remove body or fault")
	case r.Fault != "" && r.ErrorCodes != nil:
		line, path := at("error_codes")
		d.Add(line, path, "a rule with a fault sends no error codes; remove error_codes or fault")
	case r.Fault != "" && r.Fault != mockserver.FaultHTMLError && r.Status != 0:
		line, path := at("status")
		d.Add(line, path, "only fault html-error sends a status; remove status")
	case r.Body != "" && r.ErrorCodes != nil:
		line, path := at("error_codes")
		d.Add(line, path, "body wins over error_codes; keep one")
	case r.ContentType != "" && r.Body == "":
		line, path := at("content_type")
		d.Add(line, path, "applies only with body; add a body or remove content_type")
	case r.Fault == "" && r.Body == "" && r.ErrorCodes == nil && r.Status == 0 && r.Delay == 0:
		d.Add(f.Line, f.Path, "does nothing: set fault, body, error_codes, status or delay")
	}
	if d.Count() > start {
		return
	}
	// The server's own check, in case it knows something this file does not.
	if err := r.Validate(); err != nil {
		msg := strings.TrimPrefix(err.Error(), "rule "+r.ID+": ")
		d.Add(f.Line, f.Path, "%s", msg)
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
