package browser

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/mockserver/intercept"
)

// TestRunChecksTheProxy: what Run refuses before it starts a browser, so
// that a run through a proxy never silently reaches something else than
// its report says.
func TestRunChecksTheProxy(t *testing.T) {
	m := mockserver.New(t)
	ca, err := intercept.LoadCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pages := []Page{validPage}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"impersonator offline", Config{Mock: m, Impersonator: m}, "set Staging and Proxy too"},
		{"impersonator without proxy", Config{Staging: true, Impersonator: m}, "set Staging and Proxy too"},
		{"proxy without CA", Config{Mock: m, Proxy: &Proxy{URL: "http://127.0.0.1:1"}}, "no CA"},
		{"proxy URL", Config{Mock: m, Proxy: &Proxy{URL: "socks5://127.0.0.1:1", CA: ca}}, "not a forward proxy address"},
		{"browser without the proxy", Config{Mock: m, Proxy: &Proxy{URL: "http://127.0.0.1:1", CA: ca}, Browser: &Browser{}}, "not launched with the proxy"},
		{"proxied browser, no Config.Proxy", Config{Mock: m, Browser: &Browser{proxy: &Proxy{URL: "http://127.0.0.1:1", CA: ca}}}, "set Config.Proxy to it too"},
	} {
		tc.cfg.Pages = pages
		if _, err := Run(context.Background(), tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error with %q", tc.name, err, tc.want)
		}
	}

	// A proxy that does not answer fails the run at once, before any
	// browser starts.
	start := time.Now()
	_, err = Run(context.Background(), Config{Staging: true, Proxy: &Proxy{URL: strings.TrimSuffix(hangUpURL(t), "/recaptcha/api.js"), CA: ca}, Pages: pages,
		BrowserOptions: Options{ChromePath: "/nonexistent/chromium"}})
	if err == nil || !strings.Contains(err.Error(), "the impersonating proxy") || time.Since(start) > 20*time.Second {
		t.Errorf("stopped proxy: %v after %v", err, time.Since(start))
	}
}

// TestImpersonationEnv: the backend of a staging run against an
// impersonation gets the proxy and the CA variables, loopback left direct.
func TestImpersonationEnv(t *testing.T) {
	m := mockserver.New(t)
	ca, err := intercept.LoadCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	imp, err := Impersonate(m.Handler(), ca)
	if err != nil {
		t.Fatal(err)
	}
	defer imp.Close()
	env := imp.Env()
	for _, want := range []string{"HTTPS_PROXY=" + imp.Proxy.URL, "https_proxy=" + imp.Proxy.URL, "NO_PROXY=" + intercept.NoProxy,
		"SSL_CERT_FILE=" + ca.CertFile(), "NODE_EXTRA_CA_CERTS=" + ca.CertFile()} {
		if !slices.Contains(env, want) {
			t.Errorf("env lacks %s: %q", want, env)
		}
	}
	// The proxy answers Google's script URL with the CA's certificate.
	if err := checkProxy(context.Background(), &imp.Proxy, ""); err != nil {
		t.Errorf("checkProxy: %v", err)
	}
	// Chromium's --ignore-certificate-errors-spki-list matches the keys of
	// the chain the server sends, not of the CA it was not sent: without
	// the CA certificate in the chain (only the leaf, whose key is not the
	// CA's) the script was refused when tried here. The proxy sends it.
	proxyURL, _ := url.Parse(imp.Proxy.URL)
	tr := &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: ca.CertPool()}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(StagingScriptURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var hashes []string
	for _, c := range resp.TLS.PeerCertificates {
		sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
		hashes = append(hashes, base64.StdEncoding.EncodeToString(sum[:]))
	}
	if len(hashes) < 2 || hashes[0] == ca.SPKIHash() || !slices.Contains(hashes[1:], ca.SPKIHash()) {
		t.Errorf("the chain's SPKI hashes %q: want the leaf's and then the CA's %s", hashes, ca.SPKIHash())
	}
	if err := imp.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if err := checkProxy(context.Background(), &imp.Proxy, ""); err == nil {
		t.Error("checkProxy passed on a closed proxy")
	}
}
