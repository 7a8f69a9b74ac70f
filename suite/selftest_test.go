package suite_test

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/siteverify/siteverify/fixtures/refbackend"
	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/suite"
	"github.com/siteverify/siteverify/suite/target"
)

// The self-test proves the catalog: the correct reference backend fails no
// case, and each deliberately flawed variant fails exactly the cases its
// flaw should trip. Every case must be tripped by a flaw that trips it
// alone, on every key kind the case applies to (TestSelfTestCoversCatalog).
//
// Fixture targets: v3 is fixtures/targets/refbackend.yaml, v2 is
// refbackend-v2.yaml (v2-checkbox, form body), v2-invisible is the same
// file with kind v2-invisible and client_ip_header none (so the backend's
// own view of the connection is the client address), android is
// refbackend-android.yaml (JSON body, token in a header).
type variant struct {
	name    string
	fixture string // v3, v2, v2-invisible, android
	flaws   string
	policy  string // outage policy of both the backend and the target; "" keeps fail-closed
	want    []string
}

// Fixture sets for narrow flaws.
var (
	// allKinds has one reCAPTCHA Enterprise fixture, the score key's: the
	// checkbox key's runs the Enterprise flaws (entFixtures), which is
	// where the two differ.
	allKinds = []string{"v3", "v2", "v2-invisible", "android", "hcaptcha", "hcaptcha-enterprise", "turnstile", "enterprise"}
	// siteverifyFixtures are the fixtures of siteverify providers, for the
	// flaws of a success:false answer, which an assessment has not.
	siteverifyFixtures = []string{"v3", "v2", "v2-invisible", "android", "hcaptcha", "hcaptcha-enterprise", "turnstile"}
	entFixtures        = []string{"enterprise", "enterprise-checkbox"}
	entScore           = []string{"v3", "enterprise"}
	// recaptchaKinds are the reCAPTCHA fixtures; bodyOnly the providers
	// that read the request body only (hCaptcha, Turnstile).
	recaptchaKinds = []string{"v3", "v2", "v2-invisible", "android"}
	bodyOnly       = []string{"hcaptcha", "hcaptcha-enterprise", "turnstile"}
	// resendKinds are those WIRE-008 and WIRE-009 apply to: a Turnstile
	// retry reuses its idempotency key (WIRE-010).
	resendKinds = []string{"v3", "v2", "v2-invisible", "android", "hcaptcha", "hcaptcha-enterprise", "enterprise"}
	webKinds    = []string{"v3", "v2", "v2-invisible", "hcaptcha", "hcaptcha-enterprise", "turnstile", "enterprise", "enterprise-checkbox"}
	v3Kind      = []string{"v3"}
	hcKinds     = []string{"hcaptcha", "hcaptcha-enterprise"}
	// fieldTokenKinds are the fixtures that send the token in a body field,
	// which can carry any character (android's travels in a header).
	fieldTokenKinds = []string{"v3", "v2", "v2-invisible", "hcaptcha", "hcaptcha-enterprise", "turnstile", "enterprise"}
)

