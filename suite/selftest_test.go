package suite_test

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
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
// flaw should trip. Every case must be tripped by at least one variant.
//
// Fixture targets: v3 is fixtures/targets/refbackend.yaml, v2 is
// refbackend-v2.yaml (v2-checkbox, form body), android is
// refbackend-android.yaml (JSON body, token in a header).
var variants = []struct {
	name    string
	fixture string // v3, v2, v2-invisible, android
	flaws   string
	policy  string // outage policy of both the backend and the target; "" keeps fail-closed
	want    []string
}{
	// Correct integrations fail nothing, whatever the kind or policy.
	{name: "correct v3", fixture: "v3"},
	{name: "correct v3 fail-open", fixture: "v3", policy: target.FailOpen},
	{name: "correct v3 challenge", fixture: "v3", policy: target.Challenge},
	{name: "correct v2-checkbox", fixture: "v2"},
	{name: "correct v2-invisible", fixture: "v2-invisible"},
	{name: "correct android", fixture: "android"},

	// One flaw each.
	{fixture: "v3", flaws: "no-hostname-check", want: []string{"REJECT-004"}},
	{fixture: "v3", flaws: "no-action-check", want: []string{"REJECT-003"}},
	{fixture: "v3", flaws: "no-score-check", want: []string{"REJECT-001", "REJECT-002"}},
	{fixture: "v3", flaws: "missing-score-as-pass", want: []string{"REJECT-002"}},
	{fixture: "v3", flaws: "score-strict-greater", want: []string{"ACCEPT-002"}},
	{fixture: "v3", flaws: "fail-open", want: outageCases},
	{fixture: "v3", flaws: "no-timeout", want: []string{"OUTAGE-007"}},
	{fixture: "v3", flaws: "verify-twice", want: []string{"WIRE-001"}},
	{fixture: "v3", flaws: "accept-duplicate", want: []string{"REJECT-011", "REJECT-012"}},
	{fixture: "v3", flaws: "secret-in-query", want: []string{"WIRE-004"}},
	// Google answers invalid-input-secret, so valid tokens are refused too.
	{fixture: "v3", flaws: "sitekey-as-secret", want: []string{"ACCEPT-001", "ACCEPT-002", "WIRE-003"}},
	// Google reads nothing from a JSON body: no secret, no token, no remoteip.
	{fixture: "v3", flaws: "json-body", want: []string{"ACCEPT-001", "ACCEPT-002", "WIRE-003", "WIRE-005", "WIRE-006"}},
	{fixture: "v3", flaws: "no-remoteip", want: []string{"WIRE-006"}},
	// Calling siteverify without a token gets missing-input-response, which
	// the backend still rejects: only the SHOULD case notices.
	{fixture: "v3", flaws: "verify-without-token", want: []string{"WIRE-007"}},
	{fixture: "v3", flaws: "skip-when-missing", want: []string{"REJECT-006", "REJECT-007"}},
	{fixture: "v3", flaws: "leak-score", want: []string{"LEAK-001"}},
	// Any HTTP 200 passes: every refusal siteverify itself makes, and
	// every 200 that is not a verdict.
	{fixture: "v3", flaws: "status-only", want: statusOnlyV3},
	{fixture: "v3", flaws: "crash-on-long-token", want: []string{"REJECT-009"}},
	{fixture: "v3", flaws: "unknown-error-as-pass", want: []string{"REJECT-013", "REJECT-014"}},
	{fixture: "v3", flaws: "config-error-as-outage", want: []string{"OUTAGE-008"}},
	{fixture: "v3", flaws: "cache-verdict", want: []string{"REJECT-012", "WIRE-002"}},
	{fixture: "v3", flaws: "retry-on-error", want: []string{"WIRE-008"}},
	{fixture: "android", flaws: "no-package-check", want: []string{"REJECT-005"}},

	// Combinations and other kinds and policies.
	// Sending a missing token to siteverify and trusting any 200 lets
	// requests without a token through.
	{fixture: "v3", flaws: "verify-without-token,status-only",
		want: append([]string{"REJECT-006", "REJECT-007", "WIRE-007"}, statusOnlyV3...)},
	{fixture: "v2", flaws: "no-hostname-check", want: []string{"REJECT-004"}},
	{fixture: "v2", flaws: "status-only", want: []string{"REJECT-004", "REJECT-008", "REJECT-010", "REJECT-011", "REJECT-012",
		"REJECT-013", "REJECT-014", "OUTAGE-003", "OUTAGE-004", "OUTAGE-005", "OUTAGE-008", "LEAK-001"}},
	{fixture: "android", flaws: "leak-score", want: []string{"LEAK-001"}},
	{fixture: "android", flaws: "fail-open", want: outageCases},
	{fixture: "v3", flaws: "fail-open", policy: target.Challenge, want: outageCases},
	{fixture: "v3", flaws: "config-error-as-outage", policy: target.FailOpen, want: []string{"OUTAGE-008"}},
}

