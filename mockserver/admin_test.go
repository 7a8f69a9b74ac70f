package mockserver_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

func admin(t *testing.T, s *mockserver.Server, method, path, body, bearer string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminAPI(t *testing.T) {
	s := mockserver.New(t)
	status, body := admin(t, s, "POST", "/__admin/tokens", `{"score": 0, "action": "login", "issued_ago": "30s"}`, "")
	if status != http.StatusCreated {
		t.Fatalf("issue: %d %s", status, body)
	}
	var iss mockserver.Issued
	if err := json.Unmarshal([]byte(body), &iss); err != nil || iss.Token == "" || time.Until(iss.ExpiresAt) > 91*time.Second {
		t.Fatalf("issue answer %s (%v)", body, err)
	}
	a := post(t, s, s.Site().Secret, iss.Token)
	wantSuccess(t, a)
	if *a.Score != 0 || *a.Action != "login" {
		t.Fatalf("score 0 in JSON must mean 0.0: %s", a.raw)
	}

	for _, tc := range []struct{ method, path, body, want string }{
		{"POST", "/__admin/tokens", `{"scor": 0.5}`, `unknown field \"scor\"`},
		{"POST", "/__admin/tokens", `{"score": "high"}`, `field \"score\"`},
		{"POST", "/__admin/tokens", `{"score": 2}`, "outside [0, 1]"},
		{"POST", "/__admin/tokens", `{"lifetime": "soon"}`, "lifetime"},
		{"POST", "/__admin/tokens", `{`, "invalid JSON"},
		{"POST", "/__admin/tokens", `{} {}`, "unexpected data"},
		{"POST", "/__admin/clock", `{"advance": "-3m"}`, "positive duration"},
		{"POST", "/__admin/rules", `{"fault": "explode"}`, "unknown fault"},
		{"POST", "/__admin/rules", `{"status": 503, "times": 2, "extra": 1}`, `unknown field \"extra\"`},
		{"POST", "/__admin/sites", `{"sitekey": "6Lx", "secret": "6Lx"}`, "must differ"},
		{"DELETE", "/__admin/rules/nope", ``, "no rule"},
		{"GET", "/__admin/nothing", ``, "no admin endpoint"},
	} {
		status, body := admin(t, s, tc.method, tc.path, tc.body, "")
		if status < 400 || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s %s: %d %s, want an error containing %q", tc.method, tc.path, tc.body, status, body, tc.want)
		}
	}
	// Failed calls changed nothing.
	if len(s.Rules()) != 0 || time.Until(s.Now()) > time.Second {
		t.Fatal("a rejected admin call changed state")
	}

	if status, body := admin(t, s, "POST", "/__admin/rules", `{"match": {"token": "t"}, "fault": "hang", "delay": "2s", "times": 3}`, ""); status != 201 || !strings.Contains(body, `"delay": "2s"`) || !strings.Contains(body, `"id": "r1"`) {
		t.Fatalf("add rule: %d %s", status, body)
	}
	if status, body := admin(t, s, "GET", "/__admin/rules", "", ""); status != 200 || !strings.Contains(body, `"times": 3`) {
		t.Fatalf("list rules: %d %s", status, body)
	}
	if status, _ := admin(t, s, "POST", "/__admin/clock", `{"advance": "3m"}`, ""); status != 200 || time.Until(s.Now()) < 179*time.Second {
		t.Fatalf("advance: %d", status)
	}
	if status, body := admin(t, s, "GET", "/__admin/requests", "", ""); status != 200 || !strings.Contains(body, `"outcome": "success"`) {
		t.Fatalf("requests: %d %s", status, body)
	}
	if status, body := admin(t, s, "POST", "/__admin/sites", `{"kind": "android", "apk_package_name": "com.x"}`, ""); status != 201 || !strings.Contains(body, `"secret": "6L`) {
		t.Fatalf("add site: %d %s", status, body)
	}
	if status, body := admin(t, s, "GET", "/__admin/health", "", ""); status != 200 || !strings.Contains(body, `"status": "ok"`) {
		t.Fatalf("health: %d %s", status, body)
	}
	if status, _ := admin(t, s, "POST", "/__admin/reset", "", ""); status != 204 || len(s.Rules()) != 0 || len(journal(t, s).Entries) != 0 || time.Until(s.Now()) > time.Second {
		t.Fatal("reset did not reset")
	}
	if status, _ := admin(t, s, "DELETE", "/__admin/requests", "", ""); status != 204 {
		t.Fatal("clear journal")
	}
}

func TestAdminToken(t *testing.T) {
	s := mockserver.New(t, mockserver.WithOptions(mockserver.Options{AdminToken: "s3cret-admin"}))
	for _, bearer := range []string{"", "wrong", "s3cret-admi"} {
		if status, _ := admin(t, s, "GET", "/__admin/health", "", bearer); status != http.StatusUnauthorized {
			t.Fatalf("bearer %q: status %d, want 401", bearer, status)
		}
	}
	if status, _ := admin(t, s, "GET", "/__admin/health", "", "s3cret-admin"); status != 200 {
		t.Fatalf("right token: %d", status)
	}
	// siteverify itself needs no admin token.
	wantSuccess(t, post(t, s, s.Site().Secret, issue(t, s, mockserver.TokenSpec{})))
}

