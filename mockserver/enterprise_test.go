package mockserver_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// assess posts an assessment as Google's REST clients do: the event as JSON,
// the API key as ?key= (or as auth says, "header:"/"bearer:" prefixed).
func assess(t *testing.T, url, auth string, event map[string]any) (int, map[string]any, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"event": event})
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	switch {
	case strings.HasPrefix(auth, "header:"):
		req.Header.Set("X-Goog-Api-Key", strings.TrimPrefix(auth, "header:"))
	case strings.HasPrefix(auth, "bearer:"):
		req.Header.Set("Authorization", "Bearer "+strings.TrimPrefix(auth, "bearer:"))
	case auth != "":
		req.URL.RawQuery = req.URL.Query().Encode()
		q := req.URL.Query()
		q.Set("key", auth)
		req.URL.RawQuery = q.Encode()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, raw)
	}
	return resp.StatusCode, out, string(raw)
}

func enterpriseSetup(t *testing.T) (*mockserver.Server, mockserver.Site, string) {
	t.Helper()
	srv := mockserver.New(t)
	site, err := srv.AddSite(context.Background(), mockserver.Site{Kind: mockserver.EnterpriseScore, Hostname: "shop.example.com", Project: "shop-prod"})
	if err != nil {
		t.Fatal(err)
	}
	return srv, site, srv.URL() + "/v1/projects/shop-prod/assessments"
}

func tokenProps(a map[string]any) map[string]any {
	tp, _ := a["tokenProperties"].(map[string]any)
	return tp
}

func TestEnterpriseAssessment(t *testing.T) {
	srv, site, url := enterpriseSetup(t)
	ctx := context.Background()
	if !strings.HasPrefix(site.Secret, "AIza") || len(site.Secret) != 39 {
		t.Errorf("API key %q is not shaped like Google's", site.Secret)
	}
	tok, err := srv.Issue(ctx, mockserver.TokenSpec{SiteKey: site.SiteKey, Action: "login", Score: 0.7, Reasons: "AUTOMATION,TOO_MUCH_TRAFFIC"})
	if err != nil {
		t.Fatal(err)
	}
	event := map[string]any{"token": tok.Token, "siteKey": site.SiteKey, "expectedAction": "login", "userIpAddress": "203.0.113.7"}
	status, a, raw := assess(t, url, site.Secret, event)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, raw)
	}
	if !regexp.MustCompile(`^projects/[0-9]{12}/assessments/[0-9a-f]{16}$`).MatchString(a["name"].(string)) {
		t.Errorf("name %q: want projects/NUMBER/assessments/16-hex", a["name"])
	}
	ev := a["event"].(map[string]any)
	if ev["token"] != tok.Token || ev["siteKey"] != site.SiteKey || ev["expectedAction"] != "login" || ev["userIpAddress"] != "203.0.113.7" || ev["userAgent"] != "" {
		t.Errorf("event not echoed: %v", ev)
	}
	ra := a["riskAnalysis"].(map[string]any)
	if ra["score"] != 0.7 || len(ra["reasons"].([]any)) != 2 || ra["reasons"].([]any)[0] != "AUTOMATION" || ra["reasons"].([]any)[1] != "TOO_MUCH_TRAFFIC" {
		t.Errorf("riskAnalysis = %v", ra)
	}
	tp := tokenProps(a)
	if tp["valid"] != true || tp["invalidReason"] != "INVALID_REASON_UNSPECIFIED" || tp["hostname"] != "shop.example.com" || tp["action"] != "login" {
		t.Errorf("tokenProperties = %v", tp)
	}
	if ct, err := time.Parse(time.RFC3339Nano, tp["createTime"].(string)); err != nil || ct.Sub(srv.Now()).Abs() > time.Second {
		t.Errorf("createTime %v: %v", tp["createTime"], err)
	}
	// Replay: DUPE, and the token still says what it was.
	_, a, _ = assess(t, url, site.Secret, event)
	if tp := tokenProps(a); tp["valid"] != false || tp["invalidReason"] != "DUPE" || tp["action"] != "login" {
		t.Errorf("replay: %v", tp)
	}
	if ra := a["riskAnalysis"].(map[string]any); ra["score"] != 0.0 {
		t.Errorf("replay score %v, want 0", ra["score"])
	}
	// Expired.
	tok2, _ := srv.Issue(ctx, mockserver.TokenSpec{SiteKey: site.SiteKey})
	if _, err := srv.Advance(ctx, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	_, a, _ = assess(t, url, site.Secret, map[string]any{"token": tok2.Token, "siteKey": site.SiteKey})
	if tp := tokenProps(a); tp["valid"] != false || tp["invalidReason"] != "EXPIRED" {
		t.Errorf("expired: %v", tp)
	}
	// Malformed: empty strings and the 1970 time, as recorded.
	_, a, _ = assess(t, url, site.Secret, map[string]any{"token": "03AFcWeA-garbage", "siteKey": site.SiteKey})
	if tp := tokenProps(a); tp["valid"] != false || tp["invalidReason"] != "MALFORMED" || tp["hostname"] != "" || tp["createTime"] != "1970-01-01T00:00:00Z" {
		t.Errorf("malformed: %v", tp)
	}
	// Missing token.
	_, a, _ = assess(t, url, site.Secret, map[string]any{"siteKey": site.SiteKey})
	if tp := tokenProps(a); tp["valid"] != false || tp["invalidReason"] != "MISSING" {
		t.Errorf("missing: %v", tp)
	}
	// The event's siteKey is not the token's.
	tok3, _ := srv.Issue(ctx, mockserver.TokenSpec{SiteKey: site.SiteKey})
	_, a, _ = assess(t, url, site.Secret, map[string]any{"token": tok3.Token, "siteKey": "6Lother0000000000000000000000000000000000"})
	if tp := tokenProps(a); tp["valid"] != false || tp["invalidReason"] != "INVALID_REASON_UNSPECIFIED" {
		t.Errorf("site mismatch: %v", tp)
	}
	// No siteKey at all is an argument error.
	if status, a, _ := assess(t, url, site.Secret, map[string]any{"token": tok3.Token}); status != 400 || a["error"].(map[string]any)["status"] != "INVALID_ARGUMENT" {
		t.Errorf("no siteKey: %d %v", status, a)
	}
}

