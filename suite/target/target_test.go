package target

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

const good = `
name: shop
kind: v3
sitekey: 6LcSiteKeyForTests000000000000000000000a
secret: 6LcSecretForTests0000000000000000000000b
start:
  command: [python3, app.py, --port, "{{port}}"]
  env:
    RECAPTCHA_VERIFY_URL: "{{verify_url}}"
    RECAPTCHA_SECRET: "{{secret}}"
endpoints:
  - url: "http://127.0.0.1:{{port}}/api/login"
    body: json
    fields: {username: alice, meta: {remember: true}}
    action: login
    hostnames: [shop.example.com]
  - name: contact
    method: get
    url: "http://127.0.0.1:{{port}}/contact"
    token: {in: header, name: X-Captcha}
    action: contact
    hostnames: [shop.example.com]
    min_score: 0.7
    client_ip_header: none
    classify:
      accepted: {status: [302], header: {name: Location, contains: /thanks}}
      rejected: {status: [302], header: {name: Location, contains: /error}}
classify:
  accepted: {status: [200], json: {path: ok, equals: true}}
  rejected: {status: [403, 503]}
outage:
  answer_within: 2s
pages:
  - name: login
    url: "http://127.0.0.1:{{port}}/login"
    form: "#login-form"
    submit: "#submit"
    fields: {"#username": alice}
    success: {selector: "#result.success", text: Welcome}
    rejected: {selector: "#result.rejected"}
`

