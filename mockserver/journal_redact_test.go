package mockserver_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/siteverify/siteverify/mockserver"
)

// Secrets sent in the wrong field (issue 8, defect 8) and unregistered
// secrets (issue 13): whatever field a secret comes in, the journal, the
// debug log, the mint log and the admin API show its fingerprint, never the
// secret nor the 12-character abbreviation the debug log uses for tokens.

// records gathers everything the mock recorded or echoes about requests.
func records(t *testing.T, s *mockserver.Server, logs *strings.Builder) string {
	t.Helper()
	_, journalJSON := admin(t, s, "GET", "/__admin/requests", "", "")
	_, mintsJSON := admin(t, s, "GET", "/__admin/mints", "", "")
	_, rules := admin(t, s, "GET", "/__admin/rules", "", "")
	j := journal(t, s)
	inproc, _ := json.Marshal(j)
	mintsGo, _ := json.Marshal(mints(t, s))
	return strings.Join([]string{journalJSON, mintsJSON, rules, string(inproc), string(mintsGo), j.Dump(), logs.String()}, "\n")
}

// wantRedacted fails if secret, or its first 12 characters, appear in what
// the mock recorded, or if its fingerprint does not.
func wantRedacted(t *testing.T, what, recorded, secret string) {
	t.Helper()
	if strings.Contains(recorded, secret) || strings.Contains(recorded, secret[:12]) {
		t.Errorf("%s: the secret is recorded in clear:\n%s", what, recorded)
	}
	if !strings.Contains(recorded, mockserver.Fingerprint(secret)) {
		t.Errorf("%s: the secret's fingerprint %s is not recorded", what, mockserver.Fingerprint(secret))
	}
}

func TestSecretInAnyFieldIsFingerprinted(t *testing.T) {
	const own = "6Lown-unregistered-secret-sent-as-secret-0001" // the request's own secret, not registered
	const extra = "6Lextra-registered-secret-of-another-site-0002"
	for _, which := range []string{"default", mockserver.TestSecret, extra, own} {
		for _, field := range []string{"response", "remoteip", "Secret", "SECRET", "secret_key", "note", "bare-key"} {
			for _, in := range []string{"query", "form"} {
				var logs strings.Builder
				s := mockserver.New(t, mockserver.WithLogger(newDebugLogger(&logs)))
				if _, err := s.AddSite(t.Context(), mockserver.Site{SiteKey: "6Lextra-site", Secret: extra}); err != nil {
					t.Fatal(err)
				}
				secret := which
				if which == "default" {
					secret = s.Site().Secret
				}
				sent := url.Values{}
				if secret == own {
					sent.Set("secret", own) // the mock knows it as the request's secret
				}
				var raw string // a parameter, or the secret as a bare key
				if field == "bare-key" {
					raw = url.QueryEscape(secret)
				} else {
					sent.Set(field, secret)
				}
				enc := sent.Encode()
				if raw != "" {
					enc = strings.TrimPrefix(enc+"&"+raw, "&")
				}
				if in == "query" {
					call(t, s, http.MethodPost, mockserver.VerifyPath+"?"+enc, formCT, "response=tok")
				} else {
					call(t, s, http.MethodPost, mockserver.VerifyPath, formCT, enc)
				}
				wantRedacted(t, field+" in "+in, records(t, s, &logs), secret)
				s.Close()
			}
		}
	}
}

// TestUnregisteredSecretIsFingerprinted: a secret the mock does not know,
// sent as the secret, is recorded by its fingerprint and nowhere raw.
func TestUnregisteredSecretIsFingerprinted(t *testing.T) {
	const secret = "6Lunregistered-secret-value-0123456789abc"
	for _, in := range []string{"query", "form"} {
		var logs strings.Builder
		s := mockserver.New(t, mockserver.WithLogger(newDebugLogger(&logs)))
		if in == "query" {
			call(t, s, http.MethodPost, mockserver.VerifyPath+"?secret="+secret, formCT, "response=tok")
		} else {
			post(t, s, secret, "tok")
		}
		e := journal(t, s).Entries[0]
		fp := mockserver.Fingerprint(secret)
		got := e.Form.Get("secret") + e.Query.Get("secret")
		if e.SecretFingerprint != fp || got != fp || e.SecretIn != in || e.SecretSite != "" {
			t.Errorf("in %s: entry records secret %q, fingerprint %q, in %q, site %q; want %s in %s, no site",
				in, got, e.SecretFingerprint, e.SecretIn, e.SecretSite, fp, in)
		}
		if !strings.Contains(logs.String(), fp) {
			t.Errorf("the debug log does not name the secret by its fingerprint:\n%s", logs.String())
		}
		wantRedacted(t, "unregistered secret in "+in, records(t, s, &logs), secret)
	}
	// Unregistered, and not the request's secret either: a key that names a
	// secret is enough (a second secret value, a misspelt or renamed field).
	for _, field := range []string{"Secret", "SECRET", "secret_key", "recaptchaSecret", "secret"} {
		for _, in := range []string{"query", "form"} {
			var logs strings.Builder
			s := mockserver.New(t, mockserver.WithLogger(newDebugLogger(&logs)))
			sent := url.Values{"response": {"tok"}}
			if field == "secret" {
				sent["secret"] = []string{"6Lfirst-secret-value-sent-0000000000000", secret}
			} else {
				sent.Set(field, secret)
			}
			if in == "query" {
				call(t, s, http.MethodPost, mockserver.VerifyPath+"?"+sent.Encode(), formCT, "")
			} else {
				call(t, s, http.MethodPost, mockserver.VerifyPath, formCT, sent.Encode())
			}
			e := journal(t, s).Entries[0]
			kept := append(e.Query[field], e.Form[field]...)
			if len(kept) == 0 || kept[len(kept)-1] != mockserver.Fingerprint(secret) {
				t.Errorf("%s in %s: recorded as %q, want its fingerprint", field, in, kept)
			}
			wantRedacted(t, field+" in "+in, records(t, s, &logs), secret)
		}
	}
}

