package enterprisegrpc_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	recaptcha "cloud.google.com/go/recaptchaenterprise/v2/apiv1"
	recaptchapb "cloud.google.com/go/recaptchaenterprise/v2/apiv1/recaptchaenterprisepb"
	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/mockserver/enterprisegrpc"
	"github.com/siteverify/siteverify/mockserver/intercept"
)

const project = "shop-prod"

// verdict is what Google's createAssessment sample reads of an Assessment.
type verdict struct {
	valid   bool
	invalid recaptchapb.TokenProperties_InvalidReason
	action  string
	score   float32
	reasons []recaptchapb.RiskAnalysis_ClassificationReason
}

// createAssessment is Google's Go createAssessment sample
// (recaptcha_enterprise/snippets/create_assessment.go): an event with the
// token and site key, parent projects/PROJECT, and the answer's token
// properties, action, score and reasons.
func createAssessment(ctx context.Context, client *recaptcha.Client, projectID, siteKey, token string) (verdict, error) {
	event := &recaptchapb.Event{Token: token, SiteKey: siteKey}
	assessment := &recaptchapb.Assessment{Event: event}
	request := &recaptchapb.CreateAssessmentRequest{Assessment: assessment, Parent: fmt.Sprintf("projects/%s", projectID)}
	response, err := client.CreateAssessment(ctx, request)
	if err != nil {
		return verdict{}, err
	}
	v := verdict{valid: response.TokenProperties.Valid, invalid: response.TokenProperties.InvalidReason, action: response.TokenProperties.Action}
	if response.RiskAnalysis != nil {
		v.score, v.reasons = response.RiskAnalysis.Score, response.RiskAnalysis.Reasons
	}
	return v, nil
}

func setup(t *testing.T) (*mockserver.Server, mockserver.Site) {
	t.Helper()
	srv := mockserver.New(t)
	site, err := srv.AddSite(context.Background(), mockserver.Site{Kind: mockserver.EnterpriseScore, Hostname: "shop.example.com", Project: project})
	if err != nil {
		t.Fatal(err)
	}
	return srv, site
}

