package mockserver_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// verify posts a token the way a backend does and returns the answer body.
func verify(s *mockserver.Server, secret, token string) string {
	resp, err := http.PostForm(s.VerifyURL(), url.Values{"secret": {secret}, "response": {token}})
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func ExampleServer_IssueToken() {
	s, err := mockserver.NewServer(mockserver.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	tok := s.IssueToken(mockserver.TokenSpec{Kind: mockserver.V3, Score: 0.3, Action: "login", Hostname: "app.example.com"})
	answer := verify(s, s.Site().Secret, tok)
	// challenge_ts changes with every run; show the rest.
	for _, line := range strings.Split(answer, "\n") {
		if !strings.Contains(line, "challenge_ts") {
			fmt.Println(line)
		}
	}
	// Output:
	// {
	//   "success": true,
	//   "hostname": "app.example.com",
	//   "score": 0.3,
	//   "action": "login"
	// }
}

func ExampleServer_Advance() {
	s, err := mockserver.NewServer(mockserver.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	tok := s.IssueToken(mockserver.TokenSpec{})
	s.Advance(3 * time.Minute) // tokens live two minutes
	fmt.Println(verify(s, s.Site().Secret, tok))
	// Output:
	// {
	//   "success": false,
	//   "error-codes": [
	//     "timeout-or-duplicate"
	//   ]
	// }
}

func ExampleServer_AddRule() {
	s, err := mockserver.NewServer(mockserver.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	// The next call answers Google's HTML 503 page; the one after is normal.
	if _, err := s.AddRule(mockserver.Rule{Fault: mockserver.FaultHTMLError, Status: 503}); err != nil {
		panic(err)
	}
	for range 2 {
		resp, err := http.PostForm(s.VerifyURL(), url.Values{"secret": {s.Site().Secret}, "response": {s.IssueToken(mockserver.TokenSpec{})}})
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, e := range s.Requests().Entries {
		fmt.Println(e.Seq, e.Outcome)
	}
	// Output:
	// 503 text/html; charset=UTF-8
	// 200 application/json; charset=utf-8
	// 1 rule r1: fault html-error
	// 2 success
}

func Example_missingParameters() {
	s, err := mockserver.NewServer(mockserver.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	fmt.Println(verify(s, "", ""))
	// Output:
	// {
	//   "success": false,
	//   "error-codes": [
	//     "missing-input-response",
	//     "missing-input-secret"
	//   ]
	// }
}