// narrow lists flaws that trip exactly one case (or, where noted, a known
// small set) on each of the given fixtures. The comment after each row
// names the case's check that the flaw isolates.
var narrow = []struct {
	flaws    string
	fixtures []string
	want     []string
}{
	{"success-as-string", []string{"v2", "v2-invisible", "android"}, []string{"ACCEPT-001"}},
	{"score-ceiling", entScore, []string{"ACCEPT-001"}},
	{"score-strict-greater", entScore, []string{"ACCEPT-002"}},
	{"score-not-compared", entScore, []string{"REJECT-001"}},
	{"missing-score-as-pass", v3Kind, []string{"REJECT-002"}},
	{"no-action-check", v3Kind, []string{"REJECT-003", "REJECT-015"}}, // no check: a missing action passes too
	{"no-hostname-check", webKinds, []string{"REJECT-004"}},
	{"no-package-check", []string{"android"}, []string{"REJECT-005"}},
	{"skip-when-absent", allKinds, []string{"REJECT-006"}},
	{"skip-when-empty", allKinds, []string{"REJECT-007"}},
	{"undecodable-token-passes", allKinds, []string{"REJECT-008"}},        // the forged token
	{"crash-on-odd-token", allKinds, []string{"REJECT-008"}},              // odd characters, in a field or a header
	{"crash-on-non-ascii-token", fieldTokenKinds, []string{"REJECT-008"}}, // the odd token's non-ASCII character, in a field
	{"crash-on-long-token", allKinds, []string{"REJECT-009"}},
	{"invalid-response-as-pass", siteverifyFixtures, []string{"REJECT-010"}},
	{"unseen-duplicate-as-pass", allKinds, []string{"REJECT-011"}},
	{"own-duplicate-as-pass", allKinds, []string{"REJECT-012"}},
	{"unknown-code-as-pass", siteverifyFixtures, []string{"REJECT-013"}},
	{"no-codes-as-pass", siteverifyFixtures, []string{"REJECT-014"}},
	{"no-codes-own-site-as-pass", siteverifyFixtures, []string{"REJECT-014"}}, // the legacy answer names the site in its kind's field
	{"verify-twice", allKinds, []string{"WIRE-001"}},
	{"local-replay-cache", allKinds, []string{"WIRE-002"}},
	// Siteverify accepts no secret but the right one, so WIRE-003 never
	// fails alone: with a fallback to the secret, only WIRE-001 joins it.
	{"sitekey-first", append(recaptchaKinds, "turnstile"), []string{"WIRE-001", "WIRE-003"}},
	// The sitekey sent as the secret is redacted wherever it appears in
	// the journal, so the sitekey field of that call shows no sitekey.
	{"sitekey-first", hcKinds, []string{"WIRE-001", "WIRE-003", "WIRE-011"}},
	{"secret-in-query", recaptchaKinds, []string{"WIRE-004"}},
	// A body-only provider does not see a secret in the URL: no secret.
	{"secret-in-query", bodyOnly, []string{"ACCEPT-001", "WIRE-003", "WIRE-004"}},
	{"secret-also-in-query", siteverifyFixtures, []string{"WIRE-004"}}, // the journal says form; the query has it too
	{"token-in-query", []string{"v3", "v2", "v2-invisible", "android"}, []string{"WIRE-005"}},
	// hCaptcha and Turnstile read the body only: a token in the query is no token.
	{"token-in-query", []string{"hcaptcha", "hcaptcha-enterprise", "turnstile"}, []string{"ACCEPT-001", "WIRE-005"}},
	{"no-remoteip", allKinds, []string{"WIRE-006"}},                                     // v2-invisible: the no-header branch
	{"remoteip-from-connection", []string{"v3", "v2", "android"}, []string{"WIRE-006"}}, // the client's address, not any address
	{"verify-without-token", allKinds, []string{"WIRE-007"}},
	{"verify-absent-token", allKinds, []string{"WIRE-007"}},
	{"verify-empty-token", allKinds, []string{"WIRE-007"}},
	{"retry-on-error", resendKinds, []string{"WIRE-008", "WIRE-009"}}, // a timeout is a transport error too
	{"fail-open-on-500", allKinds, []string{"OUTAGE-001"}},
	{"fail-open-on-503", siteverifyFixtures, []string{"OUTAGE-002"}},
	{"body-over-status", allKinds, []string{"OUTAGE-002"}}, // the 503 carries a success body
	{"fail-open-on-html", allKinds, []string{"OUTAGE-003"}},
	{"lenient-json", allKinds, []string{"OUTAGE-004"}},
	{"fail-open-on-read-error", allKinds, []string{"OUTAGE-005"}},
	{"fail-open-on-reset", allKinds, []string{"OUTAGE-006"}},
	{"no-timeout", allKinds, []string{"OUTAGE-007"}},                      // no answer at all
	{"retry-on-timeout", resendKinds, []string{"OUTAGE-007", "WIRE-009"}}, // an answer, but after answer_within, and the token resent
	{"retry-on-timeout", []string{"turnstile"}, []string{"OUTAGE-007"}},   // with its idempotency key: a safe resend, but late
	{"config-error-as-outage", allKinds, []string{"OUTAGE-008"}},
	{"leak-hostname", allKinds, []string{"LEAK-001"}},
	{"leak-challenge-ts", allKinds, []string{"LEAK-001"}},
	{"leak-score-header", entScore, []string{"LEAK-001"}},  // the score, in a header
	{"leak-reason", entScore, []string{"LEAK-001"}},        // the low-score probe
	{"leak-failure-score", entScore, []string{"LEAK-001"}}, // the score of the failed answer of the first probe

	// Issue 9's cases, and the narrow flaws that keep the checks they
	// overlap proven alone (fixtures/refbackend/moreflaws.go).
	{"action-not-compared", v3Kind, []string{"REJECT-003"}},
	{"action-absent-as-v2", v3Kind, []string{"REJECT-015"}},
	{"retry-unless-timeout", resendKinds, []string{"WIRE-008"}},
	{"retry-within-budget", resendKinds, []string{"WIRE-009"}},
	{"hedged-request", resendKinds, []string{"WIRE-009"}},  // the held call still open when the backend answers (M52)
	{"slow-timeout", allKinds, []string{"OUTAGE-007"}},     // one call, answered after answer_within
	{"outage-error-text", allKinds, []string{"LEAK-002"}},  // exception text
	{"outage-raw-answer", allKinds, []string{"LEAK-002"}},  // siteverify's answer
	{"outage-stack-trace", allKinds, []string{"LEAK-002"}}, // a stack trace
	{"outage-error-codes", allKinds, []string{"LEAK-002"}}, // the 503 probe's JSON error code (M54)
	// Up but wedged: the fresh token after the closed connection is
	// refused (M55).
	{"breaker-after-closed-connection", allKinds, []string{"OUTAGE-009"}},
	// The secret in an answer; in the output: TestProcessFlaws.
	{"outage-request-echo", allKinds, []string{"LEAK-003"}},
	// Answers at its timeout, the held call left open (Promise.race
	// without an abort): one call, in time, so no case fails, and WIRE-009
	// must pass, not skip (statuses; suite/MUTATIONS.md G27).
	{"race-timeout-without-abort", resendKinds, nil},
	// The same with a 6 s timeout: answered after answer_within
	// (OUTAGE-007) but before the mock answers WIRE-009's held call, so
	// WIRE-009 still passes (statuses), which only its request timeout
	// beyond the hold lets it see (G27).
	{"slow-timeout,race-timeout-without-abort", v3Kind, []string{"OUTAGE-007"}},
	{"outage-names-upstream", allKinds, []string{"LEAK-002"}}, // the mock's host:port without the path (G29)

	// Issue 10: what only one provider has (fixtures/refbackend/providers.go).
	{"no-action-check", []string{"turnstile"}, []string{"REJECT-003"}},
	{"no-sitekey", hcKinds, []string{"WIRE-011"}},
	{"no-risk-check", []string{"hcaptcha-enterprise"}, []string{"REJECT-016"}},
	{"no-cdata-check", []string{"turnstile"}, []string{"REJECT-017"}},
	{"retry-without-key", []string{"turnstile"}, []string{"WIRE-010"}},
	// One flaw per check of the provider cases (suite/MUTATIONS.md M61, M63-M65).
	{"fixed-risk-threshold", []string{"hcaptcha-enterprise"}, []string{"REJECT-016"}}, // a 0.9 bot, below a fixed 0.95
	{"cdata-presence-only", []string{"turnstile"}, []string{"REJECT-017"}},            // another session's cdata
	{"new-key-after-transport-error", []string{"turnstile"}, []string{"WIRE-010"}},    // the lost-answer probe
	{"new-key-after-internal-error", []string{"turnstile"}, []string{"WIRE-010"}},     // the internal-error probe
	{"new-key-on-second-retry", []string{"turnstile"}, []string{"WIRE-010"}},          // the third call's key (M66)

	// Issue 12: reCAPTCHA Enterprise (fixtures/refbackend/enterprise.go).
	{"ignores-valid-false", []string{"enterprise"}, []string{"ENT-001"}},
	{"unspecified-reason-as-valid", entFixtures, []string{"ENT-001"}}, // ENT-001's invalidReason as Google spells it
	// Without a score threshold nothing else refuses an expired or
	// replayed token: its assessment still names its hostname and action.
	{"ignores-valid-false", []string{"enterprise-checkbox"}, []string{"REJECT-011", "REJECT-012", "ENT-001"}},
	{"invalid-reason-as-success", entFixtures, []string{"ENT-002"}},
	{"no-action-check", entFixtures, []string{"ENT-003"}},
	{"action-not-compared", entFixtures, []string{"ENT-003"}},
	{"ignores-reasons", entFixtures, []string{"ENT-004"}},
	{"api-error-fail-open", entFixtures, []string{"ENT-005"}},
	{"logs-api-key-in-url", entFixtures, []string{"ENT-006"}},
	// 503 is also Google's UNAVAILABLE envelope.
	{"fail-open-on-503", []string{"enterprise"}, []string{"OUTAGE-002", "ENT-005"}},
	{"sitekey-first", []string{"enterprise"}, []string{"WIRE-001", "WIRE-003"}},
	// ?key= is Google's documented way to send the API key (wire-facts
	// §2.1): WIRE-004 does not apply, and no case fails.
	{"secret-also-in-query", []string{"enterprise"}, nil},
	{"secret-in-query", []string{"enterprise"}, nil},
	// The assessments API reads the token from the JSON event only.
	{"token-in-query", []string{"enterprise"}, []string{"ACCEPT-001", "ACCEPT-002", "WIRE-005"}},
}

