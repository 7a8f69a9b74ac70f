package mockserver

import (
	"crypto/rand"
	"fmt"
	"slices"
)

// KeyKind is the type of a key, which decides its provider and the fields
// of a siteverify answer.
type KeyKind string

// Key kinds. The wire names are the ones used in fixtures files, target
// files and the admin API.
const (
	V3          KeyKind = "v3"           // reCAPTCHA score-based; answers carry score and action
	V2Checkbox  KeyKind = "v2-checkbox"  // reCAPTCHA "I'm not a robot" checkbox
	V2Invisible KeyKind = "v2-invisible" // reCAPTCHA invisible badge, challenge on execute
	Android     KeyKind = "android"      // reCAPTCHA Android; answers carry apk_package_name

	HCaptchaPublisher  KeyKind = "hcaptcha"            // hCaptcha (publisher): answers carry hostname and credit
	HCaptchaEnterprise KeyKind = "hcaptcha-enterprise" // hCaptcha Enterprise: answers add score (1 is a bot) and score_reason
	TurnstileStandard  KeyKind = "turnstile"           // Cloudflare Turnstile, any widget mode: answers carry action, cdata and metadata

	EnterpriseScore    KeyKind = "recaptcha-enterprise"          // reCAPTCHA Enterprise score key: assessments carry riskAnalysis.score, reasons and action
	EnterpriseCheckbox KeyKind = "recaptcha-enterprise-checkbox" // reCAPTCHA Enterprise checkbox key: a v2-style widget, assessed like a score key
)

// Valid reports whether k is one of the known key kinds.
func (k KeyKind) Valid() bool { return k.Provider() != nil }

// Provider is the provider whose keys are of this kind, nil for an unknown
// kind.
func (k KeyKind) Provider() *Provider {
	for _, p := range Providers() {
		if slices.Contains(p.kinds, k) {
			return p
		}
	}
	return nil
}

// KeyKinds lists the known key kinds of every provider, for messages and
// documentation.
func KeyKinds() []KeyKind {
	var out []KeyKind
	for _, p := range Providers() {
		out = append(out, p.kinds...)
	}
	return out
}

// Site is a registered key pair: the public sitekey the page uses and the
// secret the backend sends to siteverify.
type Site struct {
	// SiteKey is the public key, e.g. "6LcXXXX…" (reCAPTCHA), a UUID
	// (hCaptcha) or "0x4AAAAAAA…" (Turnstile).
	SiteKey string `json:"sitekey"`
	// Secret is the private key the backend sends as the "secret" parameter.
	Secret string `json:"secret"`
	// Kind is the key type; empty means V3.
	Kind KeyKind `json:"kind,omitempty"`
	// Hostname is the default hostname of tokens minted for this site when the
	// token spec names none; empty means "localhost".
	Hostname string `json:"hostname,omitempty"`
	// PackageName is the default apk_package_name of Android tokens; empty
	// means "com.example.app".
	PackageName string `json:"apk_package_name,omitempty"`
	// AcceptAnyToken makes every non-empty token verify, never spent, never
	// expired, as Google's test secret does.
	AcceptAnyToken bool `json:"accept_any_token,omitempty"`
	// Project is a reCAPTCHA Enterprise site's Google Cloud project ID, the
	// {project} of its assessments URL; empty means EnterpriseTestProject.
	// Its Secret is the project's API key.
	Project string `json:"project,omitempty"`
	// TestingScore is a reCAPTCHA Enterprise key's testingOptions.testingScore:
	// every valid assessment of the site's tokens answers it (ExactlyZero
	// for 0.0); 0 means none.
	TestingScore float64 `json:"testing_score,omitempty"`
}

// testingScore is the site's testing score, if it has one.
func (s Site) testingScore() (float64, bool) {
	switch {
	case s.TestingScore == 0:
		return 0, false
	case s.TestingScore == ExactlyZero:
		return 0, true
	}
	return s.TestingScore, true
}

func (s Site) withDefaults() Site {
	if s.Kind == "" {
		s.Kind = V3
	}
	if s.Hostname == "" {
		s.Hostname = "localhost"
	}
	if s.PackageName == "" {
		s.PackageName = "com.example.app"
	}
	if s.Project == "" && (s.Kind == EnterpriseScore || s.Kind == EnterpriseCheckbox) {
		s.Project = EnterpriseTestProject
	}
	return s
}