func TestParseDefaults(t *testing.T) {
	tg, err := Parse([]byte(good), "targets/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if tg.Name != "shop" || tg.Provider != "recaptcha" || tg.Kind != mockserver.V3 || tg.Dir != "targets" {
		t.Errorf("top level = %q %q %q %q", tg.Name, tg.Provider, tg.Kind, tg.Dir)
	}
	if tg.Start.ReadyTimeout.D() != DefaultReadyTimeout || tg.Start.StopTimeout.D() != DefaultStopTimeout {
		t.Errorf("start defaults = %v %v", tg.Start.ReadyTimeout, tg.Start.StopTimeout)
	}
	ep := tg.Endpoints[0]
	if ep.Name != "POST /api/login" || ep.Method != "POST" || ep.Token.In != TokenInField || ep.Token.Name != "gRecaptchaResponse" ||
		*ep.MinScore != 0.5 || ep.ClientIPHeader != "X-Forwarded-For" {
		t.Errorf("endpoint 0 = %+v", ep)
	}
	if tg.EffectiveClassify(&ep) != &tg.Classify {
		t.Errorf("endpoint 0 should use the top-level classify section")
	}
	ep = tg.Endpoints[1]
	if ep.Method != "GET" || ep.Body != BodyQuery || *ep.MinScore != 0.7 || ep.ClientIPHeader != NoClientIPHeader {
		t.Errorf("endpoint 1 = %+v", ep)
	}
	if tg.Outage.Policy != FailClosed || tg.Outage.AnswerWithin.D() != 2*time.Second {
		t.Errorf("outage = %+v", tg.Outage)
	}
	if tg.Pages[0].Kind != mockserver.V3 {
		t.Errorf("page kind = %q, want the target's", tg.Pages[0].Kind)
	}
	if got := tg.Where("endpoints[1].min_score"); got != "targets/shop.yaml:23" {
		t.Errorf("Where = %q", got)
	}

	x, err := tg.Expand(Vars{VerifyURL: "http://m/v", MockURL: "http://m", Secret: "S", SiteKey: "K", Port: 4242})
	if err != nil {
		t.Fatal(err)
	}
	if x.Start.Command[3] != "4242" || x.Start.Env["RECAPTCHA_VERIFY_URL"] != "http://m/v" || x.Endpoints[0].URL != "http://127.0.0.1:4242/api/login" {
		t.Errorf("expanded = %v %v %v", x.Start.Command, x.Start.Env, x.Endpoints[0].URL)
	}
	if tg.Start.Command[3] != "{{port}}" {
		t.Errorf("Expand changed the original")
	}
	if _, err := tg.Expand(Vars{}); err == nil {
		t.Errorf("Expand without a port: no error")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // each must appear in the error text
	}{
		{"empty", "", []string{"x.yaml: file is empty"}},
		{"unknown field", "kind: v3\nsitekey: a\nsecret: b\nendpoints:\n  - url: http://x/\n    acton: login\n",
			[]string{`x.yaml:6: endpoints[0].acton: unknown field; did you mean "action"? (known: name, method, url,`}},
		{"unknown top field", "kind: v3\ncolour: red\n", []string{`x.yaml:2: colour: unknown field (known: name, provider, kind, sitekey,`}},
		{"bad type", "kind: v3\nsitekey: a\nsecret: b\nendpoints:\n  - url: http://x/\n    action: a\n    hostnames: [h]\n    min_score: high\nclassify: {accepted: {status: [200]}, rejected: {status: [403]}}\n",
			[]string{`x.yaml:8: endpoints[0].min_score: want a number, got "high" (a string)`}},
		{"bad duration", "kind: v3\noutage: {answer_within: soon}\n", []string{`x.yaml:2: outage.answer_within: want a duration such as "3s"`}},
		{"missing things", "kind: v3\n", []string{
			"x.yaml: sitekey: required", "secret: required", "endpoints: required",
			"classify.accepted: required", "classify.rejected: required"}},
		{"kind", "kind: v4\n", []string{`x.yaml:1: kind: unknown Google reCAPTCHA kind "v4"; use one of v3, v2-checkbox, v2-invisible, android`}},
		{"kind of another provider", "kind: turnstile\n", []string{`x.yaml:1: kind: "turnstile" is a Cloudflare Turnstile kind, and the provider is recaptcha; set provider: turnstile, or use one of v3, v2-checkbox, v2-invisible, android`}},
		{"hcaptcha kind", "provider: hcaptcha\nkind: v3\n", []string{`x.yaml:2: kind: "v3" is a Google reCAPTCHA kind, and the provider is hcaptcha; set provider: recaptcha, or use one of hcaptcha, hcaptcha-enterprise`}},
		{"unknown provider", "provider: friendlycaptcha\nkind: v3\n", []string{`x.yaml:1: provider: unknown provider "friendlycaptcha"; use one of "recaptcha", "hcaptcha", "turnstile", "recaptcha-enterprise"`}},
		{"enterprise score needs action", "provider: recaptcha-enterprise\nkind: recaptcha-enterprise\nendpoints:\n  - {url: http://x/, hostnames: [h]}\n",
			[]string{"endpoints[0].action: required for kind recaptcha-enterprise: the action the page passes to grecaptcha.enterprise.execute"}},
		{"enterprise fields", "provider: recaptcha-enterprise\nkind: recaptcha-enterprise-checkbox\nproject: Bad_Project\nendpoints:\n  - {url: http://x/, hostnames: [h], min_score: 0.5, reject_reasons: [AUTOMATON]}\n",
			[]string{`x.yaml:3: project: "Bad_Project" is not a Google Cloud project ID`, "endpoints[0].min_score: only for kinds v3 and recaptcha-enterprise",
				`endpoints[0].reject_reasons[0]: unknown classification reason "AUTOMATON"; use some of AUTOMATION,`}},
		{"enterprise fields elsewhere", "kind: v3\nproject: shop-prod\nendpoints:\n  - {url: http://x/, action: a, hostnames: [h], reject_reasons: [AUTOMATION]}\n",
			[]string{"x.yaml:2: project: only for provider recaptcha-enterprise", "endpoints[0].reject_reasons: only for provider recaptcha-enterprise"}},
		{"cdata on v3", "kind: v3\nendpoints:\n  - {url: http://x/, action: a, cdata: c, hostnames: [h]}\n", []string{`endpoints[0].cdata: only for kind turnstile (this target is v3); remove it`}},
		{"max_score range", "provider: hcaptcha\nkind: hcaptcha-enterprise\nendpoints:\n  - {url: http://x/, max_score: 1.5, hostnames: [h]}\n", []string{`endpoints[0].max_score: 1.5 is outside [0, 1]`}},
		{"token in", "kind: v2-checkbox\nsitekey: a\nsecret: b\nendpoints:\n  - url: http://x/\n    hostnames: [h]\n    token: {in: cookie}\n",
			[]string{`x.yaml:7: endpoints[0].token.in: unknown value "cookie"; use one of field, header`}},
		{"v3 needs action", "kind: v3\nsitekey: a\nsecret: b\nendpoints:\n  - url: http://x/\n    hostnames: [h]\n",
			[]string{"endpoints[0].action: required for kind v3"}},
		{"android fields", "kind: android\nsitekey: a\nsecret: b\nendpoints:\n  - url: http://x/\n    hostnames: [h]\n    action: x\n",
			[]string{"endpoints[0].package_names: required for kind android", "endpoints[0].hostnames: not used for kind android", "endpoints[0].action: only for kinds v3, turnstile, recaptcha-enterprise"}},
		{"port without start", "kind: v2-checkbox\nsitekey: a\nsecret: b\nendpoints:\n  - url: \"http://x:{{port}}/\"\n    hostnames: [h]\n",
			[]string{"x.yaml:5: endpoints[0].url: {{port}} needs a start section"}},
		{"unknown placeholder", "kind: v2-checkbox\nstart:\n  command: [x, \"{{prot}}\"]\n  ready_url: http://x/\n",
			[]string{"x.yaml:3: start.command[1]: unknown placeholder {{prot}}"}},
		{"challenge needs classify", "kind: v2-checkbox\nsitekey: a\nsecret: b\noutage: {policy: challenge}\nclassify: {accepted: {status: [200]}, rejected: {status: [403]}}\nendpoints: [{url: 'http://x/', hostnames: [h]}]\n",
			[]string{"classify.challenge: required with outage.policy challenge"}},
		{"same keys", "kind: v2-checkbox\nsitekey: a\nsecret: a\n", []string{"secret: must differ from sitekey"}},
		{"min score decimals", "kind: v3\nsitekey: a\nsecret: b\nendpoints: [{url: 'http://x/', hostnames: [h], action: a, min_score: 0.1234}]\n",
			[]string{"endpoints[0].min_score: 0.1234 has more than three decimals"}},
		{"matcher empty", "kind: v2-checkbox\nclassify: {accepted: {}, rejected: {json: {path: ok}}}\n",
			[]string{"classify.accepted: give at least one condition", "classify.rejected.json.equals: required"}},
		{"page", "kind: v3\npages:\n  - url: http://x/\n    kind: android\n",
			[]string{"pages[0].name: required", "pages[0].kind: browser flows support", "pages[0].form: required", "pages[0].success.selector: required"}},
		{"two docs", "kind: v3\n---\nkind: v2\n", []string{"x.yaml:2: a second YAML document (after ---); put everything in one document"}},
		{"list for mapping", "kind: v3\nstart: [a, b]\n", []string{"x.yaml:2: start: want a mapping such as {command: ..., dir: ..., env: ...", "...}, got a list"}},
		{"bad yaml", "kind: v3\n  x: : y\n", []string{"x.yaml:2: invalid YAML"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "x.yaml")
			if err == nil {
				t.Fatalf("no error")
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %T is not target.Errors", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLoadFixtures(t *testing.T) {
	files, err := filepath.Glob("../../fixtures/targets/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixture targets: %v", err)
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%v", err)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v", err)
	}
}

func TestParseEnterprise(t *testing.T) {
	const src = `
provider: recaptcha-enterprise
kind: recaptcha-enterprise
start:
  command: [app, "{{port}}"]
  env: {PROJECT: "{{project}}", ASSESS: "{{verify_url}}"}
endpoints:
  - url: "http://127.0.0.1:{{port}}/login"
    action: login
    hostnames: [shop.example.com]
    reject_reasons: [AUTOMATION, TOO_MUCH_TRAFFIC]
classify:
  accepted: {status: [200]}
  rejected: {status: [403]}
`
	tg, err := Parse([]byte(src), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ep := tg.Endpoints[0]
	if tg.Project != mockserver.EnterpriseTestProject || ep.Token.Name != "g-recaptcha-response" || *ep.MinScore != DefaultMinScore || len(ep.RejectReasons) != 2 {
		t.Errorf("defaults: project %q, token %q, min_score %v, reasons %v", tg.Project, ep.Token.Name, *ep.MinScore, ep.RejectReasons)
	}
	x, err := tg.Expand(Vars{VerifyURL: "http://m/v1/projects/shop-prod/assessments", Project: "shop-prod", Port: 1})
	if err != nil {
		t.Fatal(err)
	}
	if x.Start.Env["PROJECT"] != "shop-prod" || x.Start.Env["ASSESS"] != "http://m/v1/projects/shop-prod/assessments" {
		t.Errorf("expanded env %v", x.Start.Env)
	}
	// A checkbox key needs no action; a project number is a project.
	cb := strings.Replace(strings.Replace(src, "kind: recaptcha-enterprise\n", "kind: recaptcha-enterprise-checkbox\nproject: \"123456789012\"\n", 1), "    action: login\n", "", 1)
	if tg, err := Parse([]byte(cb), "x.yaml"); err != nil || tg.Project != "123456789012" || tg.Endpoints[0].MinScore != nil {
		t.Errorf("checkbox: %v", err)
	}
}