// variants is every run of the self-test: correct backends, the narrow
// flaws on each of their fixtures, and the broad composites.
var variants = append(append([]variant{
	// Correct integrations fail nothing, whatever the kind or policy.
	{name: "correct v3", fixture: "v3"},
	{name: "correct v3 fail-open", fixture: "v3", policy: target.FailOpen},
	{name: "correct v3 challenge", fixture: "v3", policy: target.Challenge},
	{name: "correct v2-checkbox", fixture: "v2"},
	{name: "correct v2-invisible", fixture: "v2-invisible"},
	{name: "correct android", fixture: "android"},
	{name: "correct android fail-open", fixture: "android", policy: target.FailOpen},
	{name: "correct hcaptcha", fixture: "hcaptcha"},
	{name: "correct hcaptcha-enterprise", fixture: "hcaptcha-enterprise"},
	{name: "correct turnstile", fixture: "turnstile"},
	{name: "correct turnstile fail-open", fixture: "turnstile", policy: target.FailOpen},
	{name: "correct enterprise", fixture: "enterprise"},
	{name: "correct enterprise fail-open", fixture: "enterprise", policy: target.FailOpen},
	{name: "correct enterprise challenge", fixture: "enterprise", policy: target.Challenge},
	{name: "correct enterprise-checkbox", fixture: "enterprise-checkbox"},
	// The edges of what the cases compute what they send from.
	{name: "correct hcaptcha-enterprise max_score 0.95", fixture: "hcaptcha-enterprise-lenient"},
	{name: "correct hcaptcha-enterprise max_score 1", fixture: "hcaptcha-enterprise-any-score"},
	{name: "correct hcaptcha-enterprise max_score 0.05", fixture: "hcaptcha-enterprise-strict"},
	{name: "correct turnstile cdata another-session", fixture: "turnstile-cdata-clash"},
}, expandNarrow()...), []variant{
	// Reading hCaptcha's score as reCAPTCHA's refuses safe users and lets
	// bots in.
	{fixture: "hcaptcha-enterprise", flaws: "score-not-inverted", want: []string{"ACCEPT-001", "REJECT-016"}},
	// Broad flaws: realistic composites with their exact sets.
	// The same token is refused for being expired or replayed alike.
	{fixture: "v3", flaws: "accept-duplicate", want: []string{"REJECT-011", "REJECT-012"}},
	{fixture: "v3", flaws: "no-score-check", want: []string{"REJECT-001", "REJECT-002"}},
	{fixture: "v3", flaws: "fail-open", want: outageCases},
	// Google answers invalid-input-secret, so valid tokens are refused too.
	{fixture: "v3", flaws: "sitekey-as-secret", want: []string{"ACCEPT-001", "ACCEPT-002", "WIRE-003"}},
	{fixture: "android", flaws: "sitekey-as-secret", want: []string{"ACCEPT-001", "WIRE-003"}},
	// Google reads nothing from a JSON body: no secret, no token, no remoteip.
	{fixture: "v3", flaws: "json-body", want: []string{"ACCEPT-001", "ACCEPT-002", "WIRE-003", "WIRE-005", "WIRE-006"}},
	{fixture: "v3", flaws: "success-as-string", want: []string{"ACCEPT-001", "ACCEPT-002"}},
	{fixture: "v3", flaws: "skip-when-missing", want: []string{"REJECT-006", "REJECT-007"}},
	{fixture: "v3", flaws: "leak-score", want: []string{"LEAK-001"}},
	{fixture: "android", flaws: "leak-score", want: []string{"LEAK-001"}},
	// Any HTTP 200 passes: every refusal siteverify itself makes, and
	// every 200 that is not a verdict.
	{fixture: "v3", flaws: "status-only", want: statusOnlyV3},
	{fixture: "v3", flaws: "unknown-error-as-pass", want: []string{"REJECT-013", "REJECT-014"}},
	{fixture: "v3", flaws: "cache-verdict", want: []string{"REJECT-012", "WIRE-002"}},
	// Without a client IP header the connection's address is the client's.
	{fixture: "v2-invisible", flaws: "remoteip-from-connection"},
	// Reasons on v2 name neither score nor hostname.
	{fixture: "v2", flaws: "leak-reason"},

	// Combinations and other kinds and policies.
	// Sending a missing token to siteverify and trusting any 200 lets
	// requests without a token through.
	{fixture: "v3", flaws: "verify-without-token,status-only",
		want: append([]string{"REJECT-006", "REJECT-007", "WIRE-007"}, statusOnlyV3...)},
	{fixture: "v2", flaws: "status-only", want: []string{"REJECT-004", "REJECT-008", "REJECT-010", "REJECT-011", "REJECT-012",
		"REJECT-013", "REJECT-014", "OUTAGE-003", "OUTAGE-004", "OUTAGE-005", "OUTAGE-008", "LEAK-001"}},
	{fixture: "android", flaws: "fail-open", want: outageCases},
	{fixture: "v3", flaws: "fail-open", policy: target.Challenge, want: outageCases},
	{fixture: "v3", flaws: "config-error-as-outage", policy: target.FailOpen, want: []string{"OUTAGE-008"}},
	// Under a fail-open policy an outage is accepted anyway: the narrow
	// outage flaws change nothing, but the hang must still be answered in time.
	{fixture: "v3", flaws: "fail-open-on-500,fail-open-on-html", policy: target.FailOpen},
	{fixture: "v3", flaws: "retry-on-timeout", policy: target.FailOpen, want: []string{"OUTAGE-007", "WIRE-009"}},
	// A 6 s timeout, then a resend: WIRE-009 must hold the first call
	// past answer_within, not only past the fixtures' 2 s timeout
	// (suite/MUTATIONS.md G21).
	{fixture: "v3", flaws: "slow-timeout,retry-on-timeout", want: []string{"OUTAGE-007", "WIRE-009"}},
	// A test-environment skip accepts everything without a call: every
	// case that needs a refusal, a call or the policy's outage answer
	// catches it, so "never accept without a call" needs no case of its own.
	{fixture: "v3", flaws: "skip-verify", want: skipVerifyV3},
	{fixture: "android", flaws: "skip-verify", want: skipVerifyAndroid},
	// In process the backend's log goes nowhere the harness reads, and it
	// sends the secret in no answer: LEAK-003 passes here, and fails in
	// TestProcessFlaws, where the harness starts the backend.
	{fixture: "v3", flaws: "log-secret"},
	// Enterprise: a backend that fails open lets every API error through,
	// as its policy says, and api-error-fail-open changes nothing then.
	{fixture: "enterprise", flaws: "fail-open", want: append(slices.Clone(outageCases), "ENT-005")},
	{fixture: "enterprise", flaws: "api-error-fail-open", policy: target.FailOpen},
}...)

