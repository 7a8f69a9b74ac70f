package mockserver_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// Dump prints optional parts only when set, and the dropped count only when
// something was dropped.
func TestDumpFormat(t *testing.T) {
	at := time.Date(2026, 1, 2, 15, 4, 5, 123e6, time.UTC)
	entries := []mockserver.Request{
		{Seq: 1, Time: at, Method: "POST", Path: "/p", ContentType: "application/json", SecretIn: "form",
			RemoteIP: "192.0.2.1", Token: "tok", Outcome: "success", Status: 200},
		{Seq: 2, Time: at, Method: "GET", Path: "/p", Token: "tok", Outcome: "rule r: hang"},
	}
	want := "  #1 15:04:05.123 POST /p [application/json] secret=in-form remoteip=192.0.2.1 token=tok -> success (HTTP 200)\n" +
		"  #2 15:04:05.123 GET /p secret=none token=tok -> rule r: hang\n"
	if got := mockserver.Dump(entries); got != want {
		t.Errorf("Dump:\n%s\nwant:\n%s", got, want)
	}
	if got := (mockserver.Journal{Entries: entries[1:]}).Dump(); got != want[strings.Index(want, "  #2"):] {
		t.Errorf("Journal.Dump with nothing dropped:\n%s", got)
	}
	if got := (mockserver.Journal{Entries: entries[1:], Dropped: 1}).Dump(); !strings.HasSuffix(got, "  (1 older requests dropped)\n") {
		t.Errorf("Journal.Dump with one dropped:\n%s", got)
	}
}

// The journal records the method and Content-Type as received.
func TestJournalRecordsMethodAndContentType(t *testing.T) {
	s := mockserver.New(t)
	secret := s.Site().Secret
	call(t, s, http.MethodGet, mockserver.VerifyPath+"?secret="+secret+"&response=get-tok", "", "")
	call(t, s, http.MethodPost, mockserver.VerifyPath, "application/json", `{"secret": "x", "response": "json-tok"}`)
	call(t, s, http.MethodPost, mockserver.VerifyPath, formCT, form("secret", secret, "response", "form-tok"))
	e := journal(t, s).Entries
	if len(e) != 3 {
		t.Fatalf("%d entries", len(e))
	}
	for i, want := range []struct{ method, ct string }{{"GET", ""}, {"POST", "application/json"}, {"POST", formCT}} {
		if e[i].Method != want.method || e[i].ContentType != want.ct || e[i].Path != mockserver.VerifyPath {
			t.Errorf("entry %d: %s %s [%s], want %s %s [%s]", i, e[i].Method, e[i].Path, e[i].ContentType, want.method, mockserver.VerifyPath, want.ct)
		}
	}
}

// A page that holds exactly the entries left says there are no more.
func TestJournalPageExactlyFull(t *testing.T) {
	s := mockserver.New(t)
	for range 10 {
		post(t, s, "x", "tok")
	}
	j, _ := getJournal(t, s, "?since=3&limit=7")
	if len(j.Entries) != 7 || j.More {
		t.Fatalf("?since=3&limit=7 of 10: %d entries, more=%v; want 7, no more", len(j.Entries), j.More)
	}
	j, _ = getJournal(t, s, "?since=2&limit=7")
	if len(j.Entries) != 7 || !j.More {
		t.Fatalf("?since=2&limit=7 of 10: %d entries, more=%v; want 7, more", len(j.Entries), j.More)
	}
}

// A registered secret as long as a secret may be (256 bytes), sent in
// another field, is recorded as its fingerprint.
func TestLongestRegisteredSecretInOtherFieldIsFingerprinted(t *testing.T) {
	s := mockserver.New(t)
	secret := "6Llongest-registered-" + strings.Repeat("abcdefghij", 24)[:256-len("6Llongest-registered-")]
	if _, err := s.AddSite(t.Context(), mockserver.Site{SiteKey: "6Llongest-site", Secret: secret}); err != nil {
		t.Fatal(err)
	}
	call(t, s, http.MethodPost, mockserver.VerifyPath, formCT, form("secret", "other", "response", "tok", "remoteip", secret, "note", secret))
	var logs strings.Builder
	wantRedacted(t, "256-byte registered secret", records(t, s, &logs), secret)
}

// A hang with no delay holds the request until the rule is deleted.
func TestHangWithoutDelayHoldsUntilDeleted(t *testing.T) {
	s := mockserver.New(t)
	rule, err := s.AddRule(t.Context(), mockserver.Rule{Fault: mockserver.FaultHang, Times: 2})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, s.VerifyURL(), strings.NewReader("secret=s&response=t"))
		req.Header.Set("Content-Type", formCT)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	// The rule has answered once when its count drops: the request is held.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if rs := s.Rules(); len(rs) == 1 && rs[0].Times == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the hang rule never took the request")
		}
	}
	s.RemoveRule(t.Context(), rule.ID)
	if err := <-done; err == nil {
		t.Fatal("a hung request got an answer")
	}
	// The handler records the entry after it drops the connection.
	var e []mockserver.Request
	for deadline := time.Now().Add(30 * time.Second); len(e) == 0 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		e = journal(t, s).Entries
	}
	if len(e) != 1 || !strings.Contains(e[0].Outcome, "released early: rule deleted") {
		t.Fatalf("journal %+v: want the request held until the rule was deleted", e)
	}
}
