package suite_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/fixtures/refbackend"
	"github.com/siteverify/siteverify/suite"
	"github.com/siteverify/siteverify/suite/target"
)

// TestHelperLoggingBackend is not a test: TestCaseOutput runs this test
// binary as a backend that logs each request's body after answering it, as
// most web frameworks log a request once it is served.
func TestHelperLoggingBackend(t *testing.T) {
	if os.Getenv("SUITE_HELPER_LOGGING") != "1" {
		t.Skip("helper process for TestCaseOutput")
	}
	h, err := refbackend.New(refbackend.Config{VerifyURL: os.Getenv("HELPER_VERIFY_URL"), Secret: os.Getenv("HELPER_SECRET"),
		SiteKey: os.Getenv("HELPER_SITEKEY"), Hostnames: []string{"localhost"}, Timeout: time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("HELPER_PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	fmt.Println("logging helper: started")
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		plain, _ := url.QueryUnescape(string(body))
		fmt.Printf("served %s %s body=%s\n", r.Method, r.URL.Path, plain)
	}))
	os.Exit(0)
}

// TestCaseOutput checks that each result carries the backend output its
// case caused, and only that: every token the case sent (as the mock's
// journal saw it) is in its own output and in no other case's.
func TestCaseOutput(t *testing.T) {
	path := helperTarget(t, "")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(string(b), "TestHelperBackend", "TestHelperLoggingBackend", 1)
	y = strings.Replace(y, `SUITE_HELPER_BACKEND: "1"`, `SUITE_HELPER_LOGGING: "1"`, 1)
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	tg, err := target.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := suite.Run(context.Background(), suite.Config{Target: tg, Focus: []string{"ACCEPT-001", "REJECT-001", "REJECT-004", "WIRE-003"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.TargetOutput, "logging helper: started") {
		t.Fatalf("whole output lacks the start line:\n%s", rep.TargetOutput)
	}
	tokens := map[string]string{} // token -> case that sent it
	for _, res := range rep.Results {
		for _, e := range res.Journal {
			if e.Token != "" {
				tokens[e.Token] = res.ID
			}
		}
	}
	if len(tokens) < 3 {
		t.Fatalf("the cases sent only %d distinct tokens; journals: %+v", len(tokens), rep.Results)
	}
	for _, res := range rep.Results {
		if strings.Contains(res.Output, "logging helper: started") {
			t.Errorf("%s's output holds the backend's start-up line:\n%s", res.ID, res.Output)
		}
		if res.Output == "" {
			t.Errorf("%s has no output", res.ID)
		}
		for tok, owner := range tokens {
			in := strings.Contains(res.Output, "body=") && strings.Contains(res.Output, tok)
			if owner == res.ID && !in {
				t.Errorf("%s's output lacks its own token %s:\n%s", res.ID, tok, res.Output)
			}
			if owner != res.ID && in {
				t.Errorf("%s's output holds %s's token %s:\n%s", res.ID, owner, tok, res.Output)
			}
		}
	}
}
