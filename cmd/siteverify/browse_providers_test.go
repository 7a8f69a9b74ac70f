package main

import (
	"slices"
	"testing"

	"github.com/siteverify/siteverify/browser"
	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/suite/target"
)

// TestPagesFromProviderTargets checks that the hCaptcha and Turnstile
// reference targets give browser pages of their kind, and that a Turnstile
// page expects the endpoint's action (FLOW-006) while hCaptcha's, whose
// tokens carry none, expects no action.
func TestPagesFromProviderTargets(t *testing.T) {
	for _, tc := range []struct {
		file   string
		kind   browser.Kind
		action string
	}{
		{"../../fixtures/targets/refbackend-hcaptcha.yaml", browser.KindHCaptcha, ""},
		{"../../fixtures/targets/refbackend-hcaptcha-enterprise.yaml", browser.KindHCaptchaEnterprise, ""},
		{"../../fixtures/targets/refbackend-turnstile.yaml", browser.KindTurnstile, "login"},
		{"../../fixtures/targets/refbackend-enterprise.yaml", browser.KindEnterprise, "login"},
		{"../../fixtures/targets/refbackend-enterprise-checkbox.yaml", browser.KindEnterpriseCheckbox, "login"},
	} {
		tg, err := target.Load(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		pages := pagesFromTarget(tg, mockserver.Site{SiteKey: tg.SiteKey, Secret: tg.Secret, Kind: tg.Kind})
		if len(pages) != 1 {
			t.Fatalf("%s: %d pages, want 1", tc.file, len(pages))
		}
		p := pages[0]
		if p.Kind != tc.kind || p.Action != tc.action || p.SiteKey != tg.SiteKey {
			t.Errorf("%s: kind %q action %q sitekey %q, want %q %q %q", tc.file, p.Kind, p.Action, p.SiteKey, tc.kind, tc.action, tg.SiteKey)
		}
		if !slices.Contains(browser.Kinds(), p.Kind) {
			t.Errorf("%s: kind %q is not a browser page kind", tc.file, p.Kind)
		}
	}
}
