package main

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

const (
	testSiteKey = "6LcBinaryTestSiteKey00000000000000000000"
	testSecret  = "6LcBinaryTestSecret000000000000000000000"
)

const testFixtures = `
default_site: {sitekey: ` + testSiteKey + `, secret: ` + testSecret + `, kind: v3, hostname: app.example.com}
tokens:
  - token: human-login
    reusable: true
    spec: {score: 0.9, action: login}
`

// Exact answers, as Google lays them out.
const (
	duplicateAnswer = "{\n  \"success\": false,\n  \"error-codes\": [\n    \"timeout-or-duplicate\"\n  ]\n}"
	missingAnswer   = "{\n  \"success\": false,\n  \"error-codes\": [\n    \"missing-input-response\",\n    \"missing-input-secret\"\n  ]\n}"
	jsonType        = "application/json; charset=utf-8"
)

// successAnswer matches a v3 success answer exactly, with the timestamp
// in whole seconds and Z.
func successAnswer(score, action string) *regexp.Regexp {
	return regexp.MustCompile(`^\{\n  "success": true,\n  "challenge_ts": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",\n  "hostname": "app\.example\.com",\n  "score": ` +
		regexp.QuoteMeta(score) + `,\n  "action": "` + regexp.QuoteMeta(action) + `"\n\}$`)
}

// issue mints a token through the admin API.
func issue(t *testing.T, s *served, spec string, header ...string) string {
	t.Helper()
	a := httpDo(t, http.MethodPost, s.url+"/__admin/tokens", "application/json", spec, header...)
	if a.status != http.StatusCreated {
		t.Fatalf("POST /__admin/tokens %s: %d %s", spec, a.status, a.body)
	}
	var iss struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(a.body), &iss); err != nil || !strings.HasPrefix(iss.Token, "03A") || iss.ExpiresAt.IsZero() {
		t.Fatalf("POST /__admin/tokens answer %s: %v", a.body, err)
	}
	return iss.Token
}

