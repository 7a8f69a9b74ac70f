package browser

import (
	"context"
	"fmt"
	"os"
	"testing"

	g "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// EnvSkipBrowser, set to "1", lets the browser specs skip (loudly) when
// Chromium is missing. Without it a missing Chromium fails the suite: the
// flows run in make test and CI, never silently skipped there.
const EnvSkipBrowser = "SITEVERIFY_SKIP_BROWSER"

// envHideChrome makes FindChrome find nothing in this test binary; the test
// of the missing-Chromium message re-runs the binary with it.
const envHideChrome = "SITEVERIFY_TEST_HIDE_CHROME"

func TestMain(m *testing.M) {
	if os.Getenv(envHideChrome) == "1" {
		chromeCandidates = nil
	}
	os.Exit(m.Run())
}

// shared is the one browser every spec uses.
var shared *Browser

// TestBrowserFlows runs the Ginkgo specs: the flows against the reference
// backend's pages and the client script in a real browser. All are labelled
// "browser"; each flow's specs also carry its ID.
func TestBrowserFlows(t *testing.T) {
	RegisterFailHandler(g.Fail)
	g.RunSpecs(t, "browser flows")
}

// browserGate decides what to do about Chromium: run with the path found,
// skip (only when SITEVERIFY_SKIP_BROWSER=1), or fail with the install hint.
func browserGate(env func(string) string) (path string, skip bool, err error) {
	path, err = FindChrome("", env)
	if err == nil {
		return path, false, nil
	}
	return "", env(EnvSkipBrowser) == "1", err
}

var _ = g.BeforeSuite(func() {
	path, skip, err := browserGate(os.Getenv)
	if skip {
		msg := fmt.Sprintf("!!! %s=1: browser tests SKIPPED: %v", EnvSkipBrowser, err)
		fmt.Fprintf(os.Stderr, "\n%s\n\n", msg)
		g.Skip(msg)
	}
	if err != nil {
		g.Fail(err.Error() + " (set " + EnvSkipBrowser + "=1 to skip the browser tests on purpose)")
	}
	b, err := Launch(context.Background(), Options{ChromePath: path})
	Expect(err).NotTo(HaveOccurred())
	shared = b
	g.DeferCleanup(b.Close)
	g.GinkgoWriter.Printf("browser: %s (%s)\n", b.Version(), b.Path())
})