func expandNarrow() []variant {
	var out []variant
	for _, n := range narrow {
		for _, f := range n.fixtures {
			out = append(out, variant{fixture: f, flaws: n.flaws, want: n.want})
		}
	}
	return out
}

var (
	// skip-verify: everything but ACCEPT-*, WIRE-007 (no call without a
	// token) and LEAK-002 (no outage answer to judge).
	skipVerifyV3 = []string{"REJECT-001", "REJECT-002", "REJECT-003", "REJECT-004", "REJECT-006", "REJECT-007", "REJECT-008",
		"REJECT-009", "REJECT-010", "REJECT-011", "REJECT-012", "REJECT-013", "REJECT-014", "REJECT-015",
		"WIRE-001", "WIRE-002", "WIRE-003", "WIRE-004", "WIRE-005", "WIRE-006", "WIRE-008", "WIRE-009",
		"OUTAGE-001", "OUTAGE-002", "OUTAGE-003", "OUTAGE-004", "OUTAGE-005", "OUTAGE-006", "OUTAGE-007", "OUTAGE-008", "LEAK-001"}
	skipVerifyAndroid = []string{"REJECT-005", "REJECT-006", "REJECT-007", "REJECT-008",
		"REJECT-009", "REJECT-010", "REJECT-011", "REJECT-012", "REJECT-013", "REJECT-014",
		"WIRE-001", "WIRE-002", "WIRE-003", "WIRE-004", "WIRE-005", "WIRE-006", "WIRE-008", "WIRE-009",
		"OUTAGE-001", "OUTAGE-002", "OUTAGE-003", "OUTAGE-004", "OUTAGE-005", "OUTAGE-006", "OUTAGE-007", "OUTAGE-008", "LEAK-001"}
	outageCases  = []string{"OUTAGE-001", "OUTAGE-002", "OUTAGE-003", "OUTAGE-004", "OUTAGE-005", "OUTAGE-006", "OUTAGE-007"}
	statusOnlyV3 = []string{"REJECT-001", "REJECT-002", "REJECT-003", "REJECT-004", "REJECT-008", "REJECT-010", "REJECT-011",
		"REJECT-012", "REJECT-013", "REJECT-014", "REJECT-015", "OUTAGE-003", "OUTAGE-004", "OUTAGE-005", "OUTAGE-008", "LEAK-001"}
)