func issue(t *testing.T, srv *mockserver.Server, spec mockserver.TokenSpec) string {
	t.Helper()
	tok, err := srv.Issue(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

// serve starts g on a free loopback port until the test ends.
func serve(t *testing.T, g *grpc.Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(l) }()
	t.Cleanup(g.Stop)
	return l.Addr().String()
}

// plaintextClient is the official client on HTTP/2 cleartext, as Google
// documents it for emulators: it sends no API key there (grpc-go refuses
// per-RPC credentials without TLS, wire-facts §2.4), so calls carry it as
// metadata (withKey).
func plaintextClient(t *testing.T, addr string) *recaptcha.Client {
	t.Helper()
	c, err := recaptcha.NewClient(context.Background(),
		option.WithEndpoint(addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func withKey(ctx context.Context, key string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "x-goog-api-key", key)
}

// tlsClient is the official client over TLS with an API key, trusting the
// mock's CA and naming Google's host.
func tlsClient(t *testing.T, addr string, ca *intercept.CA, key string) *recaptcha.Client {
	t.Helper()
	creds := credentials.NewTLS(&tls.Config{RootCAs: ca.CertPool(), ServerName: enterprisegrpc.Host})
	c, err := recaptcha.NewClient(context.Background(),
		option.WithEndpoint(addr),
		option.WithAPIKey(key),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(creds)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// interceptTLS serves the mock, REST and gRPC, on the intercept package's
// TLS listener, as recaptchaenterprise.googleapis.com:443 is served to
// clients sent there by name resolution.
func interceptTLS(t *testing.T, srv *mockserver.Server) (string, *intercept.CA) {
	t.Helper()
	ca, err := intercept.LoadCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	g := enterprisegrpc.NewServer(srv.Handler())
	in := &intercept.Interceptor{Mock: srv.Handler(), CA: ca, GRPC: g}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = in.ServeTLS(l) }()
	t.Cleanup(func() { in.Close(); g.Stop() })
	return l.Addr().String(), ca
}

func wantCode(t *testing.T, what string, err error, want codes.Code) *status.Status {
	t.Helper()
	st, _ := status.FromError(err)
	if err == nil || st.Code() != want {
		t.Errorf("%s: %v, want %s", what, err, want)
	}
	return st
}

// TestOfficialGoClientTLS drives Google's Go client, configured only by
// documented options (endpoint, API key, TLS trusting the mock's CA),
// through the intercept package's TLS listener.
func TestOfficialGoClientTLS(t *testing.T) {
	srv, site := setup(t)
	ctx := context.Background()
	addr, ca := interceptTLS(t, srv)
	client := tlsClient(t, addr, ca, site.Secret)

	tok := issue(t, srv, mockserver.TokenSpec{SiteKey: site.SiteKey, Action: "login", Score: 0.9, Reasons: "AUTOMATION"})
	v, err := createAssessment(ctx, client, project, site.SiteKey, tok)
	if err != nil {
		t.Fatal(err)
	}
	if !v.valid || v.action != "login" || v.score != float32(0.9) || len(v.reasons) != 1 || v.reasons[0] != recaptchapb.RiskAnalysis_AUTOMATION {
		t.Errorf("valid token: %+v", v)
	}
	// A 32-bit float on this wire (wire-facts §2.4).
	if got := fmt.Sprint(float64(v.score)); got != "0.8999999761581421" {
		t.Errorf("score widened = %s, want 0.8999999761581421", got)
	}
	// Replay.
	if v, err := createAssessment(ctx, client, project, site.SiteKey, tok); err != nil || v.valid || v.invalid != recaptchapb.TokenProperties_DUPE || v.action != "login" {
		t.Errorf("replay: %+v %v", v, err)
	}
	// Expired.
	tok2 := issue(t, srv, mockserver.TokenSpec{SiteKey: site.SiteKey})
	if _, err := srv.Advance(ctx, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, err := createAssessment(ctx, client, project, site.SiteKey, tok2); err != nil || v.valid || v.invalid != recaptchapb.TokenProperties_EXPIRED {
		t.Errorf("expired: %+v %v", v, err)
	}
	// Malformed.
	if v, err := createAssessment(ctx, client, project, site.SiteKey, "03AFcWeA-garbage"); err != nil || v.valid || v.invalid != recaptchapb.TokenProperties_MALFORMED {
		t.Errorf("malformed: %+v %v", v, err)
	}
	// A wrong API key: INVALID_ARGUMENT with Google's ErrorInfo.
	bad := tlsClient(t, addr, ca, "AIzaNotTheKey")
	_, err = createAssessment(ctx, bad, project, site.SiteKey, issue(t, srv, mockserver.TokenSpec{SiteKey: site.SiteKey}))
	st := wantCode(t, "wrong key", err, codes.InvalidArgument)
	var reason string
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			reason = ei.Reason
		}
	}
	if reason != "API_KEY_INVALID" || !strings.Contains(st.Message(), "API key not valid") {
		t.Errorf("wrong key: %q, details %v", st.Message(), st.Details())
	}
	// Another project: the REST semantics (404 for an unknown one).
	_, err = createAssessment(ctx, client, "nobody", site.SiteKey, issue(t, srv, mockserver.TokenSpec{SiteKey: site.SiteKey}))
	wantCode(t, "unknown project", err, codes.NotFound)
	// An outage scripted by a rule.
	if _, err := srv.AddRule(ctx, mockserver.Rule{ErrorCodes: []string{"UNAVAILABLE"}}); err != nil {
		t.Fatal(err)
	}
	_, err = createAssessment(ctx, client, project, site.SiteKey, issue(t, srv, mockserver.TokenSpec{SiteKey: site.SiteKey}))
	wantCode(t, "rule UNAVAILABLE", err, codes.Unavailable)
	// A hang meets the caller's deadline.
	if _, err := srv.AddRule(ctx, mockserver.Rule{Fault: mockserver.FaultHang, Delay: time.Minute}); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err = createAssessment(dctx, client, project, site.SiteKey, issue(t, srv, mockserver.TokenSpec{SiteKey: site.SiteKey}))
	wantCode(t, "hang", err, codes.DeadlineExceeded)

	// The journal has every call, as REST calls, never the key.
	j, err := srv.Journal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var dupes int
	for _, e := range j.Entries {
		if strings.Contains(fmt.Sprint(e), site.Secret) {
			t.Errorf("the journal shows the API key: %+v", e)
		}
		if e.Path == "/v1/projects/"+project+"/assessments" && e.SecretIn == "header" && strings.Contains(e.Response, `"DUPE"`) {
			dupes++
		}
	}
	if dupes != 1 {
		t.Errorf("journal: %d DUPE assessments, want 1\n%s", dupes, j.Dump())
	}
}

// TestAnnotate annotates an assessment by the name CreateAssessment gave.
func TestAnnotate(t *testing.T) {
	srv, site := setup(t)
	ctx := withKey(context.Background(), site.Secret)
	client := plaintextClient(t, serve(t, enterprisegrpc.NewServer(srv.Handler())))
	a, err := client.CreateAssessment(ctx, &recaptchapb.CreateAssessmentRequest{Parent: "projects/" + project,
		Assessment: &recaptchapb.Assessment{Event: &recaptchapb.Event{Token: issue(t, srv, mockserver.TokenSpec{SiteKey: site.SiteKey}), SiteKey: site.SiteKey}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.AnnotateAssessment(ctx, &recaptchapb.AnnotateAssessmentRequest{Name: a.Name,
		Annotation: recaptchapb.AnnotateAssessmentRequest_FRAUDULENT,
		Reasons:    []recaptchapb.AnnotateAssessmentRequest_Reason{recaptchapb.AnnotateAssessmentRequest_CHARGEBACK}})
	if err != nil {
		t.Fatalf("annotate %s: %v", a.Name, err)
	}
	j, _ := srv.Journal(ctx)
	if !strings.Contains(j.Dump(), "annotate FRAUDULENT CHARGEBACK") {
		t.Errorf("the journal lacks the annotation:\n%s", j.Dump())
	}
	_, err = client.AnnotateAssessment(context.Background(), &recaptchapb.AnnotateAssessmentRequest{Name: a.Name, Annotation: recaptchapb.AnnotateAssessmentRequest_LEGITIMATE})
	wantCode(t, "annotate without a key", err, codes.PermissionDenied)
	_, err = client.AnnotateAssessment(ctx, &recaptchapb.AnnotateAssessmentRequest{Name: "projects/" + project})
	wantCode(t, "annotate a bad name", err, codes.InvalidArgument)
}

// TestFaultsAndErrors: each way the REST path fails, as a gRPC status, on
// HTTP/2 cleartext.
func TestFaultsAndErrors(t *testing.T) {
	srv, site := setup(t)
	bg := context.Background()
	ctx := withKey(bg, site.Secret)
	client := plaintextClient(t, serve(t, enterprisegrpc.NewServer(srv.Handler())))
	assess := func() error {
		_, err := createAssessment(ctx, client, project, site.SiteKey, issue(t, srv, mockserver.TokenSpec{SiteKey: site.SiteKey}))
		return err
	}
	if err := assess(); err != nil {
		t.Fatalf("plaintext with the key as metadata: %v", err)
	}
	// Bearer, the stand-in for OAuth.
	bctx := metadata.AppendToOutgoingContext(bg, "authorization", "Bearer "+site.Secret)
	if _, err := createAssessment(bctx, client, project, site.SiteKey, issue(t, srv, mockserver.TokenSpec{SiteKey: site.SiteKey})); err != nil {
		t.Errorf("bearer: %v", err)
	}
	_, err := createAssessment(bg, client, project, site.SiteKey, "x")
	wantCode(t, "no key", err, codes.PermissionDenied)
	_, err = client.CreateAssessment(ctx, &recaptchapb.CreateAssessmentRequest{Parent: "shop-prod"})
	wantCode(t, "bad parent", err, codes.InvalidArgument)
	_, err = client.CreateAssessment(ctx, &recaptchapb.CreateAssessmentRequest{Parent: "projects/" + project,
		Assessment: &recaptchapb.Assessment{Event: &recaptchapb.Event{Token: issue(t, srv, mockserver.TokenSpec{SiteKey: site.SiteKey})}}})
	wantCode(t, "no siteKey", err, codes.InvalidArgument)
	_, err = client.ListKeys(ctx, &recaptchapb.ListKeysRequest{Parent: "projects/" + project}).Next()
	wantCode(t, "ListKeys", err, codes.Unimplemented)

	for _, tc := range []struct {
		rule mockserver.Rule
		want codes.Code
	}{
		{mockserver.Rule{ErrorCodes: []string{"RESOURCE_EXHAUSTED"}}, codes.ResourceExhausted},
		{mockserver.Rule{ErrorCodes: []string{"INTERNAL"}}, codes.Internal},
		{mockserver.Rule{ErrorCodes: []string{"DEADLINE_EXCEEDED"}}, codes.DeadlineExceeded},
		{mockserver.Rule{ErrorCodes: []string{"PERMISSION_DENIED"}}, codes.PermissionDenied},
		{mockserver.Rule{ErrorCodes: []string{"UNAUTHENTICATED"}}, codes.Unauthenticated},
		{mockserver.Rule{Fault: mockserver.FaultClose}, codes.Unavailable},
		{mockserver.Rule{Fault: mockserver.FaultReset}, codes.Unavailable},
		{mockserver.Rule{Fault: mockserver.FaultHang, Delay: 50 * time.Millisecond}, codes.Unavailable},
		{mockserver.Rule{Fault: mockserver.FaultHTMLError}, codes.Unavailable},
		{mockserver.Rule{Fault: mockserver.FaultHTMLError, Status: 404}, codes.Unimplemented},
		{mockserver.Rule{Fault: mockserver.FaultHTMLError, Status: 200}, codes.Unknown},
		{mockserver.Rule{Fault: mockserver.FaultMalformedJSON}, codes.Internal},
		{mockserver.Rule{Fault: mockserver.FaultTruncate}, codes.Internal},
		{mockserver.Rule{Status: 500}, codes.Unknown},
		{mockserver.Rule{Body: `{"tokenProperties": {"valid": "yes"}}`}, codes.Internal},
	} {
		name := fmt.Sprintf("%s%s%v", tc.rule.Fault, strings.Join(tc.rule.ErrorCodes, ""), tc.rule.Status)
		if _, err := srv.AddRule(bg, tc.rule); err != nil {
			t.Fatal(err)
		}
		wantCode(t, name, assess(), tc.want)
		// The connection survives: the next call is answered.
		if err := assess(); err != nil {
			t.Errorf("after %s: %v", name, err)
		}
	}
	// A rule's invalid reason is an Assessment, not an error.
	if _, err := srv.AddRule(bg, mockserver.Rule{ErrorCodes: []string{"BROWSER_ERROR"}}); err != nil {
		t.Fatal(err)
	}
	v, err := createAssessment(ctx, client, project, site.SiteKey, issue(t, srv, mockserver.TokenSpec{SiteKey: site.SiteKey}))
	if err != nil || v.valid || v.invalid != recaptchapb.TokenProperties_BROWSER_ERROR {
		t.Errorf("rule BROWSER_ERROR: %+v %v", v, err)
	}
}

// TestTLSCreds serves gRPC over TLS on a listener of its own, with the
// mock's CA, as grpc.Creds does it.
func TestTLSCreds(t *testing.T) {
	srv, site := setup(t)
	ca, err := intercept.LoadCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, enterprisegrpc.NewServer(srv.Handler(), grpc.Creds(credentials.NewTLS(ca.TLSConfig(enterprisegrpc.Host)))))
	client := tlsClient(t, addr, ca, site.Secret)
	v, err := createAssessment(context.Background(), client, project, site.SiteKey, issue(t, srv, mockserver.TokenSpec{SiteKey: site.SiteKey, Score: 0.3}))
	if err != nil || !v.valid || v.score != float32(0.3) {
		t.Errorf("over TLS: %+v %v", v, err)
	}
	// A client that does not trust the CA fails its handshake.
	plain, err := recaptcha.NewClient(context.Background(), option.WithEndpoint(addr), option.WithAPIKey(site.Secret),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{ServerName: enterprisegrpc.Host}))))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	_, err = createAssessment(context.Background(), plain, project, site.SiteKey, "x")
	if st := wantCode(t, "untrusted CA", err, codes.Unavailable); st != nil && !strings.Contains(st.Message(), "certificate") {
		t.Errorf("untrusted CA: %v", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Error("untrusted CA: timed out instead of failing")
	}
}

// TestHandlerPanics: a handler that panics fails the call, not the process
// (grpc-go recovers nothing; net/http would have survived it).
func TestHandlerPanics(t *testing.T) {
	for _, tc := range []struct {
		panic any
		want  codes.Code
	}{{http.ErrAbortHandler, codes.Unavailable}, {"boom", codes.Internal}} {
		h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(tc.panic) })
		client := plaintextClient(t, serve(t, enterprisegrpc.NewServer(h)))
		_, err := createAssessment(withKey(context.Background(), "k"), client, project, "s", "t")
		wantCode(t, fmt.Sprint(tc.panic), err, tc.want)
	}
}
