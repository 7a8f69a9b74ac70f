package browser_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/siteverify/siteverify/browser"
	"github.com/siteverify/siteverify/mockserver"
)

// Run every flow against a login page whose backend verifies against the
// mock. (No Output comment: it needs Chromium and a running backend, so go
// test compiles it but does not run it.)
func ExampleRun() {
	mock, err := mockserver.NewServer(mockserver.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer mock.Close()
	// ... start the backend with mock.VerifyURL(), mock.Site().Secret and
	// mock.Site().SiteKey, listening on 127.0.0.1:8080 ...

	rep, err := browser.Run(context.Background(), browser.Config{
		Mock: mock,
		Pages: []browser.Page{{
			Name:     "login",
			URL:      "http://127.0.0.1:8080/login",
			Kind:     browser.KindV3,
			Form:     "#login-form",
			Submit:   "#submit",
			Fields:   map[string]string{"#username": "ada", "#password": "s3cret"},
			Success:  browser.Match{Selector: "#result.success"},
			Rejected: browser.Match{Selector: "#result.rejected"},
			Action:   "login",
			SiteKey:  mock.Site().SiteKey,
		}},
	})
	if err != nil {
		log.Fatal(err) // no Chromium, bad configuration
	}
	_ = rep.WriteText(os.Stdout)
	for _, r := range rep.NotOK() {
		fmt.Println(r.ID, r.Actual) // r.Screenshot, r.Console, r.Journal for the details
	}
}