// TestMintLogRedactsSecrets: a page that sends a secret as its sitekey (or
// anywhere else) gets an error naming it by fingerprint, and the mint log
// keeps only the fingerprint.
func TestMintLogRedactsSecrets(t *testing.T) {
	s := mockserver.New(t)
	secret := s.Site().Secret
	status, a := csMint(t, s, url.Values{"sitekey": {secret}})
	if status != http.StatusBadRequest || a.Code != "invalid-sitekey" || !strings.Contains(a.Error, "secret key ("+mockserver.Fingerprint(secret)+")") {
		t.Errorf("mint with the secret as sitekey: %d %+v; want invalid-sitekey naming the secret by fingerprint", status, a)
	}
	for _, field := range []string{"action", "page", "hostname", "widget", "kind"} {
		csMint(t, s, url.Values{"sitekey": {s.Site().SiteKey}, field: {secret}})
	}
	recorded := records(t, s, &strings.Builder{})
	wantRedacted(t, "mint log", recorded, secret)
	if m := mints(t, s)[0]; m.SiteKey != mockserver.Fingerprint(secret) {
		t.Errorf("mint log sitekey %q, want the fingerprint", m.SiteKey)
	}
}

// TestRuleEchoRedactsSecrets: adding a rule answers it as the list shows it,
// the secret it matches (and a secret given as its token) fingerprinted.
func TestRuleEchoRedactsSecrets(t *testing.T) {
	s := mockserver.New(t)
	registered, own := s.Site().Secret, "6Lrule-own-secret-not-registered-0000000"
	body := `{"id": "r-secret", "match": {"secret": "` + own + `", "token": "` + registered + `", "remoteip": "` + own + `"}, "status": 503}`
	status, added := admin(t, s, "POST", "/__admin/rules", body, "")
	if status != http.StatusCreated {
		t.Fatalf("add rule: %d %s", status, added)
	}
	_, list := admin(t, s, "GET", "/__admin/rules", "", "")
	var one mockserver.Rule
	var all struct{ Rules []mockserver.Rule }
	if err := json.Unmarshal([]byte(added), &one); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(list), &all); err != nil || len(all.Rules) != 1 {
		t.Fatalf("list: %v %s", err, list)
	}
	want := mockserver.Match{Secret: mockserver.Fingerprint(own), Token: mockserver.Fingerprint(registered), RemoteIP: mockserver.Fingerprint(own)}
	if one.Match != want || all.Rules[0].Match != want {
		t.Errorf("rule match echoed as %+v, listed as %+v; want %+v", one.Match, all.Rules[0].Match, want)
	}
	for _, secret := range []string{registered, own} {
		wantRedacted(t, "rule echo", added+list, secret)
	}
	// The rule still matches on the real values.
	a := call(t, s, http.MethodPost, mockserver.VerifyPath, formCT, form("secret", own, "response", registered, "remoteip", own))
	if a.status != http.StatusServiceUnavailable {
		t.Errorf("the rule no longer matches: HTTP %d", a.status)
	}
}

// TestIssueErrorRedactsSecret: asking the admin API for a token with a
// secret as the sitekey names the mistake without echoing the secret.
func TestIssueErrorRedactsSecret(t *testing.T) {
	s := mockserver.New(t)
	secret := s.Site().Secret
	status, body := admin(t, s, "POST", "/__admin/tokens", `{"sitekey": "`+secret+`"}`, "")
	if status != http.StatusBadRequest || !strings.Contains(body, "secret key") {
		t.Errorf("issue with the secret as sitekey: %d %s; want 400 naming the mistake", status, body)
	}
	wantRedacted(t, "issue error", body, secret)
}
