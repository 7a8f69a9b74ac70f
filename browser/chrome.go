package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
)

// InstallHint is how to get Chromium; it ends every "not found" error.
const InstallHint = "install it with 'apt-get install -y chromium' (Debian) or pass --chrome / set CHROME_PATH"

// ErrChromeNotFound is returned by FindChrome and Launch when no Chromium or
// Chrome binary can be found. Its text is exactly:
//
//	chromium not found: install it with 'apt-get install -y chromium' (Debian) or pass --chrome / set CHROME_PATH
var ErrChromeNotFound = errors.New("chromium not found: " + InstallHint)

// EnvChromePath is the environment variable FindChrome reads.
const EnvChromePath = "CHROME_PATH"

// chromeCandidates are tried in order when neither a flag nor CHROME_PATH
// names a binary: names on PATH first, then the usual install paths
// (Debian's package puts a wrapper at /usr/bin/chromium and the binary at
// /usr/lib/chromium/chromium).
var chromeCandidates = []string{
	"chromium",
	"chromium-browser",
	"google-chrome",
	"google-chrome-stable",
	"chrome",
	"/usr/bin/chromium",
	"/usr/lib/chromium/chromium",
	"/usr/bin/chromium-browser",
	"/snap/bin/chromium",
	"/usr/bin/google-chrome",
	"/opt/google/chrome/chrome",
	"/Applications/Chromium.app/Contents/MacOS/Chromium",
	"/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
}

// FindChrome returns the Chromium or Chrome binary to use: flag (a --chrome
// value) if set, else env("CHROME_PATH"), else the first of the usual names
// and paths that exists. A flag or CHROME_PATH that names a missing or
// non-executable file is an error that says which was wrong; finding nothing
// is ErrChromeNotFound. env may be nil.
func FindChrome(flag string, env func(string) string) (string, error) {
	if flag != "" {
		return checkExecutable(flag, "--chrome")
	}
	if env != nil {
		if p := env(EnvChromePath); p != "" {
			return checkExecutable(p, EnvChromePath)
		}
	}
	for _, c := range chromeCandidates {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", ErrChromeNotFound
}

func checkExecutable(path, from string) (string, error) {
	p, err := exec.LookPath(path)
	if err != nil {
		return "", fmt.Errorf("chromium not found at %q (from %s): %v; %s", path, from, unwrapExecErr(err), InstallHint)
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p, nil
}

func unwrapExecErr(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}

// Options configures Launch.
type Options struct {
	// ChromePath is the browser binary, e.g. "/usr/bin/chromium". Empty means
	// FindChrome("", os.Getenv).
	ChromePath string
	// Visible opens a visible window instead of running headless (needs a
	// display). Headless is the default, and what CI uses.
	Visible bool
	// LaunchTimeout bounds the browser's start; 0 means 30 s.
	LaunchTimeout time.Duration
	// Flags are extra Chromium command-line flags, e.g.
	// {"proxy-server": "http://127.0.0.1:3128"}; a false value removes a flag.
	Flags map[string]any
	// Proxy, when set, sends the browser's requests through a forward proxy
	// that answers the providers' real URLs from a mock, and trusts the
	// proxy's CA, and only it, for the run (see [Proxy]). Loopback pages
	// still load directly.
	Proxy *Proxy
}

// Browser is one running headless Chromium. Flows each get a fresh browser
// context (an incognito-like profile: no cookies, cache or storage shared
// between flows) in it. Its methods are safe for concurrent use.
type Browser struct {
	path        string
	version     string
	ctx         context.Context // the browser's chromedp context
	cancel      context.CancelFunc
	allocCancel context.CancelFunc
	closeOnce   sync.Once
	output      *syncBuffer
	proxy       *Proxy // nil: no proxy, providers' URLs answered in each tab
}

// Launch starts Chromium. It is quiet on a machine without a network: the
// flags below turn off the background requests (component updates, sync,
// QUIC probes, safe browsing) that would otherwise retry against a closed
// network. Close it when done.
func Launch(ctx context.Context, opts Options) (*Browser, error) {
	path := opts.ChromePath
	var err error
	if path == "" {
		path, err = FindChrome("", os.Getenv)
	} else {
		path, err = checkExecutable(path, "Options.ChromePath")
	}
	if err != nil {
		return nil, err
	}
	out := &syncBuffer{}
	allocOpts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,InterestFeedContentSuggestions"),
		chromedp.WindowSize(1024, 768),
		chromedp.CombinedOutput(out),
	)
	if opts.Visible {
		allocOpts = append(allocOpts, chromedp.VisibleWindow)
	}
	if opts.Proxy != nil {
		if err := opts.Proxy.validate(); err != nil {
			return nil, err
		}
		for k, v := range opts.Proxy.chromeFlags() {
			allocOpts = append(allocOpts, chromedp.Flag(k, v))
		}
	}
	for k, v := range opts.Flags {
		allocOpts = append(allocOpts, chromedp.Flag(k, v))
	}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), allocOpts...)
	bctx, cancel := chromedp.NewContext(allocCtx)
	b := &Browser{path: path, ctx: bctx, cancel: cancel, allocCancel: allocCancel, output: out, proxy: opts.Proxy}

	timeout := opts.LaunchTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(bctx) }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err = <-started:
	case <-ctx.Done():
		err = ctx.Err()
	case <-timer.C:
		err = fmt.Errorf("no answer after %v", timeout)
	}
	if err != nil {
		b.Close()
		msg := strings.TrimSpace(out.String())
		if len(msg) > 2000 {
			msg = msg[len(msg)-2000:]
		}
		if msg != "" {
			return nil, fmt.Errorf("start chromium %s: %w\nchromium said:\n%s", path, err, msg)
		}
		return nil, fmt.Errorf("start chromium %s: %w", path, err)
	}
	if v, err := chromedp.CallBrowser(bctx, cdpbrowser.GetVersion, cdp.Empty{}); err == nil {
		b.version = v.Product
	}
	return b, nil
}

// Path is the browser binary in use.
func (b *Browser) Path() string { return b.path }

// Version is the browser's product string, e.g. "Chrome/142.0.7444.59".
func (b *Browser) Version() string { return b.version }

// Proxy is the proxy the browser was launched with ([Options].Proxy), nil
// when none.
func (b *Browser) Proxy() *Proxy { return b.proxy }

// Close stops the browser and removes its temporary profile. It is
// idempotent.
func (b *Browser) Close() {
	b.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		_ = chromedp.Cancel(ctx)
		cancel()
		b.cancel()
		b.allocCancel()
	})
}

// NewTab opens a tab in a fresh browser context (no cookies, cache or
// storage shared with other tabs) and returns its chromedp context, for
// driving pages beyond the built-in flows. The tab closes, and its browser
// context is disposed of, when the returned cancel is called or parent ends.
func (b *Browser) NewTab(parent context.Context) (context.Context, context.CancelFunc, error) {
	if b.ctx.Err() != nil {
		return nil, nil, errors.New("the browser is closed")
	}
	tctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	stop := context.AfterFunc(parent, cancel)
	done := func() { stop(); cancel() }
	if err := chromedp.Do(tctx); err != nil {
		done()
		return nil, nil, fmt.Errorf("open a tab: %w", err)
	}
	return tctx, done, nil
}

// syncBuffer collects the browser's output for error messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 64<<10 { // keep the start; Chromium is chatty when something is wrong
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
