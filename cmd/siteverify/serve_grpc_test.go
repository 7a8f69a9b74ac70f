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
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/siteverify/siteverify/mockserver/intercept"
)

// TestBinaryServeGRPC: serve --tls-addr answers reCAPTCHA Enterprise's gRPC
// service on recaptchaenterprise.googleapis.com, for Google's official Go
// client with an API key over TLS trusting the CA.
func TestBinaryServeGRPC(t *testing.T) {
	caDir := filepath.Join(t.TempDir(), "ca")
	s := startServe(t, nil, "serve", "--addr", "127.0.0.1:0", "--tls-addr", "127.0.0.1:0", "--ca-dir", caDir)
	tlsAddr := waitFor(t, s.stdout, regexp.MustCompile(`siteverify: TLS on (\S+)`))[1]
	var site struct{ SiteKey, Secret string }
	adminCreate(t, s.url, "/__admin/sites", `{"kind":"recaptcha-enterprise","project":"shop-prod"}`, &site)
	var tok struct{ Token string }
	adminCreate(t, s.url, "/__admin/tokens", `{"sitekey":"`+site.SiteKey+`","score":0.7}`, &tok)

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

// TestBinaryServeGRPCOnMockPort: serve answers the gRPC service on the
// mock's own port in clear text (HTTP/2 with prior knowledge), for Google's
// Go client set up as for any plaintext endpoint: WithEndpoint,
// WithoutAuthentication, insecure credentials, and the API key as call
// metadata (grpc-go sends per-RPC credentials only over TLS).
func TestBinaryServeGRPCOnMockPort(t *testing.T) {
	s := startServe(t, nil, "serve", "--addr", "127.0.0.1:0")
	var site struct{ SiteKey, Secret string }
	adminCreate(t, s.url, "/__admin/sites", `{"kind":"recaptcha-enterprise"}`, &site)
	var tok struct{ Token string }
	adminCreate(t, s.url, "/__admin/tokens", `{"sitekey":"`+site.SiteKey+`","action":"login"}`, &tok)

	client, err := recaptcha.NewClient(context.Background(), googleoption.WithEndpoint(strings.TrimPrefix(s.url, "http://")),
		googleoption.WithoutAuthentication(), googleoption.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "x-goog-api-key", site.Secret)
	req := &recaptchapb.CreateAssessmentRequest{Parent: "projects/siteverify-test",
		Assessment: &recaptchapb.Assessment{Event: &recaptchapb.Event{Token: tok.Token, SiteKey: site.SiteKey, ExpectedAction: "login"}}}
	a, err := client.CreateAssessment(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !a.GetTokenProperties().GetValid() || a.GetTokenProperties().GetAction() != "login" {
		t.Errorf("assessment over plaintext gRPC: %v", a)
	}
	a, err = client.CreateAssessment(ctx, req)
	if err != nil || a.GetTokenProperties().GetInvalidReason() != recaptchapb.TokenProperties_DUPE {
		t.Errorf("replay over plaintext gRPC: %v %v", a, err)
	}
	// HTTP/1.1 clients of the same port are unaffected.
	resp, err := http.PostForm(s.url+"/recaptcha/api/siteverify", nil)
	if err != nil || resp.ProtoMajor != 1 {
		t.Errorf("HTTP/1.1 siteverify beside gRPC: %v", err)
	} else {
		resp.Body.Close()
	}
}

// adminCreate POSTs body to the admin path of the mock at url, wants 201
// Created, and decodes the answer into out.
func adminCreate(t *testing.T, url, path, body string, out any) {
	t.Helper()
	a := httpDo(t, http.MethodPost, url+path, "application/json", body)
	if err := json.Unmarshal([]byte(a.body), out); err != nil || a.status != http.StatusCreated {
		t.Fatalf("%s: %d %v", path, a.status, err)
	}
}