func TestEnterpriseAuthAndProjects(t *testing.T) {
	srv, site, url := enterpriseSetup(t)
	ctx := context.Background()
	other, err := srv.AddSite(ctx, mockserver.Site{Kind: mockserver.EnterpriseScore, Project: "other-project"})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := srv.Issue(ctx, mockserver.TokenSpec{SiteKey: site.SiteKey})
	event := map[string]any{"token": tok.Token, "siteKey": site.SiteKey}
	for _, tc := range []struct {
		name, url, auth string
		status          int
		want            string
	}{
		{"no key", url, "", 403, `"status": "PERMISSION_DENIED"`},
		{"unknown key", url, "AIzaNotAKey", 400, `"reason": "API_KEY_INVALID"`},
		{"a reCAPTCHA secret", url, srv.Site().Secret, 400, "API key not valid. Please pass a valid API key."},
		{"another registered project", srv.URL() + "/v1/projects/other-project/assessments", site.Secret, 403, "Permission denied"},
		{"an unknown project", srv.URL() + "/v1/projects/nobody/assessments", site.Secret, 404, `"status": "NOT_FOUND"`},
	} {
		status, _, raw := assess(t, tc.url, tc.auth, event)
		if status != tc.status || !strings.Contains(raw, tc.want) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, status, raw, tc.status, tc.want)
		}
		if strings.Contains(raw, site.Secret) {
			t.Errorf("%s: the answer shows the API key", tc.name)
		}
	}
	// The key works as ?key=, x-goog-api-key and a Bearer token; the
	// project by its ID or its number.
	num := regexp.MustCompile(`projects/([0-9]+)/`)
	for _, auth := range []string{site.Secret, "header:" + site.Secret, "bearer:" + site.Secret} {
		tok, _ := srv.Issue(ctx, mockserver.TokenSpec{SiteKey: site.SiteKey})
		_, a, _ := assess(t, url, auth, map[string]any{"token": tok.Token, "siteKey": site.SiteKey})
		if tokenProps(a)["valid"] != true {
			t.Errorf("auth %s: %v", strings.SplitN(auth, ":", 2)[0], a)
		}
		n := num.FindStringSubmatch(a["name"].(string))[1]
		tok, _ = srv.Issue(ctx, mockserver.TokenSpec{SiteKey: site.SiteKey})
		if _, a, _ := assess(t, srv.URL()+"/v1/projects/"+n+"/assessments", auth, map[string]any{"token": tok.Token, "siteKey": site.SiteKey}); tokenProps(a)["valid"] != true {
			t.Errorf("project number %s: %v", n, a)
		}
	}
	// A token of another Enterprise site, with this site's key.
	otok, _ := srv.Issue(ctx, mockserver.TokenSpec{SiteKey: other.SiteKey})
	if _, a, _ := assess(t, url, site.Secret, map[string]any{"token": otok.Token, "siteKey": site.SiteKey}); tokenProps(a)["invalidReason"] != "INVALID_REASON_UNSPECIFIED" {
		t.Errorf("another site's token: %v", a)
	}
	// The journal keeps where the key came from and its fingerprint, never
	// the key.
	j, _ := srv.Journal(ctx)
	raw, _ := json.Marshal(j)
	if strings.Contains(string(raw), site.Secret) {
		t.Error("the journal shows the API key")
	}
	var sawQuery, sawHeader bool
	for _, e := range j.Entries {
		sawQuery = sawQuery || (e.SecretIn == "query" && e.SecretFingerprint == mockserver.Fingerprint(site.Secret))
		sawHeader = sawHeader || (e.SecretIn == "header" && e.SecretFingerprint == mockserver.Fingerprint(site.Secret))
	}
	if !sawQuery || !sawHeader {
		t.Errorf("journal: key seen in query %v, in a header %v", sawQuery, sawHeader)
	}
}

