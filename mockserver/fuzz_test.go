package mockserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/siteverify/siteverify/mockserver"
)

// FuzzVerify throws arbitrary requests at reCAPTCHA's siteverify handler:
// it must never panic, must answer 200 with valid JSON (or 405 for other
// methods), and must keep the journal within its bounds.
func FuzzVerify(f *testing.F) {
	fuzzVerify(f, mockserver.ReCAPTCHA, func(s *mockserver.Server, valid string) [][4]string {
		return [][4]string{
			{"POST", "", "application/x-www-form-urlencoded", "secret=" + s.Site().Secret + "&response=" + valid},
			{"GET", "secret=" + s.Site().Secret + "&response=" + valid, "", ""},
			{"POST", "response=%zz", "application/x-www-form-urlencoded", "secret=%"},
			{"POST", "", "application/x-www-form-urlencoded; charset=\xff", "response=03A\xff&secret=" + mockserver.TestSecret},
		}
	})
}

// FuzzVerifyHCaptcha does the same on hCaptcha's path and parser.
func FuzzVerifyHCaptcha(f *testing.F) {
	fuzzVerify(f, mockserver.HCaptcha, func(s *mockserver.Server, valid string) [][4]string {
		return [][4]string{
			{"POST", "", "application/x-www-form-urlencoded", "secret=" + mockserver.HCaptchaTestSecret + "&response=" + mockserver.HCaptchaTestToken + "&sitekey=x&remoteip=::1"},
			{"POST", "", "application/x-www-form-urlencoded", "response=" + valid + "&secret=0x0&sitekey=10000000-ffff-ffff-ffff-00000000000g"},
		}
	})
}

// FuzzVerifyTurnstile does the same on Turnstile's path and its form,
// multipart and JSON parsers (GET is 405 there, with a JSON body).
func FuzzVerifyTurnstile(f *testing.F) {
	fuzzVerify(f, mockserver.Turnstile, func(s *mockserver.Server, valid string) [][4]string {
		return [][4]string{
			{"POST", "", "application/json", `{"secret":"` + mockserver.TurnstileTestSecretPass + `","response":"` + mockserver.TurnstileDummyToken + `","idempotency_key":"k"}`},
			{"POST", "", "application/json", `{"secret":1,"response":[null],"x":{"y":[1,2,{}]}}`},
			{"POST", "", "multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"response\"\r\n\r\n" + valid + "\r\n--b--\r\n"},
			{"POST", "", "application/x-www-form-urlencoded", "secret=" + mockserver.TurnstileTestSecretSpent + "&response=" + valid},
		}
	})
}

// fuzzVerify fuzzes provider p's siteverify handler, seeded with seeds plus
// some shared ones (method, query, content type, body).
func fuzzVerify(f *testing.F, p *mockserver.Provider, seeds func(s *mockserver.Server, valid string) [][4]string) {
	s, err := mockserver.NewServer(mockserver.Options{JournalSize: 50})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	valid := issue(f, s, mockserver.TokenSpec{Kind: p.KeyKinds()[0]})
	all := append(seeds(s, valid),
		[4]string{"POST", "", "application/json", `{"secret":"x","response":"y"}`},
		[4]string{"PUT", "", "", ""},
		[4]string{"POST", "", "multipart/form-data; boundary=x", "--x\r\n"})
	for _, sd := range all {
		f.Add(sd[0], sd[1], sd[2], sd[3])
	}
	get405 := p == mockserver.Turnstile
	f.Fuzz(func(t *testing.T, method, query, contentType, body string) {
		if method != "GET" && method != "POST" {
			method = "POST"
			if len(body)%7 == 0 {
				method = "DELETE"
			}
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.Method = method
		req.URL.Path = p.VerifyPath()
		req.URL.RawQuery = query
		req.Body = http.NoBody
		if body != "" {
			req.Body = nopCloser{strings.NewReader(body)}
		}
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		jsonAnswer := rec.Code == http.StatusOK || rec.Code == http.StatusMethodNotAllowed && method == "GET" && get405
		switch {
		case jsonAnswer:
			var a map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
				t.Fatalf("answer is not JSON: %v\n%q", err, rec.Body)
			}
			if _, ok := a["success"].(bool); !ok {
				t.Fatalf("answer has no boolean success: %s", rec.Body)
			}
		case rec.Code == http.StatusMethodNotAllowed:
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

// FuzzVerifyEnterprise fuzzes the assessments endpoint: whatever the method,
// query (API key, $alt), project and body, the answer is an Assessment
// (200, with a boolean tokenProperties.valid) or Google's error envelope
// whose code is the HTTP status, and the journal stays bounded.
func FuzzVerifyEnterprise(f *testing.F) {
	s, err := mockserver.NewServer(mockserver.Options{JournalSize: 50})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	site, err := s.AddSite(context.Background(), mockserver.Site{Kind: mockserver.EnterpriseScore})
	if err != nil {
		f.Fatal(err)
	}
	valid := issue(f, s, mockserver.TokenSpec{SiteKey: site.SiteKey, Reasons: "AUTOMATION"})
	f.Add("POST", "key="+site.Secret, mockserver.EnterpriseTestProject, `{"event":{"token":"`+valid+`","siteKey":"`+site.SiteKey+`"}}`)
	f.Add("POST", "key="+site.Secret+"&$alt=json%3Benum-encoding=int", "123", `{"event":{"token":1,"siteKey":[]}}`)
	f.Add("POST", "", "x", `{"event":null}`)
	f.Add("PUT", "key=AIza", "p", "")
	f.Fuzz(func(t *testing.T, method, query, project, body string) {
		if method != "POST" {
			method = "GET"
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.Method = method
		req.URL.Path = "/v1/projects/" + url.PathEscape(project) + "/assessments"
		req.URL.RawQuery = query
		req.Body = http.NoBody
		if body != "" {
			req.Body = nopCloser{strings.NewReader(body)}
		}
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		switch {
		case rec.Code == http.StatusOK:
			var a struct {
				TokenProperties *struct{ Valid *bool } `json:"tokenProperties"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || a.TokenProperties == nil || a.TokenProperties.Valid == nil {
				t.Fatalf("200 answer is not an assessment (%v): %s", err, rec.Body)
			}
		case rec.Code == http.StatusTemporaryRedirect || rec.Code == http.StatusMovedPermanently:
			// net/http's mux redirects a path with "." or ".." segments to
			// its clean form before any handler runs.
		case rec.Code == http.StatusMethodNotAllowed || rec.Code == http.StatusNotFound && method != "POST":
			if method == "POST" && rec.Code == http.StatusMethodNotAllowed {
				t.Fatalf("POST got 405")
			}
		default:
			var e struct {
				Error struct{ Code int } `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil && rec.Code != http.StatusNotFound {
				t.Fatalf("status %d without the error envelope: %s", rec.Code, rec.Body)
			} else if err == nil && e.Error.Code != rec.Code {
				t.Fatalf("status %d, envelope code %d", rec.Code, e.Error.Code)
			}
		}
		if strings.Contains(rec.Body.String(), site.Secret) {
			t.Fatal("the answer shows the API key")
		}
		if j := journal(t, s); len(j.Entries) > 50 {
			t.Fatalf("journal holds %d entries, bound 50", len(j.Entries))
		}
	})
}