// TestBinaryServe drives a real `siteverify serve` process over HTTP through
// the whole verify and admin surface, then stops it with SIGTERM.
func TestBinaryServe(t *testing.T) {
	fixtures := filepath.Join(t.TempDir(), "mock.yaml")
	writeFile(t, fixtures, testFixtures)
	s := startServe(t, nil, "serve", "--addr", "127.0.0.1:0", "--fixtures", fixtures, "--log-level", "debug")
	verifyURL := s.url + "/recaptcha/api/siteverify"

	t.Run("issued token verifies once", func(t *testing.T) {
		tok := issue(t, s, `{"score": 0.7, "action": "login"}`)
		a := verifyForm(t, s, testSecret, tok)
		if a.status != http.StatusOK || a.contentType != jsonType || !successAnswer("0.7", "login").MatchString(a.body) {
			t.Errorf("first verification: %d %s\n%s", a.status, a.contentType, a.body)
		}
		if a := verifyForm(t, s, testSecret, tok); a.status != http.StatusOK || a.body != duplicateAnswer {
			t.Errorf("second verification: %d\n%s", a.status, a.body)
		}
	})
	t.Run("empty POST", func(t *testing.T) {
		if a := httpDo(t, http.MethodPost, verifyURL, "application/x-www-form-urlencoded", ""); a.status != http.StatusOK || a.body != missingAnswer {
			t.Errorf("%d\n%s", a.status, a.body)
		}
	})
	t.Run("GET query string", func(t *testing.T) {
		tok := issue(t, s, `{}`)
		q := url.Values{"secret": {testSecret}, "response": {tok}}.Encode()
		if a := httpDo(t, http.MethodGet, verifyURL+"?"+q, "", ""); !successAnswer("0.9", "submit").MatchString(a.body) {
			t.Errorf("%d\n%s", a.status, a.body)
		}
	})
	t.Run("JSON body counts as no parameters", func(t *testing.T) {
		tok := issue(t, s, `{}`)
		body := `{"secret": "` + testSecret + `", "response": "` + tok + `"}`
		if a := httpDo(t, http.MethodPost, verifyURL, "application/json", body); a.status != http.StatusOK || a.body != missingAnswer {
			t.Errorf("%d\n%s", a.status, a.body)
		}
	})
	t.Run("named reusable token from fixtures", func(t *testing.T) {
		for i := range 2 {
			if a := verifyForm(t, s, testSecret, "human-login"); !successAnswer("0.9", "login").MatchString(a.body) {
				t.Errorf("verification %d: %d\n%s", i+1, a.status, a.body)
			}
		}
	})
	t.Run("clock advance expires a token", func(t *testing.T) {
		tok := issue(t, s, `{}`)
		if a := httpDo(t, http.MethodPost, s.url+"/__admin/clock", "application/json", `{"advance": "3m"}`); a.status != http.StatusOK || !strings.Contains(a.body, `"offset": "3m0s"`) {
			t.Fatalf("POST /__admin/clock: %d %s", a.status, a.body)
		}
		if a := verifyForm(t, s, testSecret, tok); a.body != duplicateAnswer {
			t.Errorf("token after 3m: %s", a.body)
		}
	})
	t.Run("admin refuses unknown JSON fields", func(t *testing.T) {
		a := httpDo(t, http.MethodPost, s.url+"/__admin/tokens", "application/json", `{"scor": 0.5}`)
		var e struct {
			Error string `json:"error"`
		}
		if a.status != http.StatusBadRequest || json.Unmarshal([]byte(a.body), &e) != nil || !strings.Contains(e.Error, `unknown field "scor"`) {
			t.Errorf("%d %s", a.status, a.body)
		}
	})
	t.Run("rule answers an HTML 503 once", func(t *testing.T) {
		if a := httpDo(t, http.MethodPost, s.url+"/__admin/rules", "application/json", `{"fault": "html-error", "status": 503}`); a.status != http.StatusCreated {
			t.Fatalf("POST /__admin/rules: %d %s", a.status, a.body)
		}
		a := verifyForm(t, s, testSecret, "human-login")
		if a.status != http.StatusServiceUnavailable || a.contentType != "text/html; charset=UTF-8" || !strings.Contains(a.body, "<title>Error 503 (Service Unavailable)!!1</title>") {
			t.Errorf("%d %s\n%s", a.status, a.contentType, a.body)
		}
		if a := verifyForm(t, s, testSecret, "human-login"); a.status != http.StatusOK {
			t.Errorf("after the rule: %d %s", a.status, a.body)
		}
	})

	if code := s.terminate(t); code != exitOK {
		t.Errorf("exit %d after SIGTERM, want 0", code)
	}
	if out := s.stdout.String(); !listeningLine.MatchString(out) || strings.Count(out, "\n") != 1 {
		t.Errorf("stdout should be exactly one listening line, got %q", out)
	}
	logs := s.stderr.String()
	for _, want := range []string{
		`msg="siteverify serve started"`, "sitekey=" + testSiteKey, "secret=" + mockserver.Fingerprint(testSecret),
		"named_tokens=1", "admin_auth=none", `msg=siteverify`, `msg="shutting down"`, "msg=stopped",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	if strings.Contains(logs, testSecret) {
		t.Errorf("log shows the secret in clear:\n%s", logs)
	}
}

func TestBinaryAdminToken(t *testing.T) {
	const token = "adm1n-T0ken-for-the-test"
	s := startServe(t, []string{"SITEVERIFY_ADMIN_TOKEN=" + token}, "serve", "--addr", "127.0.0.1:0", "--log-level", "debug")
	health := s.url + "/__admin/health"
	if a := httpDo(t, http.MethodGet, health, "", ""); a.status != http.StatusUnauthorized {
		t.Errorf("no bearer: %d %s", a.status, a.body)
	}
	if a := httpDo(t, http.MethodGet, health, "", "", "Authorization", "Bearer wrong"); a.status != http.StatusUnauthorized {
		t.Errorf("wrong bearer: %d %s", a.status, a.body)
	}
	auth := []string{"Authorization", "Bearer " + token}
	if a := httpDo(t, http.MethodGet, health, "", "", auth...); a.status != http.StatusOK {
		t.Errorf("right bearer: %d %s", a.status, a.body)
	}
	sites := httpDo(t, http.MethodGet, s.url+"/__admin/sites", "", "", auth...)
	var got struct {
		Default mockserver.Site `json:"default"`
	}
	if err := json.Unmarshal([]byte(sites.body), &got); err != nil || got.Default.Secret == "" {
		t.Fatalf("GET /__admin/sites: %v %s", err, sites.body)
	}
	tok := issue(t, s, `{}`, auth...)
	if a := verifyForm(t, s, got.Default.Secret, tok); !strings.Contains(a.body, `"success": true`) {
		t.Errorf("verify: %s", a.body)
	}
	if code := s.terminate(t); code != exitOK {
		t.Errorf("exit %d after SIGTERM, want 0", code)
	}
	logs := s.stderr.String()
	if strings.Contains(logs, token) || strings.Contains(logs, got.Default.Secret) {
		t.Errorf("log shows the admin token or the secret:\n%s", logs)
	}
	if !strings.Contains(logs, `admin_auth="bearer token"`) {
		t.Errorf("log does not say the admin API needs a token:\n%s", logs)
	}
}

func TestBinaryRefusesOpenAdmin(t *testing.T) {
	s := startProcess(t, nil, "serve", "--addr", "0.0.0.0:0")
	if code := s.wait(t, 10*time.Second); code != exitUsage {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(s.stderr.String(), "--admin-token") || s.stdout.String() != "" {
		t.Errorf("stdout %q, stderr %q; want nothing on stdout and --admin-token named", s.stdout, s.stderr)
	}
}

func TestBinaryBadFixtures(t *testing.T) {
	fixtures := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, fixtures, "rules:\n  - match: {token: outage}\n    fault: hangs\n")
	s := startProcess(t, []string{"SITEVERIFY_FIXTURES=" + fixtures}, "serve", "--addr", "127.0.0.1:0")
	if code := s.wait(t, 10*time.Second); code != exitUsage {
		t.Errorf("exit %d, want 2", code)
	}
	want := "siteverify serve: SITEVERIFY_FIXTURES: " + fixtures + `:3: rules[0].fault: "hangs" is not a fault; did you mean "hang"?`
	if !strings.HasPrefix(s.stderr.String(), want) {
		t.Errorf("stderr %q\nwant prefix %q", s.stderr, want)
	}
}

// TestBinarySigningKey checks that a server in this process with the same
// signing key and site mints tokens the binary accepts, which is how the
// load benchmark mints its tokens fast.
func TestBinarySigningKey(t *testing.T) {
	key := strings.Repeat("5a", 32)
	fixtures := filepath.Join(t.TempDir(), "mock.yaml")
	writeFile(t, fixtures, testFixtures)
	s := startServe(t, nil, "serve", "--addr", "127.0.0.1:0", "--fixtures", fixtures, "--signing-key", key)
	raw, _ := hex.DecodeString(key)
	local := mockserver.New(t, mockserver.WithOptions(mockserver.Options{
		SigningKey:  raw,
		DefaultSite: mockserver.Site{SiteKey: testSiteKey, Secret: testSecret, Hostname: "app.example.com"},
	}))
	iss, err := local.Issue(t.Context(), mockserver.TokenSpec{Score: 0.3, Action: "x"})
	if err != nil {
		t.Fatal(err)
	}
	tok := iss.Token
	if a := verifyForm(t, s, testSecret, tok); !successAnswer("0.3", "x").MatchString(a.body) {
		t.Errorf("token minted with the shared key: %s", a.body)
	}
	if logs := s.stderr.String(); strings.Contains(logs, key) {
		t.Errorf("log shows the signing key:\n%s", logs)
	}
}
