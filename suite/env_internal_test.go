package suite

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/suite/target"
)

// The TestEnv tests check what the report says of a case's tokens and
// answers, and the Env helpers the self-test's verdicts do not depend on.
// make mutate runs them with the self-test (.ci/mutate).

func TestEnvDescribeSpec(t *testing.T) {
	tests := []struct {
		spec mockserver.TokenSpec
		want string
	}{
		{mockserver.TokenSpec{Kind: mockserver.V3, Score: 0.137, Action: "login", Hostname: "a.example"},
			`v3 token (score 0.137, action "login", hostname "a.example")`},
		{mockserver.TokenSpec{Kind: mockserver.V3, Score: mockserver.ExactlyZero, Action: "login", Hostname: "a.example"},
			`v3 token (score 0, action "login", hostname "a.example")`},
		{mockserver.TokenSpec{Kind: mockserver.V3, OmitScore: true, Action: "login", Hostname: "a.example"},
			`v3 token (no score, action "login", hostname "a.example")`},
		{mockserver.TokenSpec{Kind: mockserver.Android, PackageName: "com.example.app"},
			`android token (apk_package_name "com.example.app")`},
		{mockserver.TokenSpec{Kind: mockserver.HCaptchaEnterprise, Score: 0.25, Hostname: "a.example"},
			`hcaptcha-enterprise token (score 0.25 (1 is a bot), hostname "a.example")`},
		{mockserver.TokenSpec{Kind: mockserver.HCaptchaEnterprise, Score: mockserver.ExactlyZero, Hostname: "a.example"},
			`hcaptcha-enterprise token (score 0 (1 is a bot), hostname "a.example")`},
		{mockserver.TokenSpec{Kind: mockserver.TurnstileStandard, Action: "login", CData: "s1", Hostname: "a.example"},
			`turnstile token (action "login", cdata "s1", hostname "a.example")`},
		{mockserver.TokenSpec{Kind: mockserver.EnterpriseScore, Score: 0.9, Action: "login", Hostname: "a.example"},
			`recaptcha-enterprise token (score 0.9, action "login", hostname "a.example")`},
		{mockserver.TokenSpec{Kind: mockserver.EnterpriseScore, Score: mockserver.ExactlyZero, Hostname: "a.example", Reasons: "AUTOMATION"},
			`recaptcha-enterprise token (score 0, action "` + mockserver.DefaultAction + `", hostname "a.example", reasons AUTOMATION)`},
		{mockserver.TokenSpec{Kind: mockserver.V2Checkbox, Hostname: "a.example", IssuedAgo: 3 * time.Minute},
			`v2-checkbox token (hostname "a.example", issued 3m0s ago)`},
		{mockserver.TokenSpec{Kind: mockserver.V2Checkbox, Hostname: "a.example"},
			`v2-checkbox token (hostname "a.example")`},
	}
	for _, tt := range tests {
		if got := describeSpec(tt.spec); got != tt.want {
			t.Errorf("describeSpec(%+v)\n got %s\nwant %s", tt.spec, got, tt.want)
		}
	}
}

