package intercept_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/mockserver/intercept"
)

// setup starts a mock, a CA in a temporary directory and an interceptor
// with a proxy and a TLS listener on loopback.
func setup(t *testing.T, configure func(*intercept.Interceptor)) (*mockserver.Server, *intercept.CA, *url.URL, string) {
	t.Helper()
	srv := mockserver.New(t)
	ca, err := intercept.LoadCA(filepath.Join(t.TempDir(), "ca"))
	if err != nil {
		t.Fatal(err)
	}
	in := &intercept.Interceptor{Mock: srv.Handler(), CA: ca}
	if configure != nil {
		configure(in)
	}
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go in.ServeProxy(pl)
	go in.ServeTLS(tl)
	t.Cleanup(func() { in.Close() })
	return srv, ca, &url.URL{Scheme: "http", Host: pl.Addr().String()}, tl.Addr().String()
}

// proxyClient is a Go client configured as the README says: HTTPS_PROXY and
// the CA as its only root.
func proxyClient(proxy *url.URL, ca *intercept.CA, h2 bool) *http.Client {
	tr := &http.Transport{
		Proxy:             http.ProxyURL(proxy),
		TLSClientConfig:   &tls.Config{RootCAs: ca.CertPool()},
		ForceAttemptHTTP2: h2,
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func verify(t *testing.T, c *http.Client, verifyURL string, form url.Values) (int, map[string]any, *http.Response) {
	t.Helper()
	resp, err := c.PostForm(verifyURL, form)
	if err != nil {
		t.Fatalf("POST %s: %v", verifyURL, err)
	}
	defer resp.Body.Close()
	var body map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("POST %s: %d %q: %v", verifyURL, resp.StatusCode, raw, err)
	}
	return resp.StatusCode, body, resp
}

func TestProxyServesEveryProviderOnItsRealURL(t *testing.T) {
	srv, ca, proxy, _ := setup(t, nil)
	ctx := context.Background()
	for _, p := range mockserver.Providers() {
		for _, h2 := range []bool{false, true} {
			site, err := srv.AddSite(ctx, mockserver.NewSite(p.KeyKinds()[0]))
			if err != nil {
				t.Fatal(err)
			}
			tok, err := srv.Issue(ctx, mockserver.TokenSpec{SiteKey: site.SiteKey})
			if err != nil {
				t.Fatal(err)
			}
			c := proxyClient(proxy, ca, h2)
			first, resp := verifyOn(t, c, p, site, tok.Token)
			if !first {
				t.Errorf("%s h2=%v: first verify failed, want success", p.Name(), h2)
			}
			if wantProto := map[bool]int{false: 1, true: 2}[h2]; resp.ProtoMajor != wantProto {
				t.Errorf("%s: protocol %s, want HTTP/%d", p.Name(), resp.Proto, wantProto)
			}
			if again, _ := verifyOn(t, c, p, site, tok.Token); again {
				t.Errorf("%s h2=%v: replay succeeded, want failure", p.Name(), h2)
			}
			// Every host of the provider answers, not only the main one.
			for _, host := range p.RealHosts() {
				if len(p.ScriptPaths()) == 0 {
					continue
				}
				u := &url.URL{Scheme: "https", Host: host, Path: p.ScriptPaths()[0]}
				if !p.IsRealURL(u) {
					continue
				}
				resp, err := c.Get(u.String())
				if err != nil {
					t.Fatalf("GET %s: %v", u, err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("GET %s: %d, want 200", u, resp.StatusCode)
				}
			}
		}
	}
	if n, want := len(mustJournal(t, srv)), len(mockserver.Providers())*2*2; n != want {
		t.Errorf("journal has %d verifications, want %d", n, want)
	}
}

// verifyOn verifies token on p's real URL as p's clients do (a form with
// secret and response; Enterprise: a JSON assessment with the API key) and
// says whether it passed.
func verifyOn(t *testing.T, c *http.Client, p *mockserver.Provider, site mockserver.Site, token string) (bool, *http.Response) {
	t.Helper()
	if p != mockserver.Enterprise {
		_, body, resp := verify(t, c, p.RealURL(p.VerifyPath()), url.Values{"secret": {site.Secret}, "response": {token}})
		return body["success"] == true, resp
	}
	event, _ := json.Marshal(map[string]any{"event": map[string]string{"token": token, "siteKey": site.SiteKey}})
	resp, err := c.Post(p.RealURL(p.VerifyPath())+"?key="+site.Secret, "application/json", strings.NewReader(string(event)))
	if err != nil {
		t.Fatalf("POST %s: %v", p.RealURL(p.VerifyPath()), err)
	}
	defer resp.Body.Close()
	var a struct {
		TokenProperties struct{ Valid bool } `json:"tokenProperties"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("%s: %v", p.Name(), err)
	}
	return a.TokenProperties.Valid, resp
}

func mustJournal(t *testing.T, srv *mockserver.Server) []mockserver.Request {
	t.Helper()
	j, err := srv.Journal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return j.Entries
}

func TestProxyRefusesOtherHostsUnlessPassthrough(t *testing.T) {
	_, ca, proxy, _ := setup(t, nil)
	c := proxyClient(proxy, ca, false)
	for _, u := range []string{"https://example.com/", "http://example.com/", "https://www.google.com.evil.test/recaptcha/api/siteverify"} {
		_, err := c.Get(u)
		if u[:5] == "https" {
			if err == nil || !strings.Contains(err.Error(), "Forbidden") {
				t.Errorf("GET %s through the proxy: %v, want a 403 on CONNECT", u, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	resp, err := c.Get("http://example.com/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "--passthrough") {
		t.Errorf("plain GET of another host: %d %q, want 403 naming --passthrough", resp.StatusCode, body)
	}
	// A provider host but a path the mock does not stand in for.
	resp, err = c.Get("https://www.google.com/search?q=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("https://www.google.com/search: %d, want 404", resp.StatusCode)
	}

	// With passthrough, another host is tunnelled to untouched.
	upstream, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer upstream.Close()
	go http.Serve(upstream, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "upstream") }))
	_, ca2, proxy2, _ := setup(t, func(in *intercept.Interceptor) { in.Passthrough = true })
	c2 := proxyClient(proxy2, ca2, false)
	resp, err = c2.Get("http://" + upstream.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "upstream" {
		t.Errorf("passthrough GET: %q, want the upstream's answer", body)
	}
	// CONNECT to another host is tunnelled (raw TCP here).
	conn, err := net.Dial("tcp", proxy2.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "CONNECT "+upstream.Addr().String()+" HTTP/1.1\r\nHost: "+upstream.Addr().String()+"\r\n\r\n")
	br := bufio.NewReader(conn)
	line, _ := br.ReadString('\n')
	if !strings.Contains(line, "200") {
		t.Fatalf("CONNECT with passthrough: %q", line)
	}
	for l, _ := br.ReadString('\n'); l != "\r\n" && l != ""; l, _ = br.ReadString('\n') {
	}
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), "upstream") {
		t.Errorf("tunnelled GET: %q", rest)
	}
}

func TestProxyAbsoluteFormInClear(t *testing.T) {
	// Old axios sends "POST https://www.google.com/..." in clear to the
	// proxy: it is answered directly.
	srv, _, proxy, _ := setup(t, nil)
	ctx := context.Background()
	tok, err := srv.Issue(ctx, mockserver.TokenSpec{})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", proxy.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	form := url.Values{"secret": {srv.Site().Secret}, "response": {tok.Token}}.Encode()
	io.WriteString(conn, "POST https://www.google.com/recaptcha/api/siteverify HTTP/1.1\r\nHost: www.google.com\r\n"+
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: "+strconv.Itoa(len(form))+"\r\nConnection: close\r\n\r\n"+form)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `"success": true`) {
		t.Errorf("absolute-form POST: %d %s", resp.StatusCode, body)
	}
}

func TestProxyToken(t *testing.T) {
	_, ca, proxy, _ := setup(t, func(in *intercept.Interceptor) { in.Token = "s3cret-token" })
	c := proxyClient(proxy, ca, false)
	_, err := c.Get("https://www.google.com/recaptcha/api.js")
	if err == nil || !strings.Contains(err.Error(), "Proxy Authentication Required") {
		t.Errorf("no token: %v, want 407", err)
	}
	withToken := *proxy
	withToken.User = url.UserPassword("siteverify", "s3cret-token")
	resp, err := proxyClient(&withToken, ca, false).Get("https://www.google.com/recaptcha/api.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("with token: %d", resp.StatusCode)
	}
	wrong := *proxy
	wrong.User = url.UserPassword("siteverify", "s3cret-tokem")
	if _, err := proxyClient(&wrong, ca, false).Get("https://www.google.com/recaptcha/api.js"); err == nil {
		t.Error("a wrong token was let through")
	}
}

func TestTLSListenerBySNI(t *testing.T) {
	srv, ca, _, tlsAddr := setup(t, nil)
	ctx := context.Background()
	// A client sent to the listener by name resolution: it dials the
	// listener, asks for the provider's name.
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.CertPool()},
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", tlsAddr)
		},
		ForceAttemptHTTP2: true,
	}
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	site, err := srv.AddSite(ctx, mockserver.NewSite(mockserver.HCaptchaPublisher))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := srv.Issue(ctx, mockserver.TokenSpec{SiteKey: site.SiteKey})
	if err != nil {
		t.Fatal(err)
	}
	// hCaptcha libraries call hcaptcha.com, not api.hcaptcha.com.
	_, body, _ := verify(t, c, "https://hcaptcha.com/siteverify", url.Values{"secret": {site.Secret}, "response": {tok.Token}})
	if body["success"] != true {
		t.Errorf("hcaptcha.com/siteverify through the TLS listener: %v", body)
	}
	// A name that is not a provider's fails the handshake.
	_, err = tls.Dial("tcp", tlsAddr, &tls.Config{ServerName: "example.com", RootCAs: ca.CertPool()})
	if err == nil {
		t.Error("handshake for example.com succeeded")
	}
}

func TestOtherCAIsNotTrusted(t *testing.T) {
	_, _, proxy, _ := setup(t, nil)
	other, err := intercept.LoadCA(filepath.Join(t.TempDir(), "other"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = proxyClient(proxy, other, false).Get("https://www.google.com/recaptcha/api.js")
	var uerr x509.UnknownAuthorityError
	if !errors.As(err, &uerr) {
		t.Errorf("a client trusting another CA: %v, want an unknown-authority error", err)
	}
}

func TestFaultsLookLikeOutagesThroughTLS(t *testing.T) {
	srv, ca, proxy, _ := setup(t, nil)
	ctx := context.Background()
	c := proxyClient(proxy, ca, false)
	c.Timeout = 2 * time.Second
	verifyURL := mockserver.ReCAPTCHA.RealURL(mockserver.ReCAPTCHA.VerifyPath())

	if _, err := srv.AddRule(ctx, mockserver.Rule{Fault: mockserver.FaultReset}); err != nil {
		t.Fatal(err)
	}
	_, err := c.PostForm(verifyURL, url.Values{"secret": {"x"}, "response": {"y"}})
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("reset through TLS: %v, want ECONNRESET", err)
	}
	if err := srv.ClearRules(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.AddRule(ctx, mockserver.Rule{Fault: mockserver.FaultHang}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PostForm(verifyURL, url.Values{"secret": {"x"}, "response": {"y"}})
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("hang through TLS: %v, want a client timeout", err)
	}
}

func TestCAFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := intercept.LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "siteverify-ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("CA directory mode %v, want 0700", st.Mode().Perm())
	}
	again, err := intercept.LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.SPKIHash() != ca.SPKIHash() {
		t.Error("a second load made a new CA instead of reusing the first")
	}
	cert := ca.Certificate()
	if !cert.IsCA || !strings.Contains(cert.Subject.CommonName, "TEST") || !cert.PermittedDNSDomainsCritical {
		t.Errorf("CA certificate: IsCA=%v CN=%q constraints critical=%v", cert.IsCA, cert.Subject.CommonName, cert.PermittedDNSDomainsCritical)
	}
	if _, err := ca.Leaf("example.com"); err == nil {
		t.Error("the CA signed a leaf for example.com")
	}
	leaf, err := ca.Leaf("WWW.Google.com.")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: "www.google.com", Roots: ca.CertPool()}); err != nil {
		t.Errorf("leaf does not verify: %v", err)
	}
	if d := time.Until(leaf.Leaf.NotAfter); d > 25*time.Hour {
		t.Errorf("leaf lives %v, want short-lived (a day)", d)
	}
	// A damaged key file is an error naming the directory and the fix,
	// never quoting the file.
	os.WriteFile(filepath.Join(dir, "siteverify-ca-key.pem"), []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), 0o600)
	_, err = intercept.LoadCA(dir)
	if err == nil || !strings.Contains(err.Error(), "delete the directory") || strings.Contains(err.Error(), "AAAA") {
		t.Errorf("damaged key: %v", err)
	}
}

// TestLoadCAConcurrently: processes (here goroutines) making the CA at once
// in a fresh directory agree on one, whose certificate on disk matches the
// key each of them signs with.
func TestLoadCAConcurrently(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	cas := make([]*intercept.CA, 8)
	errs := make([]error, len(cas))
	var wg sync.WaitGroup
	for i := range cas {
		wg.Go(func() { cas[i], errs[i] = intercept.LoadCA(dir) })
	}
	wg.Wait()
	pemBytes, err := os.ReadFile(filepath.Join(dir, intercept.CertFileName))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	for i, ca := range cas {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		leaf, err := ca.Leaf("www.google.com")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: "www.google.com", Roots: pool}); err != nil {
			t.Errorf("loader %d signs with a key the certificate on disk does not match: %v", i, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lock file was left behind: %v", err)
	}
}
