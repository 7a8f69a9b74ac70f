package mockserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/siteverify/siteverify/mockserver"
)

// GET /__admin/requests answers a page at a time, so no single answer is
// unbounded (issue 8, defect 3); the Dial client pages on its own.

func getJournal(t *testing.T, s *mockserver.Server, query string) (mockserver.Journal, int) {
	t.Helper()
	status, body := admin(t, s, "GET", "/__admin/requests"+query, "", "")
	var j mockserver.Journal
	if status == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &j); err != nil {
			t.Fatalf("journal answer: %v", err)
		}
	}
	return j, len(body)
}

func TestJournalPages(t *testing.T) {
	const n = mockserver.DefaultJournalPage + 500
	s := mockserver.New(t, mockserver.WithJournalSize(n+100))
	h, w := s.Handler(), &discard{}
	for i := range n {
		h.ServeHTTP(w, rawRequest(http.MethodPost, "", formCT, "secret=x&response=tok-"+strconv.Itoa(i)))
	}

	j, _ := getJournal(t, s, "")
	if len(j.Entries) != mockserver.DefaultJournalPage || !j.More || j.Entries[0].Seq != 1 || j.Received != n {
		t.Fatalf("default page: %d entries from seq %d, more=%v, received %d; want the oldest %d, more",
			len(j.Entries), j.Entries[0].Seq, j.More, j.Received, mockserver.DefaultJournalPage)
	}
	j, _ = getJournal(t, s, "?since=1490&limit=7")
	if len(j.Entries) != 7 || j.Entries[0].Seq != 1491 || !j.More {
		t.Fatalf("?since=1490&limit=7: %d entries from %d, more=%v", len(j.Entries), j.Entries[0].Seq, j.More)
	}
	j, _ = getJournal(t, s, "?since=1495&limit=10")
	if len(j.Entries) != 5 || j.More {
		t.Fatalf("last page: %d entries, more=%v; want 5, no more", len(j.Entries), j.More)
	}
	j, _ = getJournal(t, s, "?since="+strconv.Itoa(n))
	if len(j.Entries) != 0 || j.More || j.Entries == nil {
		t.Fatalf("nothing new: %+v; want an empty list, no more", j)
	}
	for _, q := range []string{"?limit=0", "?limit=-1", "?limit=x", "?limit=" + strconv.Itoa(mockserver.MaxJournalPage+1)} {
		if status, body := admin(t, s, "GET", "/__admin/requests"+q, "", ""); status != http.StatusBadRequest || !strings.Contains(body, "limit=") || !strings.Contains(body, strconv.Itoa(mockserver.MaxJournalPage)) {
			t.Errorf("%s: %d %s; want 400 naming the limit", q, status, body)
		}
	}

	// The Dial client pages transparently.
	c, err := mockserver.Dial(context.Background(), s.URL(), mockserver.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.Journal(context.Background())
	if err != nil || len(all.Entries) != n || all.More || all.Entries[n-1].Seq != n {
		t.Fatalf("Dial client Journal: %d entries, more=%v, %v; want all %d", len(all.Entries), all.More, err, n)
	}
	for i, e := range all.Entries {
		if e.Seq != uint64(i+1) || e.Token != "tok-"+strconv.Itoa(i) {
			t.Fatalf("entry %d: seq %d token %q", i, e.Seq, e.Token)
		}
	}
	since, err := c.JournalSince(context.Background(), 10)
	if err != nil || len(since.Entries) != n-10 || since.Entries[0].Seq != 11 {
		t.Fatalf("JournalSince(10): %d entries from %d, %v", len(since.Entries), since.Entries[0].Seq, err)
	}
}

// TestJournalPageBytes: a page of large entries stops near
// JournalPageBytes, whatever ?limit= says.
func TestJournalPageBytes(t *testing.T) {
	s := mockserver.New(t)
	h, w := s.Handler(), &discard{}
	const n = 600 // entries of about 17 KB of JSON: 10 MB in all
	for i := range n {
		h.ServeHTTP(w, maximalEntry(i))
	}
	j, size := getJournal(t, s, "?limit="+strconv.Itoa(mockserver.MaxJournalPage))
	if !j.More || len(j.Entries) == 0 || len(j.Entries) == n || size > mockserver.JournalPageBytes+64<<10 {
		t.Fatalf("page of large entries: %d entries, %d bytes, more=%v; want at most about %d bytes and more",
			len(j.Entries), size, j.More, mockserver.JournalPageBytes)
	}
	c, err := mockserver.Dial(context.Background(), s.URL(), mockserver.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.Journal(context.Background())
	if err != nil || len(all.Entries) != n {
		t.Fatalf("Dial client over byte-bounded pages: %d entries, %v; want %d", len(all.Entries), err, n)
	}
}

func TestHealthCountsGoroutines(t *testing.T) {
	s := mockserver.New(t)
	_, body := admin(t, s, "GET", "/__admin/health", "", "")
	var h struct {
		Goroutines int `json:"goroutines"`
	}
	if err := json.Unmarshal([]byte(body), &h); err != nil || h.Goroutines < 1 {
		t.Fatalf("health: %s (%v); want a goroutine count", body, err)
	}
}
