package browser

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/siteverify/siteverify/mockserver/intercept"
)

// Proxy is a forward proxy that answers the providers' real URLs from a mock
// (intercept.Interceptor.ServeProxy), and the CA it signs their
// certificates with. A browser launched with one ([Options].Proxy) sends
// its requests through it and trusts that CA, and only it, for the run;
// its tabs then load each provider's script from its real URL instead of
// having it answered in the browser (no DevTools interception of the
// providers' URLs).
type Proxy struct {
	// URL is the proxy's address, e.g. http://127.0.0.1:41234. It must be
	// a plain-HTTP proxy; loopback addresses are usual (the proxy then
	// needs no token).
	URL string
	// CA is the mock's certificate authority (intercept.LoadCA).
	CA *intercept.CA
}

// validate reports what is wrong with p, if anything.
func (p *Proxy) validate() error {
	if p.CA == nil {
		return errors.New("proxy: no CA (Proxy.CA): the browser would have no way to trust the provider hosts' certificates")
	}
	u, err := url.Parse(p.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.Port() == "" {
		return fmt.Errorf("proxy: URL %q is not a forward proxy address such as http://127.0.0.1:41234", p.URL)
	}
	return nil
}

// chromeFlags are the Chromium flags that send the browser through the
// proxy and trust the CA for the run:
//   - proxy-server: every request goes to the proxy, except the loopback
//     pages of the application under test, which Chromium's implicit bypass
//     rules send directly (localhost, 127.0.0.0/8, [::1]);
//   - ignore-certificate-errors-spki-list: a certificate chain that
//     contains the CA's public key passes verification, and no other error
//     is ignored (a chain from any other CA is still refused). The proxy's
//     leaves carry the CA certificate in their chain, which this flag needs.
//     Chromium honours it only with a --user-data-dir, which chromedp always
//     passes (a temporary profile).
func (p *Proxy) chromeFlags() map[string]any {
	return map[string]any{
		"proxy-server":                        p.URL,
		"ignore-certificate-errors-spki-list": p.CA.SPKIHash(),
	}
}

// Impersonation is a mock serving the providers' real URLs through a
// forward proxy on loopback, with the mock's CA: what a proxied browser
// ([Options].Proxy) and a backend given intercept.ProxyEnv and
// intercept.CAEnv reach instead of the real provider.
type Impersonation struct {
	// Proxy is the proxy's address and CA, for [Options].Proxy and
	// [Config].Proxy.
	Proxy Proxy
	in    *intercept.Interceptor
	done  chan struct{}
}

// Impersonate starts a forward proxy on 127.0.0.1 (a free port) that
// answers the providers' real URLs with mock (a mockserver.Server's
// Handler), under certificates signed by ca, and refuses every other host.
// Close it when done.
func Impersonate(mock http.Handler, ca *intercept.CA) (*Impersonation, error) {
	if mock == nil || ca == nil {
		return nil, errors.New("impersonate: a mock handler and a CA are required")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("impersonate: listen for the proxy: %w", err)
	}
	in := &intercept.Interceptor{Mock: mock, CA: ca}
	imp := &Impersonation{Proxy: Proxy{URL: "http://" + ln.Addr().String(), CA: ca}, in: in, done: make(chan struct{})}
	go func() {
		defer close(imp.done)
		_ = in.ServeProxy(ln)
	}()
	return imp, nil
}

// Env is the environment a backend needs to reach the impersonation in
// place of the provider: the proxy variables (intercept.ProxyEnv, loopback
// left direct) and the CA variables (intercept.CAEnv: SSL_CERT_FILE for Go,
// REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS and the others).
func (i *Impersonation) Env() []string {
	return append(intercept.ProxyEnv(i.Proxy.URL), intercept.CAEnv(i.Proxy.CA.CertFile())...)
}

// Close stops the proxy and the connections it serves.
func (i *Impersonation) Close() error {
	err := i.in.Close()
	<-i.done
	return err
}

// checkProxy fails fast when the proxy does not answer Google's script URL
// with a certificate from its CA: a run against a stopped proxy, or one
// with another CA, would otherwise time out flow after flow.
func checkProxy(ctx context.Context, p *Proxy, probe string) error {
	if probe == "" {
		probe = StagingScriptURL
	}
	proxyURL, err := url.Parse(p.URL)
	if err != nil {
		return fmt.Errorf("proxy %s: %w", p.URL, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	tr := &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: p.CA.CertPool(), MinVersion: tls.VersionTLS12}}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, probe, nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w", probe, err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("the impersonating proxy %s did not serve %s: %w", p.URL, probe, err)
	}
	resp.Body.Close()
	return nil
}