var (
	outageCases  = []string{"OUTAGE-001", "OUTAGE-002", "OUTAGE-003", "OUTAGE-004", "OUTAGE-005", "OUTAGE-006", "OUTAGE-007"}
	statusOnlyV3 = []string{"REJECT-001", "REJECT-002", "REJECT-003", "REJECT-004", "REJECT-008", "REJECT-010", "REJECT-011",
		"REJECT-012", "REJECT-013", "REJECT-014", "OUTAGE-003", "OUTAGE-004", "OUTAGE-005", "OUTAGE-008", "LEAK-001"}
)

var fixtureFiles = map[string]string{
	"v3":           "../fixtures/targets/refbackend.yaml",
	"v2":           "../fixtures/targets/refbackend-v2.yaml",
	"v2-invisible": "../fixtures/targets/refbackend-v2.yaml",
	"android":      "../fixtures/targets/refbackend-android.yaml",
}

// refTarget serves the reference backend in process for a fixture target
// and returns the target pointed at it (start section removed), the mock,
// and a function that stops both. The backend's configuration is read from
// the target, so the two cannot disagree.
func refTarget(fixture, flaws, policy string) (*target.Target, *mockserver.Server, func(), error) {
	tg, err := target.Load(fixtureFiles[fixture])
	if err != nil {
		return nil, nil, nil, err
	}
	if fixture == "v2-invisible" {
		tg.Kind = mockserver.V2Invisible
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
	cfg := refbackend.Config{Secret: tg.Secret, SiteKey: tg.SiteKey, Kind: string(tg.Kind), Action: ep.Action,
		Hostnames: append(ep.Hostnames, ep.PackageNames...), Outage: tg.Outage.Policy, Timeout: timeout, Flaws: fl}
	if ep.MinScore != nil {
		cfg.MinScore = *ep.MinScore
	}
	m, err := mockserver.NewServer(mockserver.Options{})
	if err != nil {
		return nil, nil, nil, err
	}
	cfg.VerifyURL = m.VerifyURL()
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
	x, err := tg.Expand(target.Vars{VerifyURL: m.VerifyURL(), MockURL: m.URL(), Port: p})
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

// TestSelfTest runs every variant at once (they mostly wait: the hang case
// alone takes the backend's 1 s timeout), then checks each in a subtest.
func TestSelfTest(t *testing.T) {
	t.Parallel()
	seed := time.Now().UnixNano()
	t.Logf("case order seed: %d (variants with an odd index run shuffled)", seed)
	type outcome struct {
		tg  *target.Target
		cfg suite.Config
		rep suite.Report
		err error
	}
	outcomes := make([]outcome, len(variants))
	var wg sync.WaitGroup
	start := time.Now()
	for i, v := range variants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tg, m, stop, err := refTarget(v.fixture, v.flaws, v.policy)
			if err != nil {
				outcomes[i].err = err
				return
			}
			defer stop()
			cfg := suite.Config{Target: tg, Mock: m, Strict: true}
			if i%2 == 1 {
				cfg.Seed = seed + int64(i)
			}
			rep, err := suite.Run(context.Background(), cfg)
			outcomes[i] = outcome{tg: tg, cfg: cfg, rep: rep, err: err}
		}()
	}
	wg.Wait()
	t.Logf("%d variants in %v", len(variants), time.Since(start).Round(time.Millisecond))

	for i, v := range variants {
		t.Run(variantName(v.name, v.fixture, v.flaws, v.policy), func(t *testing.T) {
			o := outcomes[i]
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
				if r.ID == "OUTAGE-007" && r.Duration > o.tg.Outage.AnswerWithin.D()+1500*time.Millisecond {
					t.Errorf("OUTAGE-007 took %v: the hang case must not wait much longer than answer_within (%v)", r.Duration, o.tg.Outage.AnswerWithin)
				}
			}
			if v.flaws == "" {
				t.Logf("%s", o.rep.SummaryLine())
				if o.rep.Duration > 10*time.Second {
					t.Errorf("the catalog took %v against the reference backend, want well under 10s", o.rep.Duration)
				}
			}
		})
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
