package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBinaryServeIntercepts runs serve with a proxy and a TLS listener and
// verifies a token on Google's real URL through each, as a client that
// hard-codes it would, trusting the CA file `siteverify ca` prints.
func TestBinaryServeIntercepts(t *testing.T) {
	caDir := filepath.Join(t.TempDir(), "ca")
	s := startServe(t, nil, "serve", "--addr", "127.0.0.1:0", "--proxy-addr", "127.0.0.1:0", "--tls-addr", "127.0.0.1:0", "--ca-dir", caDir)
	out := waitFor(t, s.stdout, regexp.MustCompile(`siteverify: TLS on (\S+)`))
	proxyURL := regexp.MustCompile(`siteverify: proxy on (\S+)`).FindStringSubmatch(s.stdout.String())[1]
	tlsAddr := out[1]

	caOut := runCLI(t, "ca", "--ca-dir", caDir)
	caFile := regexp.MustCompile(`CA certificate: (\S+)`).FindStringSubmatch(caOut)[1]
	if caFile != filepath.Join(caDir, "siteverify-ca.pem") {
		t.Fatalf("ca printed %q", caFile)
	}
	key, err := os.ReadFile(filepath.Join(caDir, "siteverify-ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{caOut, s.stdout.String(), s.stderr.String()} {
		if strings.Contains(text, "PRIVATE KEY") || strings.Contains(text, string(key[40:80])) {
			t.Fatal("the CA key was printed")
		}
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)

	issue := func() (token, secret string) {
		resp, err := http.Post(s.url+"/__admin/tokens", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tok struct{ Token string }
		json.NewDecoder(resp.Body).Decode(&tok)
		resp, err = http.Get(s.url + "/__admin/sites")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sites struct {
			Default struct{ Secret string }
		}
		json.NewDecoder(resp.Body).Decode(&sites)
		return tok.Token, sites.Default.Secret
	}
	pu, _ := url.Parse(proxyURL)
	clients := map[string]*http.Client{
		"proxy": {Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: pool}}},
		"tls": {Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool},
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "tcp", tlsAddr)
			}}},
	}
	for name, c := range clients {
		tok, secret := issue()
		resp, err := c.PostForm("https://www.google.com/recaptcha/api/siteverify", url.Values{"secret": {secret}, "response": {tok}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var body struct{ Success bool }
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if !body.Success {
			t.Errorf("%s: verify through the interceptor failed", name)
		}
	}
	// Other hosts are refused by default.
	_, err = clients["proxy"].Get("https://example.com/")
	if err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("example.com through the proxy: %v, want 403", err)
	}
}

func TestServeInterceptConfigErrors(t *testing.T) {
	env := func(string) string { return "" }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--proxy-addr", "0.0.0.0:0"}, "the proxy listener (which impersonates CAPTCHA providers) would be open to the network"},
		{[]string{"--tls-addr", "192.0.2.1:443"}, "the tls listener"},
		{[]string{"--passthrough"}, "set --proxy-addr too"},
		{[]string{"--proxy-addr", "nonsense"}, "want host:port"},
	} {
		_, err := loadServeConfig(tc.args, env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("serve %v: %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	cfg, err := loadServeConfig([]string{"--proxy-addr", "0.0.0.0:0", "--admin-token", "tok"}, env)
	if err != nil || cfg.proxyAddr != "0.0.0.0:0" {
		t.Errorf("with an admin token a non-loopback proxy is allowed: %v", err)
	}
}

// waitFor waits up to 10 s for re to match stdout and returns the match.
func waitFor(t *testing.T, stdout fmt.Stringer, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			return m
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %s within 10 s; stdout: %q", re, stdout.String())
	return nil
}

// runCLI runs a command in process and returns its stdout; it fails the test
// unless the command exits 0.
func runCLI(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr strings.Builder
	if code := run(context.Background(), args, func(string) string { return "" }, &stdout, &stderr); code != exitOK {
		t.Fatalf("siteverify %v: exit %d: %s", args, code, stderr.String())
	}
	return stdout.String()
}

// TestExecInterceptEnv runs curl, which reads https_proxy and
// CURL_CA_BUNDLE, under exec --proxy-addr: with nothing but the environment
// exec gives it, a POST to Google's real URL reaches the mock.
func TestExecInterceptEnv(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed: apt-get install -y curl")
	}
	script := `set -e
tok=$(curl -sS -X POST "$SITEVERIFY_URL/__admin/tokens" -d '{}' | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p')
curl -sS --fail -d "secret=$SITEVERIFY_SECRET&response=$tok" https://www.google.com/recaptcha/api/siteverify
test "$SSL_CERT_FILE" = "$SITEVERIFY_CA_FILE" && test "$HTTPS_PROXY" = "$SITEVERIFY_PROXY_URL" && echo env-ok`
	var stdout, stderr strings.Builder
	code := run(context.Background(), []string{"exec", "--proxy-addr", "127.0.0.1:0", "--ca-dir", filepath.Join(t.TempDir(), "ca"), "--", "sh", "-c", script},
		func(string) string { return "" }, &stdout, &stderr)
	if code != exitOK || !strings.Contains(stdout.String(), `"success": true`) || !strings.Contains(stdout.String(), "env-ok") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
}
