package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConformThroughRealURL runs conform against the reference backend
// configured with Google's real siteverify URL, reached through the
// session's proxy (start.use_proxy), with the CA directory from --ca-dir or
// SITEVERIFY_CA_DIR: the CA is made there, the valid token is accepted and
// a reset under TLS is an outage the backend fails closed on.
func TestConformThroughRealURL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the reference backend")
	}
	bin := filepath.Join(refbackendPath(t), "refbackend")
	tg := filepath.Join(t.TempDir(), "real-url.yaml")
	src := `name: real-url
kind: v2-checkbox
start:
  command: ["` + bin + `", -addr, "127.0.0.1:{{port}}", -timeout, 2s]
  use_proxy: true
  env:
    REFBACKEND_VERIFY_URL: https://www.google.com/recaptcha/api/siteverify
    REFBACKEND_SECRET: "{{secret}}"
    REFBACKEND_SITEKEY: "{{sitekey}}"
    REFBACKEND_KIND: v2-checkbox
    REFBACKEND_HOSTNAMES: localhost
    REFBACKEND_OUTAGE: fail-closed
  ready_url: "http://127.0.0.1:{{port}}/healthz"
endpoints:
  - url: "http://127.0.0.1:{{port}}/api/login"
    fields: {username: alice, password: correct-horse-battery-staple}
    hostnames: [localhost]
classify:
  accepted: {status: [200], json: {path: ok, equals: true}}
  rejected: {status: [403, 503]}
`
	if err := os.WriteFile(tg, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, how := range []string{"flag", "env"} {
		t.Run(how, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ca")
			args := []string{"--target", tg, "--focus", "ACCEPT-001,OUTAGE-006"}
			// The binary: Ginkgo runs once per process.
			env := []string{"SITEVERIFY_CA_DIR=" + dir}
			notThis := filepath.Join(t.TempDir(), "not-this-one")
			if how == "flag" {
				args = append(args, "--ca-dir", dir)
				env = []string{"SITEVERIFY_CA_DIR=" + notThis}
			}
			code, out, errOut := conformBinary(t, env, args...)
			if code != exitOK || !strings.Contains(out, "PASS  ACCEPT-001") || !strings.Contains(out, "PASS  OUTAGE-006") {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
			}
			if _, err := os.Stat(filepath.Join(dir, "siteverify-ca.pem")); err != nil {
				t.Errorf("no CA in %s: %v", dir, err)
			}
			if _, err := os.Stat(notThis); err == nil {
				t.Errorf("the flag did not win over SITEVERIFY_CA_DIR: a CA in %s", notThis)
			}
		})
	}
}
