package mockserver_test

import (
	"context"
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

// mustIssue mints a token for the examples.
func mustIssue(s *mockserver.Server, spec mockserver.TokenSpec) string {
	iss, err := s.Issue(context.Background(), spec)
	if err != nil {
		panic(err)
	}
	return iss.Token
}

func ExampleServer_Issue() {
	s, err := mockserver.NewServer(mockserver.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	iss, err := s.Issue(context.Background(), mockserver.TokenSpec{Kind: mockserver.V3, Score: 0.3, Action: "login", Hostname: "app.example.com"})
	if err != nil {
		panic(err)
	}
	answer := verify(s, s.Site().Secret, iss.Token)
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

	tok := mustIssue(s, mockserver.TokenSpec{})
	if _, err := s.Advance(context.Background(), 3*time.Minute); err != nil { // tokens live two minutes
		panic(err)
	}
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
	if _, err := s.AddRule(context.Background(), mockserver.Rule{Fault: mockserver.FaultHTMLError, Status: 503}); err != nil {
		panic(err)
	}
	for range 2 {
		resp, err := http.PostForm(s.VerifyURL(), url.Values{"secret": {s.Site().Secret}, "response": {mustIssue(s, mockserver.TokenSpec{})}})
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	j, err := s.Journal(context.Background())
	if err != nil {
		panic(err)
	}
	for _, e := range j.Entries {
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