var fixtureFiles = map[string]string{
	"v3":      "../fixtures/targets/refbackend.yaml",
	"v2":      "../fixtures/targets/refbackend-v2.yaml",
	"android": "../fixtures/targets/refbackend-android.yaml",

	"hcaptcha":            "../fixtures/targets/refbackend-hcaptcha.yaml",
	"hcaptcha-enterprise": "../fixtures/targets/refbackend-hcaptcha-enterprise.yaml",
	"turnstile":           "../fixtures/targets/refbackend-turnstile.yaml",

	"enterprise":          "../fixtures/targets/refbackend-enterprise.yaml",
	"enterprise-checkbox": "../fixtures/targets/refbackend-enterprise-checkbox.yaml",
}

// tweakedFixtures are fixtures made from another one (fixtureFiles'
// entry) by a change to the target, which the reference backend follows
// too: other kinds, and the values the cases compute what they send
// from, at their edges.
var tweakedFixtures = map[string]struct {
	base  string
	tweak func(*target.Target)
}{
	"v2-invisible": {"v2", func(tg *target.Target) {
		tg.Kind = mockserver.V2Invisible
		tg.Endpoints[0].ClientIPHeader = target.NoClientIPHeader
		if tg.Start != nil { // the process self-test starts it
			tg.Start.Env["REFBACKEND_KIND"] = string(mockserver.V2Invisible)
		}
	}},
	// REJECT-016's bot score must be over the threshold (1, not 0.9).
	"hcaptcha-enterprise-lenient": {"hcaptcha-enterprise", maxScore(0.95)},
	// No score is a bot: REJECT-016 skips.
	"hcaptcha-enterprise-any-score": {"hcaptcha-enterprise", maxScore(1)},
	// A safe user's score must be under 0.1 (exactly 0).
	"hcaptcha-enterprise-strict": {"hcaptcha-enterprise", maxScore(0.05)},
	// REJECT-017's other cdata must differ from this one.
	"turnstile-cdata-clash": {"turnstile", func(tg *target.Target) { tg.Endpoints[0].CData = "another-session" }},
}

// loadFixture loads a fixture's target, tweaked if it is one of
// tweakedFixtures.
func loadFixture(fixture string) (*target.Target, error) {
	tw, tweaked := tweakedFixtures[fixture]
	if !tweaked {
		return target.Load(fixtureFiles[fixture])
	}
	tg, err := target.Load(fixtureFiles[tw.base])
	if err == nil {
		tw.tweak(tg)
	}
	return tg, err
}

func maxScore(v float64) func(*target.Target) {
	return func(tg *target.Target) { tg.Endpoints[0].MaxScore = &v }
}