func (s Site) validate() error {
	switch {
	case s.SiteKey == "":
		return fmt.Errorf("site: sitekey is empty")
	case s.Secret == "":
		return fmt.Errorf("site %s: secret is empty", s.SiteKey)
	case s.Secret == s.SiteKey:
		return fmt.Errorf("site %s: secret must differ from the sitekey", s.SiteKey)
	case len(s.SiteKey) > 256 || len(s.Secret) > 256:
		return fmt.Errorf("site %s: sitekey and secret must be at most 256 characters", abbreviate(s.SiteKey))
	case s.TestingScore != 0 && s.TestingScore != ExactlyZero && !(s.TestingScore > 0 && s.TestingScore <= 1):
		return fmt.Errorf("site %s: testing_score %v is outside [0, 1] (ExactlyZero, or -1 in JSON, for 0.0)", abbreviate(s.SiteKey), s.TestingScore)
	case (s.Project != "" || s.TestingScore != 0) && s.Kind.Provider() != Enterprise:
		return fmt.Errorf("site %s: project and testing_score are reCAPTCHA Enterprise settings, and its kind is %s", abbreviate(s.SiteKey), s.Kind)
	case len(s.Project) > 64:
		return fmt.Errorf("site %s: project is longer than 64 characters", abbreviate(s.SiteKey))
	case s.Kind != "" && !s.Kind.Valid():
		return fmt.Errorf("site %s: unknown kind %q (want one of %v)", s.SiteKey, s.Kind, KeyKinds())
	}
	return nil
}

// siteTables are the registered sites and named tokens. Reset builds new
// ones and swaps them in under Server.mu in one step, so a verification sees
// the old tables or the new, never a half-built one (Google's test key is in
// both).
type siteTables struct {
	defaultSite Site
	byProvider  map[*Provider]Site // each provider's default site (defaultSite for its own)
	bySiteKey   map[string]Site
	bySecret    map[string]Site
	fpBySecret  map[string]string // Fingerprint of each registered secret
	named       map[string]*namedState
}

func newSiteTables(def Site) siteTables {
	return siteTables{defaultSite: def, bySiteKey: map[string]Site{}, bySecret: map[string]Site{},
		fpBySecret: map[string]string{}, named: map[string]*namedState{}}
}

// prepareSite generates empty keys, validates and fills defaults.
func prepareSite(site Site) (Site, error) {
	site.generateKeys()
	if err := site.validate(); err != nil {
		return Site{}, err
	}
	return site.withDefaults(), nil
}

// add registers a prepared site.
func (t *siteTables) add(site Site) (Site, error) {
	if old, ok := t.bySiteKey[site.SiteKey]; ok && old != site {
		return Site{}, fmt.Errorf("site %s: sitekey already registered", site.SiteKey)
	}
	if old, ok := t.bySecret[site.Secret]; ok && old.SiteKey != site.SiteKey {
		return Site{}, fmt.Errorf("site %s: secret already used by site %s", site.SiteKey, old.SiteKey)
	}
	if len(t.bySiteKey) >= maxSites {
		return Site{}, fmt.Errorf("too many sites (%d)", maxSites)
	}
	t.bySiteKey[site.SiteKey] = site
	t.bySecret[site.Secret] = site
	t.fpBySecret[site.Secret] = Fingerprint(site.Secret)
	return site, nil
}

// siteFor is the site a token spec names: sitekey, or the default site of
// the kind's provider (the default site when kind is empty).
func (t *siteTables) siteFor(siteKey string, kind KeyKind) (Site, error) {
	if siteKey == "" {
		if p := kind.Provider(); p != nil && p != t.defaultSite.Kind.Provider() {
			if site, ok := t.byProvider[p]; ok {
				return site, nil
			}
		}
		return t.defaultSite, nil
	}
	site, ok := t.bySiteKey[siteKey]
	if !ok {
		return Site{}, fmt.Errorf("unknown sitekey %q: register the site first", abbreviate(siteKey))
	}
	return site, nil
}

const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// NewSite returns a site of the given kind with fresh random keys shaped like
// its provider's (for Google, 40 characters starting "6L").
func NewSite(kind KeyKind) Site {
	s := Site{Kind: kind}
	s.generateKeys()
	return s.withDefaults()
}

// generateKeys fills an empty sitekey or secret with a random one shaped
// like the kind's provider's.
func (s *Site) generateKeys() {
	if s.SiteKey != "" && s.Secret != "" {
		return
	}
	p := s.Kind.Provider()
	if p == nil {
		p = ReCAPTCHA // an unknown kind is refused by validate; any keys will do
	}
	siteKey, secret := p.newKeys()
	if s.SiteKey == "" {
		s.SiteKey = siteKey
	}
	if s.Secret == "" {
		s.Secret = secret
	}
}

func randomKey() string {
	b := make([]byte, 38)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	for i := range b {
		b[i] = keyAlphabet[int(b[i])%len(keyAlphabet)]
	}
	return "6L" + string(b)
}

func abbreviate(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}