func TestEnvResponseString(t *testing.T) {
	long := strings.Repeat("x", 200)
	tests := []struct {
		r    Response
		want string
	}{
		{Response{Status: 403, Body: []byte(" {\"ok\":false}\n"), Class: Rejected}, `HTTP 403 {"ok":false} → rejected`},
		{Response{Status: 200, Class: Accepted}, "HTTP 200 (empty body) → accepted"},
		{Response{Status: 200, Body: []byte(long), Class: Unclassified}, "HTTP 200 " + long + " → unclassified"},
		{Response{Status: 200, Body: []byte(long + "y"), Class: Unclassified}, "HTTP 200 " + long + "… → unclassified"},
		{Response{Err: errors.New("connection reset"), Duration: 1500 * time.Millisecond, Class: NoAnswer}, "no answer after 1.5s (connection reset)"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

// TestEnvHighScore checks the score valid tokens carry: 0.9, or 1.0 when
// the endpoint's threshold is 0.9 or more.
func TestEnvHighScore(t *testing.T) {
	for _, tt := range []struct {
		min  *float64
		want float64
	}{{nil, 0.9}, {ptr(0.5), 0.9}, {ptr(0.89), 0.9}, {ptr(0.9), 1.0}, {ptr(0.95), 1.0}} {
		e := &Env{ep: &target.Endpoint{MinScore: tt.min}}
		if got := e.HighScore(); got != tt.want {
			t.Errorf("threshold %v: HighScore = %v, want %v", deref(tt.min), got, tt.want)
		}
	}
}

func ptr(f float64) *float64 { return &f }

func deref(f *float64) any {
	if f == nil {
		return "none"
	}
	return *f
}

// TestEnvMintKind checks that a spec without a kind is minted, and
// described, as the target's kind.
func TestEnvMintKind(t *testing.T) {
	ctx := context.Background()
	mock := mockserver.New(t)
	site, err := mock.AddSite(ctx, mockserver.NewSite(mockserver.Android))
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{s: &Session{mock: mock, site: site}, kind: mockserver.Android}
	tok, err := e.Mint(ctx, mockserver.TokenSpec{PackageName: "com.example.app"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `android token (apk_package_name "com.example.app")`; e.notes[tok] != want {
		t.Errorf("note %q, want %q", e.notes[tok], want)
	}
}

// TestEnvRawOutput checks that only a backend the harness started has an
// output to search.
func TestEnvRawOutput(t *testing.T) {
	out := newTailBuffer(1 << 10)
	out.Write([]byte("secret=abc\n"))
	e := &Env{s: &Session{out: out}}
	if got, _, ok := e.rawOutput(); ok || got != "" {
		t.Errorf("no backend started: rawOutput = %q, %v; want nothing", got, ok)
	}
	e.s.proc = &process{}
	if got, dropped, ok := e.rawOutput(); !ok || got != "secret=abc\n" || dropped != 0 {
		t.Errorf("a started backend: rawOutput = %q, %d, %v; want its output", got, dropped, ok)
	}
}

// TestEnvDescribeClasses checks how a failure states the expected classes:
// each with the matcher that defines it.
func TestEnvDescribeClasses(t *testing.T) {
	e := &Env{classify: &target.Classify{
		Accepted:  &target.Matcher{JSON: &target.JSONMatch{Path: "ok", Equals: true}},
		Rejected:  &target.Matcher{Status: []int{403, 503}},
		Challenge: &target.Matcher{BodyContains: "challenge", Header: &target.HeaderMatch{Name: "Location", Contains: "/challenge"}},
	}}
	for _, tt := range []struct {
		want []Class
		text string
	}{
		{[]Class{Accepted}, "accepted (json ok = true)"},
		{[]Class{Rejected}, "rejected (status 403 or 503)"},
		{[]Class{Challenged}, `challenge (body contains "challenge", header Location contains "/challenge")`},
		{[]Class{Rejected, Challenged, NoAnswer}, `rejected (status 403 or 503) or challenge (body contains "challenge", header Location contains "/challenge") or no answer`},
	} {
		if got := e.describeClasses(tt.want); got != tt.text {
			t.Errorf("describeClasses(%v)\n got %s\nwant %s", tt.want, got, tt.text)
		}
	}
}

// TestEnvRuleHangs checks that a case remembers which of its rules hold
// calls unanswered, so that deleting them is known to close those calls.
func TestEnvRuleHangs(t *testing.T) {
	ctx := context.Background()
	mock := mockserver.New(t)
	e := &Env{s: &Session{mock: mock}}
	if err := e.Rule(ctx, mockserver.Rule{Match: mockserver.Match{Token: "a"}, Fault: mockserver.FaultHang}); err != nil {
		t.Fatal(err)
	}
	if err := e.Rule(ctx, mockserver.Rule{Match: mockserver.Match{Token: "b"}, Status: 503}); err != nil {
		t.Fatal(err)
	}
	if len(e.rules) != 2 || len(e.hangs) != 1 || !e.hangs[e.rules[0]] {
		t.Errorf("rules %v, hangs %v: want the first rule alone as a hang", e.rules, e.hangs)
	}
	if err := e.Rule(ctx, mockserver.Rule{Status: 503}); err == nil {
		t.Error("a rule without a token was installed")
	}
}

// TestEnvSkipShortSecret checks the shortest secret LEAK-003 and ENT-006
// look for.
func TestEnvSkipShortSecret(t *testing.T) {
	e := &Env{}
	if err := e.skipShortSecret("1234567", "the secret"); err == nil || err.Error() != "skipped: the secret is 7 characters long, too short to look for without false alarms" {
		t.Errorf("a 7-character secret: %v", err)
	}
	if err := e.skipShortSecret("12345678", "the secret"); err != nil {
		t.Errorf("an 8-character secret: %v", err)
	}
}