// refTarget serves the reference backend in process for a fixture target
// and returns the target pointed at it (start section removed), the mock,
// and a function that stops both. The backend's configuration is read from
// the target, so the two cannot disagree.
func refTarget(fixture, flaws, policy string) (*target.Target, *mockserver.Server, func(), error) {
	tg, err := loadFixture(fixture)
	if err != nil {
		return nil, nil, nil, err
	}
	if policy != "" {
		tg.Outage.Policy = policy
	}
	fl, err := refbackend.ParseFlaws(flaws)
	if err != nil {
		return nil, nil, nil, err
	}
	timeout, err := startFlag(tg, "-timeout")
	if err != nil {
		return nil, nil, nil, err
	}
	ep := tg.Endpoints[0]
	cfg := refbackend.Config{Secret: tg.Secret, SiteKey: tg.SiteKey, Kind: string(tg.Kind), Action: ep.Action, CData: ep.CData,
		Hostnames: append(ep.Hostnames, ep.PackageNames...), Outage: tg.Outage.Policy, Timeout: timeout, Flaws: fl,
		RejectReasons: ep.RejectReasons}
	if ep.MinScore != nil {
		cfg.MinScore = *ep.MinScore
	}
	if ep.MaxScore != nil {
		cfg.MaxScore = *ep.MaxScore
	}
	m, err := mockserver.NewServer(mockserver.Options{})
	if err != nil {
		return nil, nil, nil, err
	}
	verifyURL := m.URL() + tg.ProviderValue().VerifyPath()
	if tg.ProviderValue() == mockserver.Enterprise {
		verifyURL = m.URL() + "/v1/projects/" + tg.Project + "/assessments" // {{verify_url}}: the target's project
	}
	cfg.VerifyURL = verifyURL
	h, err := refbackend.New(cfg)
	if err != nil {
		m.Close()
		return nil, nil, nil, err
	}
	srv := httptest.NewServer(h)
	// The mock first: it releases a backend stuck on a hung siteverify call.
	stop := func() { m.Close(); srv.Close() }
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	x, err := tg.Expand(target.Vars{VerifyURL: verifyURL, MockURL: m.URL(), Project: tg.Project, Port: p})
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	x.Start = nil
	return x, m, stop, nil
}

// startFlag reads a duration flag of the refbackend command in the
// target's start section.
func startFlag(tg *target.Target, name string) (time.Duration, error) {
	cmd := tg.Start.Command
	for i := 0; i+1 < len(cmd); i++ {
		if cmd[i] == name {
			return time.ParseDuration(cmd[i+1])
		}
	}
	return 0, fmt.Errorf("%s: start.command has no %s", tg.File, name)
}

func variantName(name, fixture, flaws, policy string) string {
	if name != "" {
		return name
	}
	n := fixture + " " + flaws
	if policy != "" {
		n += " " + policy
	}
	return n
}

// variantOutcome is what one self-test run gave.
type variantOutcome struct {
	tg  *target.Target
	cfg suite.Config
	rep suite.Report
	err error
}

// runVariant runs the whole catalog against the reference backend of v.
func runVariant(v variant, seed int64) variantOutcome {
	tg, m, stop, err := refTarget(v.fixture, v.flaws, v.policy)
	if err != nil {
		return variantOutcome{err: err}
	}
	defer stop()
	cfg := suite.Config{Target: tg, Mock: m, Strict: true, Seed: seed}
	rep, err := suite.Run(context.Background(), cfg)
	return variantOutcome{tg: tg, cfg: cfg, rep: rep, err: err}
}

// diagnoses are what a case's failure must say for a flaw ("flaws ID"),
// where the case names the likely cause beyond the expected and actual
// answers: the hint is part of what the case promises.
var diagnoses = map[string]string{
	"crash-on-long-token REJECT-009":    "(a server error: did it crash?)",
	"no-timeout OUTAGE-007":             "no answer after",
	"config-error-as-outage OUTAGE-008": "(a configuration error treated as an outage and let through)",
	"ignores-valid-false ENT-001":       "(an invalid token judged by its score: tokenProperties.valid was not read)",
	"no-action-check ENT-003":           "(tokenProperties.action \"conform_other_action\" was not compared with",
	"action-absent-as-v2 REJECT-015":    "(an answer without an action was judged without the action check, as if it came from a v2 key)",
	"score-not-inverted REJECT-016":     "is a bot: 1 is the riskiest; read as reCAPTCHA's it looks human)",
	// The mock's host:port alone names the siteverify URL.
	"outage-names-upstream LEAK-002": "siteverify answering HTTP 500 with Google's HTML error page, the backend shows the siteverify URL (",
}

