// Command hardcoded is a login backend that verifies reCAPTCHA tokens on
// Google's real URL, hard-coded, with http.DefaultClient, as many real
// integrations do: the suite can reach it only through the providers' real
// URLs (a proxy, or name resolution). The interception tests start it.
//
// Environment: HARDCODED_SECRET (required), HARDCODED_HOSTNAME (the page
// hostname it allows), HARDCODED_FLAW ("fail-open": an unusable answer lets
// the request through; "no-hostname-check").
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// verifyURL is hard-coded, as in the libraries this stands for.
const verifyURL = "https://www.google.com/recaptcha/api/siteverify"

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	secret, hostname, flaw := os.Getenv("HARDCODED_SECRET"), os.Getenv("HARDCODED_HOSTNAME"), os.Getenv("HARDCODED_FLAW")
	if secret == "" {
		log.Fatal("HARDCODED_SECRET is required")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		token := r.PostFormValue("g-recaptcha-response")
		if token == "" {
			http.Error(w, `{"ok":false}`, http.StatusForbidden)
			return
		}
		ip, _, _ := strings.Cut(r.Header.Get("X-Forwarded-For"), ",")
		if ip = strings.TrimSpace(ip); ip == "" {
			ip, _, _ = net.SplitHostPort(r.RemoteAddr)
		}
		ok, err := verify(r.Context(), secret, token, ip, hostname, flaw == "no-hostname-check")
		switch {
		case err != nil && flaw == "fail-open":
			log.Printf("siteverify unusable, letting the request through: %v", err)
			fmt.Fprintln(w, `{"ok":true}`)
		case err != nil:
			log.Printf("siteverify unusable: %v", err)
			http.Error(w, `{"ok":false}`, http.StatusServiceUnavailable)
		case !ok:
			http.Error(w, `{"ok":false}`, http.StatusForbidden)
		default:
			fmt.Fprintln(w, `{"ok":true}`)
		}
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// verify asks siteverify, on its real URL through http.DefaultClient (so
// HTTPS_PROXY and SSL_CERT_FILE apply), whether token is good.
func verify(ctx context.Context, secret, token, ip, hostname string, skipHostname bool) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	form := url.Values{"secret": {secret}, "response": {token}, "remoteip": {ip}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, verifyURL, strings.NewReader(form.Encode()))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var v struct {
		Success    *bool    `json:"success"`
		Hostname   string   `json:"hostname"`
		ErrorCodes []string `json:"error-codes"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Success == nil {
		return false, fmt.Errorf("unusable answer: %.80q", body)
	}
	for _, c := range v.ErrorCodes {
		if strings.Contains(c, "secret") {
			return false, fmt.Errorf("error code %s", c)
		}
	}
	return *v.Success && (skipHostname || v.Hostname == hostname), nil
}