func TestEnterpriseLayouts(t *testing.T) {
	srv, site, _ := enterpriseSetup(t)
	ctx := context.Background()
	// v1beta1: score and reasons at the top level.
	tok, _ := srv.Issue(ctx, mockserver.TokenSpec{SiteKey: site.SiteKey, Score: 0.3, Reasons: "LOW_CONFIDENCE_SCORE"})
	_, a, raw := assess(t, srv.URL()+"/v1beta1/projects/shop-prod/assessments", site.Secret, map[string]any{"token": tok.Token, "siteKey": site.SiteKey})
	if a["score"] != 0.3 || a["riskAnalysis"] != nil || a["reasons"].([]any)[0] != "LOW_CONFIDENCE_SCORE" {
		t.Errorf("v1beta1: %s", raw)
	}
	// $alt=json;enum-encoding=int (the Node client's REST fallback): enums
	// as numbers.
	tok, _ = srv.Issue(ctx, mockserver.TokenSpec{SiteKey: site.SiteKey, Reasons: "AUTOMATION"})
	u := srv.URL() + "/v1/projects/shop-prod/assessments?$alt=json%3Benum-encoding=int"
	_, a, raw = assess(t, u, "header:"+site.Secret, map[string]any{"token": tok.Token, "siteKey": site.SiteKey})
	if tokenProps(a)["invalidReason"] != 0.0 || a["riskAnalysis"].(map[string]any)["reasons"].([]any)[0] != 1.0 {
		t.Errorf("enum-encoding=int: %s", raw)
	}
	_, a, _ = assess(t, u, "header:"+site.Secret, map[string]any{"token": tok.Token, "siteKey": site.SiteKey})
	if tokenProps(a)["invalidReason"] != 4.0 {
		t.Errorf("enum-encoding=int replay: %v, want 4 (DUPE)", tokenProps(a))
	}
	// An unknown reason is refused when minting.
	if _, err := srv.Issue(ctx, mockserver.TokenSpec{SiteKey: site.SiteKey, Reasons: "AUTOMATON"}); err == nil || !strings.Contains(err.Error(), "AUTOMATION") {
		t.Errorf("unknown reason: %v", err)
	}
	// A key's testingScore answers for every valid token.
	testing, err := srv.AddSite(ctx, mockserver.Site{Kind: mockserver.EnterpriseScore, Project: "shop-prod", TestingScore: mockserver.ExactlyZero})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ = srv.Issue(ctx, mockserver.TokenSpec{SiteKey: testing.SiteKey, Score: 0.9})
	_, a, _ = assess(t, srv.URL()+"/v1/projects/shop-prod/assessments", testing.Secret, map[string]any{"token": tok.Token, "siteKey": testing.SiteKey})
	if ra := a["riskAnalysis"].(map[string]any); ra["score"] != 0.0 || tokenProps(a)["valid"] != true {
		t.Errorf("testingScore 0: %v", a)
	}
	if _, err := srv.AddSite(ctx, mockserver.Site{Kind: mockserver.V3, Project: "p"}); err == nil {
		t.Error("a v3 site took an Enterprise project")
	}
}

