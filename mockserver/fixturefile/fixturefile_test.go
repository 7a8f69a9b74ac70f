package fixturefile_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/mockserver/fixturefile"
)

// examplePath is the commented example shipped with the project; it must
// always load.
const examplePath = "../../fixtures/mock.yaml"

func TestLoadExample(t *testing.T) {
	fx, err := fixturefile.Load(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	if fx.DefaultSite.Kind != mockserver.V3 || fx.DefaultSite.Hostname != "app.example.com" {
		t.Errorf("default site = %+v", fx.DefaultSite)
	}
	if len(fx.Sites) != 2 || len(fx.Tokens) != 10 || len(fx.Rules) != 5 {
		t.Fatalf("got %d sites, %d tokens, %d rules; want 2, 10, 5", len(fx.Sites), len(fx.Tokens), len(fx.Rules))
	}
	byName := map[string]mockserver.NamedToken{}
	for _, nt := range fx.Tokens {
		byName[nt.Token] = nt
	}
	if got := byName["human-signup"].Spec; got.Action != "signup" || got.Score != 0.9 || got.Hostname != "app.example.com" {
		t.Errorf("merge key: human-signup spec = %+v", got)
	}
	if got := byName["wrong-hostname"].Spec; got.Hostname != "evil-clone.example" || got.Action != "login" {
		t.Errorf("wrong-hostname spec = %+v", got)
	}
	if got := byName["bot"].Spec.Score; got != mockserver.ExactlyZero {
		t.Errorf("score: 0 gave Score %v, want ExactlyZero", got)
	}
	if got := byName["expired"].Spec.IssuedAgo; got != 5*time.Minute {
		t.Errorf("issued_ago: 5m gave %v", got)
	}
	if r := fx.Rules[0]; r.ID != "outage" || r.Fault != mockserver.FaultHTMLError || r.Status != 503 || r.Times != mockserver.Forever {
		t.Errorf("rules[0] = %+v", r)
	}
}

// TestExampleRunsOnServer applies the example to a real server and checks
// that the named tokens and rules answer as the comments say.
func TestExampleRunsOnServer(t *testing.T) {
	fx, err := fixturefile.Load(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var opts mockserver.Options
	fx.Apply(&opts)
	s := mockserver.New(t, mockserver.WithOptions(opts))
	secret := s.Site().Secret
	if secret != "6LcMockDefaultSecret0000000000000000000AA" {
		t.Fatalf("default secret %q not applied", secret)
	}
	cases := []struct {
		secret, token string
		wantStatus    int
		want          []string
	}{
		{secret, "human-login", 200, []string{`"success": true`, `"score": 0.9`, `"action": "login"`, `"hostname": "app.example.com"`}},
		{secret, "human-login", 200, []string{`"success": true`}},
		{secret, "human-signup", 200, []string{`"action": "signup"`}},
		{secret, "bot", 200, []string{`"score": 0,`}},
		{secret, "no-score", 200, []string{`"success": true`, `"action": "submit"`}},
		{secret, "once", 200, []string{`"success": true`}},
		{secret, "once", 200, []string{"timeout-or-duplicate"}},
		{secret, "expired", 200, []string{"timeout-or-duplicate"}},
		{secret, "slow-user", 200, []string{`"success": true`}},
		{"6LcMockCheckboxSecret000000000000000000AA", "checkbox-ok", 200, []string{`"success": true`, `"hostname": "app.example.com"`}},
		{"6LcMockAndroidSecret0000000000000000000AA", "android-ok", 200, []string{`"apk_package_name": "com.example.app"`}},
		{secret, "checkbox-ok", 200, []string{"invalid-input-response"}},
		{secret, "outage", 503, []string{"That’s an error."}},
		{secret, "bad-request", 200, []string{`"bad-request"`}},
		{secret, "weird-body", 200, []string{`{"success": "yes"}`}},
	}
	for _, c := range cases {
		status, body := post(t, s, c.secret, c.token)
		if status != c.wantStatus {
			t.Errorf("%s: status %d, want %d", c.token, status, c.wantStatus)
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: answer lacks %s:\n%s", c.token, w, body)
			}
		}
	}
	if t.Failed() {
		if j, err := s.Journal(t.Context()); err == nil {
			t.Log(j.Dump())
		}
	}
}

func post(t *testing.T, s *mockserver.Server, secret, token string) (int, string) {
	t.Helper()
	form := url.Values{"secret": {secret}, "response": {token}}.Encode()
	req := httptest.NewRequest(http.MethodPost, mockserver.VerifyPath, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", "---\n", "~\n", "{}\n", "tokens: []\nrules: ~\n"} {
		fx, err := fixturefile.Parse("empty.yaml", []byte(src))
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if fx.DefaultSite != (mockserver.Site{}) || fx.Sites != nil || fx.Tokens != nil || fx.Rules != nil {
			t.Errorf("%q: got %+v, want zero Fixtures", src, fx)
		}
	}
}

func TestParseValues(t *testing.T) {
	src := `
default_site: {kind: v2-checkbox}
tokens:
  - token: 12345
    spec: {lifetime: 10m, issued_ago: 0, score: 1}
  - {token: plain}
rules:
  - {match: {secret: s, remoteip: 192.0.2.1}, times: 3, delay: 1500ms}
  - {match: {token: x}, status: 0x1F4}
  - {match: {token: y}, error_codes: []}
  - {match: {token: z}, body: "{}", status: 201}
`
	fx, err := fixturefile.Parse("values.yaml", []byte(src))
	if err == nil {
		t.Fatalf("score on a v2-checkbox default site should be refused")
	}
	src = strings.Replace(src, ", score: 1", "", 1)
	fx, err = fixturefile.Parse("values.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if fx.DefaultSite.Kind != mockserver.V2Checkbox || fx.DefaultSite.SiteKey != "" {
		t.Errorf("default site = %+v; keys should be left for the server to generate", fx.DefaultSite)
	}
	if nt := fx.Tokens[0]; nt.Token != "12345" || nt.Spec.Lifetime != 10*time.Minute || nt.Reusable {
		t.Errorf("tokens[0] = %+v", nt)
	}
	if r := fx.Rules[0]; r.Match.Secret != "s" || r.Match.RemoteIP != "192.0.2.1" || r.Times != 3 || r.Delay != 1500*time.Millisecond {
		t.Errorf("rules[0] = %+v", r)
	}
	if r := fx.Rules[1]; r.Status != 500 {
		t.Errorf("rules[1].status 0x1F4 = %d, want 500", r.Status)
	}
	if r := fx.Rules[2]; r.ErrorCodes == nil || len(r.ErrorCodes) != 0 {
		t.Errorf("rules[2].error_codes [] = %#v, want an empty, non-nil list", r.ErrorCodes)
	}
	var opts mockserver.Options
	fx.Apply(&opts)
	s := mockserver.New(t, mockserver.WithOptions(opts))
	if _, body := post(t, s, s.Site().Secret, "12345"); !strings.Contains(body, `"success": true`) {
		t.Errorf("named token 12345: %s", body)
	}
}

func TestApply(t *testing.T) {
	site := mockserver.Site{SiteKey: "6LcA", Secret: "6LcB"}
	opts := mockserver.Options{
		DefaultSite: site,
		Sites:       []mockserver.Site{{SiteKey: "6LcC", Secret: "6LcD"}},
		Rules:       []mockserver.Rule{{Status: 500}},
		JournalSize: 7,
	}
	fixturefile.Fixtures{}.Apply(&opts)
	if opts.DefaultSite != site || len(opts.Sites) != 1 || len(opts.Rules) != 1 || opts.JournalSize != 7 {
		t.Fatalf("empty fixtures changed options: %+v", opts)
	}
	fx := fixturefile.Fixtures{
		DefaultSite: mockserver.Site{Kind: mockserver.Android},
		Sites:       []mockserver.Site{{SiteKey: "6LcE", Secret: "6LcF"}},
		Tokens:      []mockserver.NamedToken{{Token: "t"}},
		Rules:       []mockserver.Rule{{Status: 503}},
	}
	fx.Apply(&opts)
	if opts.DefaultSite.Kind != mockserver.Android || len(opts.Sites) != 2 || len(opts.Tokens) != 1 || len(opts.Rules) != 2 {
		t.Fatalf("apply: %+v", opts)
	}
	if opts.Rules[0].Status != 500 || opts.Rules[1].Status != 503 {
		t.Errorf("rules out of order: %+v", opts.Rules)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := fixturefile.Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	data := []byte("# " + strings.Repeat("x", fixturefile.MaxFileSize) + "\n")
	if err := os.WriteFile(big, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := fixturefile.Load(big)
	var fe *fixturefile.Error
	if !errors.As(err, &fe) || fe.File != big || !strings.Contains(err.Error(), "larger than 4194304 bytes") {
		t.Errorf("big file: %v", err)
	}
	if _, err := fixturefile.Load(dir); err == nil {
		t.Errorf("a directory loaded without error")
	}
}

// TestEnterpriseSiteFields reads an Enterprise site's project and testing
// score, an explicit 0 as mockserver.ExactlyZero.
func TestEnterpriseSiteFields(t *testing.T) {
	fx, err := fixturefile.Parse("fx.yaml", []byte("sites:\n  - {sitekey: 6Lent, secret: AIzaKey, kind: recaptcha-enterprise, project: shop, testing_score: 0}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s := fx.Sites[0]; s.Project != "shop" || s.TestingScore != mockserver.ExactlyZero || s.Kind != mockserver.EnterpriseScore {
		t.Errorf("site = %+v", s)
	}
}
