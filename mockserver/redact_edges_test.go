package mockserver_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/siteverify/siteverify/mockserver"
)

// A rule's own secret as long as a secret may be (256 bytes), repeated in
// its token and remoteip, is shown only as its fingerprint, both when the
// rule is added and when it is listed (where the secret is already a
// fingerprint and the others are recognised by theirs).
func TestRuleEchoRedactsLongestSecret(t *testing.T) {
	s := mockserver.New(t)
	own := strings.Repeat("S", 256)
	body := `{"id": "r-long", "match": {"secret": "` + own + `", "token": "` + own + `", "remoteip": "` + own + `"}, "status": 503}`
	if status, added := admin(t, s, "POST", "/__admin/rules", body, ""); status != http.StatusCreated {
		t.Fatalf("add rule: %d %s", status, added)
	}
	_, list := admin(t, s, "GET", "/__admin/rules", "", "")
	var all struct{ Rules []mockserver.Rule }
	if err := json.Unmarshal([]byte(list), &all); err != nil || len(all.Rules) != 1 {
		t.Fatalf("list: %v %s", err, list)
	}
	fp := mockserver.Fingerprint(own)
	if want := (mockserver.Match{Secret: fp, Token: fp, RemoteIP: fp}); all.Rules[0].Match != want {
		t.Errorf("rule listed as %+v, want %+v", all.Rules[0].Match, want)
	}
	wantRedacted(t, "rule list", list, own)
}

// A request's own secret longer than any registered one (which Site.validate
// bounds at 256 bytes) is still the request's secret: repeated in any other
// field, or in a rule's match, it is shown only as its fingerprint.
func TestLongOwnSecretInAnyFieldIsFingerprinted(t *testing.T) {
	own := "6Llong-own-secret-" + strings.Repeat("0123456789", 30)
	for _, field := range []string{"response", "remoteip", "note", "bare-key"} {
		var logs strings.Builder
		s := mockserver.New(t, mockserver.WithLogger(newDebugLogger(&logs)))
		body := "secret=" + own + "&" + field + "=" + own
		if field == "bare-key" {
			body = "secret=" + own + "&response=tok&" + own
		}
		call(t, s, http.MethodPost, mockserver.VerifyPath, formCT, body)
		wantRedacted(t, field, records(t, s, &logs), own)
		s.Close()
	}
	s := mockserver.New(t)
	rule := `{"id": "r-long", "match": {"secret": "` + own + `", "token": "` + own + `", "remoteip": "` + own + `"}, "status": 503}`
	status, added := admin(t, s, "POST", "/__admin/rules", rule, "")
	if status != http.StatusCreated {
		t.Fatalf("add rule: %d %s", status, added)
	}
	wantRedacted(t, "rule echo", added+records(t, s, &strings.Builder{}), own)
}