// statuses are the results a case must have for a flaw ("flaws ID", or
// "fixture: flaws ID" for one fixture) where passing and skipping differ:
// a case that cannot see what it tests says so instead of passing.
var statuses = map[string]suite.Status{
	// The reference backend retries a lost answer with its idempotency key.
	"turnstile: correct WIRE-010":             suite.StatusPassed,
	"turnstile-cdata-clash: correct WIRE-010": suite.StatusPassed,
	// Every score is accepted: no bot score can be sent.
	"hcaptcha-enterprise-any-score: correct REJECT-016": suite.StatusSkipped,
	// The backend waited for the held call: no resend after a timeout
	// could be seen (OUTAGE-007 fails the wait).
	"no-timeout WIRE-009": suite.StatusSkipped,
	// The backend answered at its timeout, before the mock answered the
	// held call, which it left open: it gave up, and sent nothing more.
	"race-timeout-without-abort WIRE-009":              suite.StatusPassed,
	"slow-timeout,race-timeout-without-abort WIRE-009": suite.StatusPassed,
}

// transcripts are what a step of a case's report must say ("flaws ID",
// "correct" for the correct backend): what each request sent, and why
// none was answered.
var transcripts = map[string]string{
	"correct REJECT-006":    "sent no token → ",
	"correct REJECT-007":    "sent an empty token → ",
	"correct REJECT-008":    "sent a forged token (520 plausible characters",
	"no-timeout OUTAGE-007": "(no answer within ",
}

// hangRelease is when the mock lets go of OUTAGE-007's hung call, after
// answer_within: twice the case's margin (4 s). The case must have ended
// before, which proves it did not wait for the mock.
const hangRelease = 8 * time.Second

// selfTestRuns is how many variants run at once: each is mostly idle
// (the hang case waits 2 s), but the requests around it need the CPU.
var selfTestRuns = 8 * runtime.GOMAXPROCS(0)

// TestSelfTest runs every selected variant at once: each subtest starts
// its run before it calls t.Parallel, so the runs overlap whatever
// -parallel says (they mostly wait: the hang case alone takes the
// backend's 2 s timeout), and -run filters choose which variants run, e.g.
// -run 'TestSelfTest/.*leak'.
func TestSelfTest(t *testing.T) {
	t.Parallel()
	seed := time.Now().UnixNano()
	t.Logf("case order seed: %d (variants with an odd index run shuffled)", seed)
	start := time.Now()
	var wg sync.WaitGroup
	// Bound the runs at once: with all of them together the backends'
	// 2 s siteverify timeout expires on a loaded machine before the mock
	// is scheduled to answer.
	running := make(chan struct{}, selfTestRuns)
	t.Cleanup(func() {
		wg.Wait()
		t.Logf("variants ran in %v", time.Since(start).Round(time.Millisecond))
	})
	for i, v := range variants {
		t.Run(variantName(v.name, v.fixture, v.flaws, v.policy), func(t *testing.T) {
			var vseed int64
			if i%2 == 1 {
				vseed = seed + int64(i)
			}
			done := make(chan variantOutcome, 1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				running <- struct{}{}
				defer func() { <-running }()
				done <- runVariant(v, vseed)
			}()
			t.Parallel()
			o := <-done
			if o.err != nil {
				t.Fatal(o.err)
			}
			got := o.rep.Failed()
			want := slices.Clone(v.want)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				var b strings.Builder
				o.rep.WriteConsole(&b, false)
				t.Errorf("seed %d: failing cases = %v, want %v\n%s", o.cfg.Seed, got, want, b.String())
			}
			for _, r := range o.rep.Results {
				if r.HarnessError {
					t.Errorf("%s: harness error: %s", r.ID, r.Actual)
				}
				flaws := cmp.Or(v.flaws, "correct")
				if d, ok := diagnoses[flaws+" "+r.ID]; ok && r.Status == suite.StatusFailed && !strings.Contains(r.Actual, d) {
					t.Errorf("%s: the failure %q does not say %q", r.ID, r.Actual, d)
				}
				want, ok := statuses[v.fixture+": "+flaws+" "+r.ID]
				if !ok {
					want, ok = statuses[flaws+" "+r.ID]
				}
				if ok && r.Status != want {
					t.Errorf("%s: %s (%s%s), want %s", r.ID, r.Status, r.Reason, r.Actual, want)
				}
				if want, ok := transcripts[flaws+" "+r.ID]; ok && !slices.ContainsFunc(r.Steps, func(s string) bool { return strings.Contains(s, want) }) {
					t.Errorf("%s: no step says %q: %q", r.ID, want, r.Steps)
				}
				if r.ID == "OUTAGE-007" && r.Duration >= o.tg.Outage.AnswerWithin.D()+hangRelease {
					t.Errorf("OUTAGE-007 took %v: the hang case waited for the mock to let go (answer_within %v + %v)", r.Duration, o.tg.Outage.AnswerWithin, hangRelease)
				}
			}
			if v.flaws == "" {
				t.Logf("%s", o.rep.SummaryLine())
				// A safety bound only; BenchmarkCatalog reports the figure.
				if o.rep.Duration > time.Minute {
					t.Errorf("the catalog took %v against the reference backend", o.rep.Duration)
				}
			}
		})
	}
}

