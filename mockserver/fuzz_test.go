package mockserver_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/siteverify/siteverify/mockserver"
)

// FuzzVerify throws arbitrary requests at the siteverify handler: it must
// never panic, must answer 200 with valid JSON (or 405 for other methods),
// and must keep the journal within its bounds.
func FuzzVerify(f *testing.F) {
	s, err := mockserver.NewServer(mockserver.Options{JournalSize: 50})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	valid := issue(f, s, mockserver.TokenSpec{})
	f.Add("POST", "", "application/x-www-form-urlencoded", "secret="+s.Site().Secret+"&response="+valid)
	f.Add("GET", "secret="+s.Site().Secret+"&response="+valid, "", "")
	f.Add("POST", "", "application/json", `{"secret":"x","response":"y"}`)
	f.Add("POST", "response=%zz", "application/x-www-form-urlencoded", "secret=%")
	f.Add("POST", "", "application/x-www-form-urlencoded; charset=\xff", "response=03A\xff&secret="+mockserver.TestSecret)
	f.Add("PUT", "", "", "")
	f.Add("POST", "", "multipart/form-data; boundary=x", "--x\r\n")
	f.Fuzz(func(t *testing.T, method, query, contentType, body string) {
		if method != "GET" && method != "POST" {
			method = "POST"
			if len(body)%7 == 0 {
				method = "DELETE"
			}
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.Method = method
		req.URL.Path = mockserver.VerifyPath
		req.URL.RawQuery = query
		req.Body = http.NoBody
		if body != "" {
			req.Body = nopCloser{strings.NewReader(body)}
		}
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			var a map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
				t.Fatalf("answer is not JSON: %v\n%q", err, rec.Body)
			}
			if _, ok := a["success"].(bool); !ok {
				t.Fatalf("answer has no boolean success: %s", rec.Body)
			}
		case http.StatusMethodNotAllowed:
			if method == "GET" || method == "POST" {
				t.Fatalf("%s got 405", method)
			}
		default:
			t.Fatalf("status %d", rec.Code)
		}
		if j := journal(t, s); len(j.Entries) > 50 {
			t.Fatalf("journal holds %d entries, bound 50", len(j.Entries))
		}
	})
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }
