package intercept_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/siteverify/siteverify/mockserver/intercept"
)

func TestProxyEnv(t *testing.T) {
	got := intercept.ProxyEnv("http://127.0.0.1:4000")
	want := []string{
		"HTTPS_PROXY=http://127.0.0.1:4000", "HTTP_PROXY=http://127.0.0.1:4000",
		"https_proxy=http://127.0.0.1:4000", "http_proxy=http://127.0.0.1:4000",
		"NO_PROXY=127.0.0.1,localhost,::1", "no_proxy=127.0.0.1,localhost,::1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("ProxyEnv =\n%q\nwant\n%q", got, want)
	}
}

func TestCAEnv(t *testing.T) {
	got := intercept.CAEnv("/ca/siteverify-ca.pem")
	for _, name := range []string{"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
		"PERL_LWP_SSL_CA_FILE", "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"} {
		if !slices.Contains(got, name+"=/ca/siteverify-ca.pem") {
			t.Errorf("CAEnv lacks %s: %q", name, got)
		}
	}
	if len(got) != len(intercept.CAEnvNames) {
		t.Errorf("CAEnv has %d entries, CAEnvNames %d", len(got), len(intercept.CAEnvNames))
	}
	for _, kv := range append(got, intercept.ProxyEnv("http://x")...) {
		if k, _, _ := strings.Cut(kv, "="); k == "" || strings.ContainsAny(k, " \x00") {
			t.Errorf("bad entry %q", kv)
		}
	}
}