// The Dial client and the in-process server satisfy Mock the same way.
func TestDialClientMatchesServer(t *testing.T) {
	s := mockserver.New(t, mockserver.WithOptions(mockserver.Options{AdminToken: "tok"}))
	ctx := context.Background()
	if _, err := mockserver.Dial(ctx, s.URL(), mockserver.DialOptions{}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("dial without token: %v", err)
	}
	c, err := mockserver.Dial(ctx, s.URL(), mockserver.DialOptions{AdminToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]mockserver.Mock{"server": s, "client": c} {
		t.Run(name, func(t *testing.T) {
			if err := m.Reset(ctx); err != nil {
				t.Fatal(err)
			}
			if m.Site() != s.Site() || m.VerifyURL() != s.VerifyURL() {
				t.Fatalf("site %+v url %s", m.Site(), m.VerifyURL())
			}
			iss, err := m.Issue(ctx, mockserver.TokenSpec{Score: mockserver.ExactlyZero, Action: "pay", IssuedAgo: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			a := post(t, s, s.Site().Secret, iss.Token)
			wantSuccess(t, a)
			if *a.Score != 0 || *a.Action != "pay" {
				t.Fatalf("%s", a.raw)
			}
			if _, err := m.Issue(ctx, mockserver.TokenSpec{Score: 3}); err == nil {
				t.Fatal("bad spec accepted")
			}
			site, err := m.AddSite(ctx, mockserver.Site{Kind: mockserver.V2Invisible})
			if err != nil || site.Kind != mockserver.V2Invisible || site.Secret == "" {
				t.Fatalf("register: %+v %v", site, err)
			}
			r, err := m.AddRule(ctx, mockserver.Rule{Match: mockserver.Match{Token: "x"}, Status: 503, Delay: time.Millisecond})
			if err != nil || r.ID == "" || r.Delay != time.Millisecond {
				t.Fatalf("rule: %+v %v", r, err)
			}
			if err := m.RemoveRule(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
			if err := m.RemoveRule(ctx, r.ID); err == nil {
				t.Fatal("deleting a missing rule succeeded")
			}
			if _, err := m.AddRule(ctx, mockserver.Rule{Status: 503}); err != nil {
				t.Fatal(err)
			}
			if err := m.ClearRules(ctx); err != nil || len(s.Rules()) != 0 {
				t.Fatalf("delete rules: %v", err)
			}
			before := s.Now()
			now, err := m.Advance(ctx, 3*time.Minute)
			if err != nil || now.Sub(before) < 3*time.Minute {
				t.Fatalf("advance: %v %v", now, err)
			}
			j, err := m.Journal(ctx)
			if err != nil || len(j.ForToken(iss.Token)) != 1 || j.ForToken(iss.Token)[0].Outcome != "success" {
				t.Fatalf("journal: %+v %v", j, err)
			}
			if err := m.ClearJournal(ctx); err != nil || len(journal(t, s).Entries) != 0 {
				t.Fatalf("clear: %v", err)
			}
		})
	}
}

func TestDialRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "127.0.0.1:80", "http://"} {
		if _, err := mockserver.Dial(context.Background(), u, mockserver.DialOptions{}); err == nil {
			t.Errorf("Dial(%q) succeeded", u)
		}
	}
}

func TestJournalSince(t *testing.T) {
	s := mockserver.New(t, mockserver.WithJournalSize(4))
	c, err := mockserver.Dial(context.Background(), s.URL(), mockserver.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []mockserver.Mock{s, c} {
		if err := m.ClearJournal(t.Context()); err != nil {
			t.Fatal(err)
		}
		base := journal(t, s).Received
		for range 6 {
			post(t, s, "x", "y")
		}
		for _, tc := range []struct {
			since uint64
			seqs  string
		}{{0, "3,4,5,6"}, {2, "3,4,5,6"}, {4, "5,6"}, {5, "6"}, {6, ""}, {99, ""}} {
			j, err := m.JournalSince(t.Context(), base+tc.since)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range j.Entries {
				got = append(got, strconv.FormatUint(e.Seq-base, 10))
			}
			if strings.Join(got, ",") != tc.seqs || j.Received-base != 6 || j.LastSeq()-base != 6 || j.Dropped != 2 {
				t.Errorf("since %d: seqs %v received %d dropped %d, want %s, 6, 2", tc.since, got, j.Received, j.Dropped, tc.seqs)
			}
		}
	}
	if status, _ := admin(t, s, "GET", "/__admin/requests?since=x", "", ""); status != 400 {
		t.Fatalf("since=x: %d", status)
	}
}
