package suite

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	recaptcha "cloud.google.com/go/recaptchaenterprise/v2/apiv1"
	recaptchapb "cloud.google.com/go/recaptchaenterprise/v2/apiv1/recaptchaenterprisepb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/mockserver/enterprisegrpc"
	"github.com/siteverify/siteverify/mockserver/intercept"
	"github.com/siteverify/siteverify/suite/target"
)

// TestInterceptionServesEnterpriseGRPC: a reCAPTCHA Enterprise target's
// interception answers gRPC on recaptchaenterprise.googleapis.com:443, the
// default transport of Google's official clients (the Go client here, as a
// use_proxy backend would use it, dialled at the session's TLS listener
// with the mock's CA), from the session's mock.
func TestInterceptionServesEnterpriseGRPC(t *testing.T) {
	tg, err := target.Parse([]byte(`provider: recaptcha-enterprise
kind: recaptcha-enterprise
project: shop-prod
start: {command: [true, "{{port}}"], use_proxy: true}
endpoints: [{url: "http://127.0.0.1:{{port}}/login", action: login, hostnames: [localhost]}]
classify: {accepted: {status: [200]}, rejected: {status: [403]}}
`), "")
	if err != nil {
		t.Fatal(err)
	}
	srv := mockserver.New(t)
	ctx := context.Background()
	site, err := srv.AddSite(ctx, mockserver.Site{Kind: mockserver.EnterpriseScore, Project: "shop-prod", Hostname: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	caDir := t.TempDir()
	ic, err := startInterception(ctx, tg, srv, caDir)
	if err != nil {
		t.Fatal(err)
	}
	defer ic.close()
	ca, err := intercept.LoadCA(caDir)
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewTLS(&tls.Config{RootCAs: ca.CertPool(), ServerName: enterprisegrpc.Host})
	client, err := recaptcha.NewClient(ctx, option.WithEndpoint(ic.tlsAddr), option.WithAPIKey(site.Secret),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(creds)))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	tok, err := srv.Issue(ctx, mockserver.TokenSpec{SiteKey: site.SiteKey, Action: "login", Score: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	a, err := client.CreateAssessment(cctx, &recaptchapb.CreateAssessmentRequest{Parent: "projects/shop-prod",
		Assessment: &recaptchapb.Assessment{Event: &recaptchapb.Event{Token: tok.Token, SiteKey: site.SiteKey}}})
	if err != nil {
		t.Fatalf("CreateAssessment through the session's interception: %v", err)
	}
	if !a.GetTokenProperties().GetValid() || a.GetTokenProperties().GetAction() != "login" {
		t.Errorf("assessment: %v", a)
	}
}
