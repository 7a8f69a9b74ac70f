package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	recaptcha "cloud.google.com/go/recaptchaenterprise/v2/apiv1"
	recaptchapb "cloud.google.com/go/recaptchaenterprise/v2/apiv1/recaptchaenterprisepb"
	googleoption "google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/siteverify/siteverify/mockserver/intercept"
)

// TestBinaryServeGRPC: serve --tls-addr answers reCAPTCHA Enterprise's gRPC
// service on recaptchaenterprise.googleapis.com, for Google's official Go
// client with an API key over TLS trusting the CA.
func TestBinaryServeGRPC(t *testing.T) {
	caDir := filepath.Join(t.TempDir(), "ca")
	s := startServe(t, nil, "serve", "--addr", "127.0.0.1:0", "--tls-addr", "127.0.0.1:0", "--ca-dir", caDir)
	tlsAddr := waitFor(t, s.stdout, regexp.MustCompile(`siteverify: TLS on (\S+)`))[1]
	post := func(path, body string, out any) {
		t.Helper()
		resp, err := http.Post(s.url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
		}
	}
	var site struct{ SiteKey, Secret string }
	post("/__admin/sites", `{"kind":"recaptcha-enterprise","project":"shop-prod"}`, &site)
	var tok struct{ Token string }
	post("/__admin/tokens", `{"sitekey":"`+site.SiteKey+`","score":0.7}`, &tok)

	ca, err := intercept.LoadCA(caDir)
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewTLS(&tls.Config{RootCAs: ca.CertPool(), ServerName: "recaptchaenterprise.googleapis.com"})
	client, err := recaptcha.NewClient(context.Background(), googleoption.WithEndpoint(tlsAddr), googleoption.WithAPIKey(site.Secret),
		googleoption.WithGRPCDialOption(grpc.WithTransportCredentials(creds)))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := client.CreateAssessment(ctx, &recaptchapb.CreateAssessmentRequest{Parent: "projects/shop-prod",
		Assessment: &recaptchapb.Assessment{Event: &recaptchapb.Event{Token: tok.Token, SiteKey: site.SiteKey}}})
	if err != nil {
		t.Fatal(err)
	}
	if !a.GetTokenProperties().GetValid() || a.GetRiskAnalysis().GetScore() != float32(0.7) {
		t.Errorf("assessment over gRPC: %v", a)
	}
}