func TestEnterpriseRulesAndErrors(t *testing.T) {
	srv, site, url := enterpriseSetup(t)
	ctx := context.Background()
	tok, _ := srv.Issue(ctx, mockserver.TokenSpec{SiteKey: site.SiteKey})
	event := map[string]any{"token": tok.Token, "siteKey": site.SiteKey}
	if _, err := srv.AddRule(ctx, mockserver.Rule{ErrorCodes: []string{"BROWSER_ERROR"}}); err != nil {
		t.Fatal(err)
	}
	if status, a, _ := assess(t, url, site.Secret, event); status != 200 || tokenProps(a)["invalidReason"] != "BROWSER_ERROR" || tokenProps(a)["valid"] != false {
		t.Errorf("rule BROWSER_ERROR: %d %v", status, a)
	}
	if _, err := srv.AddRule(ctx, mockserver.Rule{ErrorCodes: []string{"UNAVAILABLE"}}); err != nil {
		t.Fatal(err)
	}
	if status, a, _ := assess(t, url, site.Secret, event); status != 503 || a["error"].(map[string]any)["status"] != "UNAVAILABLE" {
		t.Errorf("rule UNAVAILABLE: %d %v", status, a)
	}
	// Bad JSON is INVALID_ARGUMENT; GET is not served.
	resp, err := http.Post(url+"?key="+site.Secret, "application/json", strings.NewReader("{not json"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(raw), "INVALID_ARGUMENT") {
		t.Errorf("bad JSON: %d %s", resp.StatusCode, raw)
	}
	resp, err = http.Get(url + "?key=" + site.Secret)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", resp.StatusCode)
	}
}

func TestEnterpriseAnnotate(t *testing.T) {
	srv, site, url := enterpriseSetup(t)
	ctx := context.Background()
	post := func(path, key, body string) (int, string) {
		resp, err := http.Post(srv.URL()+path+"?key="+key, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	tok, _ := srv.Issue(ctx, mockserver.TokenSpec{SiteKey: site.SiteKey})
	_, a, _ := assess(t, url, site.Secret, map[string]any{"token": tok.Token, "siteKey": site.SiteKey})
	name := a["name"].(string)
	if status, raw := post("/v1/"+name+":annotate", site.Secret, `{"annotation":"FRAUDULENT","reasons":["CHARGEBACK"]}`); status != 200 || strings.TrimSpace(raw) != "{}" {
		t.Errorf("annotate: %d %s", status, raw)
	}
	if status, _ := post("/v1/"+name+":annotate", site.Secret, `{"annotation":"MAYBE"}`); status != 400 {
		t.Errorf("bad annotation: %d", status)
	}
	if status, _ := post("/v1/"+name+":annotate", "", `{"annotation":"LEGITIMATE"}`); status != 403 {
		t.Errorf("annotate without a key: %d", status)
	}
	j, _ := srv.Journal(ctx)
	var found bool
	for _, e := range j.Entries {
		found = found || strings.Contains(e.Outcome, "annotate FRAUDULENT CHARGEBACK")
	}
	if !found {
		t.Errorf("the journal lacks the annotation: %+v", j.Entries)
	}
}