// BenchmarkCatalog reports how long the whole catalog takes against the
// correct reference backend (v3, fail-closed); the hang case accounts for
// the backend's 2 s siteverify timeout.
func BenchmarkCatalog(b *testing.B) {
	for b.Loop() {
		o := runVariant(variant{fixture: "v3"}, 0)
		if o.err != nil {
			b.Fatal(o.err)
		}
		if f := o.rep.Failed(); len(f) > 0 {
			b.Fatalf("correct backend failed %v", f)
		}
		b.ReportMetric(o.rep.Duration.Seconds(), "catalog-s")
	}
}

// TestSelfTestCoversCatalog checks that every case can fail (some variant
// expects it to) and every verification flaw of the reference backend has
// a variant.
func TestSelfTestCoversCatalog(t *testing.T) {
	tripped := map[string]bool{}
	flawed := map[string]bool{}
	for _, v := range variants {
		for _, id := range v.want {
			if _, ok := suite.Lookup(id); !ok {
				t.Errorf("variant %q expects unknown case %s", variantName(v.name, v.fixture, v.flaws, v.policy), id)
			}
			tripped[id] = true
		}
		for _, f := range strings.Split(v.flaws, ",") {
			flawed[f] = true
		}
	}
	for _, p := range processProven { // TestProcessFlaws
		for _, id := range p.want {
			tripped[id] = true
		}
	}
	for _, c := range suite.Catalog() {
		if !tripped[c.ID] {
			t.Errorf("no variant makes %s (%s) fail: a case no flaw can trip is not proven", c.ID, c.Title)
		}
	}
	for _, f := range refbackend.AllFlaws() {
		if !strings.HasPrefix(string(f), "page-") && !flawed[string(f)] {
			t.Errorf("reference backend flaw %q has no self-test variant", f)
		}
	}

	// Every case fails alone, under a flaw of its own, on every kind it
	// applies to; a case that cannot fail alone says why.
	notAlone := map[string]string{
		"WIRE-003": "siteverify accepts no other secret, so a wrong secret also makes some other case fail",
		"WIRE-005": "hCaptcha and Turnstile read the request body only, and reCAPTCHA Enterprise the JSON event only, so on them a token sent elsewhere is no token and a valid request fails too (on reCAPTCHA, which reads the query, token-in-query fails WIRE-005 alone)",
	}
	alone := map[string]map[mockserver.KeyKind]bool{}
	for _, p := range processProven { // TestProcessFlaws
		for _, id := range p.want {
			if len(p.want) == 1 {
				if alone[id] == nil {
					alone[id] = map[mockserver.KeyKind]bool{}
				}
				for _, f := range p.fixtures {
					alone[id][fixtureKinds[f]] = true
				}
			}
		}
	}
	for _, v := range variants {
		for _, id := range v.want {
			if len(v.want) == 1 || notAlone[id] != "" {
				if alone[id] == nil {
					alone[id] = map[mockserver.KeyKind]bool{}
				}
				alone[id][fixtureKinds[v.fixture]] = true
			}
		}
	}
	for _, c := range suite.Catalog() {
		// reCAPTCHA Enterprise: the score key, where every flaw runs (the
		// checkbox fixture runs the Enterprise flaws only).
		for _, k := range []mockserver.KeyKind{mockserver.V3, mockserver.V2Checkbox, mockserver.V2Invisible, mockserver.Android, mockserver.EnterpriseScore} {
			if c.AppliesTo(k) && !alone[c.ID][k] {
				t.Errorf("no flaw makes %s (%s) fail alone on a %s target", c.ID, c.Title, k)
			}
		}
	}
}

// fixtureKinds is the key kind of each self-test fixture.
var fixtureKinds = map[string]mockserver.KeyKind{
	"v3": mockserver.V3, "v2": mockserver.V2Checkbox, "v2-invisible": mockserver.V2Invisible, "android": mockserver.Android,
	"hcaptcha": mockserver.HCaptchaPublisher, "hcaptcha-enterprise": mockserver.HCaptchaEnterprise, "turnstile": mockserver.TurnstileStandard,
	"enterprise": mockserver.EnterpriseScore, "enterprise-checkbox": mockserver.EnterpriseCheckbox,
}

// TestRunThroughAdminAPI drives the mock through its admin API, as
// `siteverify conform --mock-url` does with a `siteverify serve` process:
// the whole catalog against the correct reference backend, and a flawed
// one, must give the same results as in process.
func TestRunThroughAdminAPI(t *testing.T) {
	t.Parallel()
	for _, v := range []struct {
		flaws string
		want  []string
	}{{"", nil}, {"secret-in-query,leak-score", []string{"WIRE-004", "LEAK-001"}}} {
		t.Run("flaws="+v.flaws, func(t *testing.T) {
			t.Parallel()
			tg, m, stop, err := refTarget("v3", v.flaws, "")
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			c, err := mockserver.Dial(context.Background(), m.URL(), mockserver.DialOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := suite.Run(context.Background(), suite.Config{Target: tg, Mock: c, Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.Failed(); !slices.Equal(got, v.want) {
				var b strings.Builder
				rep.WriteConsole(&b, false)
				t.Errorf("failing cases = %v, want %v\n%s", got, v.want, b.String())
			}
			if rules := m.Rules(); len(rules) != 0 {
				t.Errorf("the run left %d rules on the mock: %+v", len(rules), rules)
			}
		})
	}
}
