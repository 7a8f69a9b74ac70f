package enterprisegrpc_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	recaptcha "cloud.google.com/go/recaptchaenterprise/v2/apiv1"
	recaptchapb "cloud.google.com/go/recaptchaenterprise/v2/apiv1/recaptchaenterprisepb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/mockserver/enterprisegrpc"
)

// BenchmarkEnterprise compares one assessment, end to end over loopback
// with parallel callers, on each path (`make bench` runs it):
//
//   - bare-http: a bare net/http handler that reads the body and answers a
//     fixed Assessment: the floor for REST.
//   - rest: the mock's POST /v1/projects/{p}/assessments over HTTP/1.1.
//   - bare-grpc: a bare gRPC service answering a fixed Assessment over h2c:
//     the floor for gRPC.
//   - grpc: this package over h2c, called with the generated stub.
//   - grpc-official: the same, called with Google's Go client (gax retries,
//     headers).
//
// Tokens are minted before the timer starts; each is assessed once, so every
// mock call does the full verification (HMAC, spent set, journal).
func BenchmarkEnterprise(b *testing.B) {
	srv, err := mockserver.NewServer(mockserver.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	site, err := srv.AddSite(context.Background(), mockserver.Site{Kind: mockserver.EnterpriseScore, Project: project})
	if err != nil {
		b.Fatal(err)
	}
	// A fixed answer, the mock's own, for the bare servers.
	fixed := mintAssessment(b, srv, site)
	fixedJSON, _ := protojson.Marshal(fixed)
	tokens := func(b *testing.B) func() string {
		toks := make([]string, b.N)
		for i := range toks {
			tok, err := srv.Issue(context.Background(), mockserver.TokenSpec{SiteKey: site.SiteKey, Score: 0.9, Action: "login"})
			if err != nil {
				b.Fatal(err)
			}
			toks[i] = tok.Token
		}
		var next atomic.Int64
		return func() string { return toks[next.Add(1)-1] }
	}
	request := func(token string) *recaptchapb.CreateAssessmentRequest {
		return &recaptchapb.CreateAssessmentRequest{Parent: "projects/" + project,
			Assessment: &recaptchapb.Assessment{Event: &recaptchapb.Event{Token: token, SiteKey: site.SiteKey}}}
	}
	httpPost := func(b *testing.B, url string) {
		next := tokens(b)
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				body, _ := protojson.Marshal(request(next()).Assessment)
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Goog-Api-Key", site.Secret)
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				a := new(recaptchapb.Assessment)
				if resp.StatusCode != http.StatusOK || protojson.Unmarshal(raw, a) != nil || !a.GetTokenProperties().GetValid() {
					b.Errorf("%d %s", resp.StatusCode, raw)
					return
				}
			}
		})
	}
	grpcCall := func(b *testing.B, create func(context.Context, *recaptchapb.CreateAssessmentRequest) (*recaptchapb.Assessment, error)) {
		next := tokens(b)
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-goog-api-key", site.Secret)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				a, err := create(ctx, request(next()))
				if err != nil || !a.GetTokenProperties().GetValid() {
					b.Errorf("%v %v", a, err)
					return
				}
			}
		})
	}
	stub := func(b *testing.B, g *grpc.Server) recaptchapb.RecaptchaEnterpriseServiceClient {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go func() { _ = g.Serve(l) }()
		b.Cleanup(g.Stop)
		conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		return recaptchapb.NewRecaptchaEnterpriseServiceClient(conn)
	}

	b.Run("bare-http", func(b *testing.B) {
		bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json; charset=UTF-8")
			_, _ = w.Write(fixedJSON)
		}))
		b.Cleanup(bare.Close)
		httpPost(b, bare.URL+"/v1/projects/"+project+"/assessments")
	})
	b.Run("rest", func(b *testing.B) {
		httpPost(b, srv.URL()+"/v1/projects/"+project+"/assessments")
	})
	b.Run("bare-grpc", func(b *testing.B) {
		g := grpc.NewServer()
		recaptchapb.RegisterRecaptchaEnterpriseServiceServer(g, fixedService{a: fixed})
		c := stub(b, g)
		grpcCall(b, func(ctx context.Context, r *recaptchapb.CreateAssessmentRequest) (*recaptchapb.Assessment, error) {
			return c.CreateAssessment(ctx, r)
		})
	})
	b.Run("grpc", func(b *testing.B) {
		c := stub(b, enterprisegrpc.NewServer(srv.Handler()))
		grpcCall(b, func(ctx context.Context, r *recaptchapb.CreateAssessmentRequest) (*recaptchapb.Assessment, error) {
			return c.CreateAssessment(ctx, r)
		})
	})
	b.Run("grpc-official", func(b *testing.B) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		g := enterprisegrpc.NewServer(srv.Handler())
		go func() { _ = g.Serve(l) }()
		b.Cleanup(g.Stop)
		c, err := recaptcha.NewClient(context.Background(), option.WithEndpoint(l.Addr().String()), option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		grpcCall(b, func(ctx context.Context, r *recaptchapb.CreateAssessmentRequest) (*recaptchapb.Assessment, error) {
			return c.CreateAssessment(ctx, r)
		})
	})
}

// mintAssessment is one real answer of the mock, for the bare servers.
func mintAssessment(b *testing.B, srv *mockserver.Server, site mockserver.Site) *recaptchapb.Assessment {
	b.Helper()
	g := enterprisegrpc.NewService(srv.Handler())
	tok, err := srv.Issue(context.Background(), mockserver.TokenSpec{SiteKey: site.SiteKey, Score: 0.9, Action: "login"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-goog-api-key", site.Secret))
	a, err := g.CreateAssessment(ctx, &recaptchapb.CreateAssessmentRequest{Parent: "projects/" + project,
		Assessment: &recaptchapb.Assessment{Event: &recaptchapb.Event{Token: tok.Token, SiteKey: site.SiteKey}}})
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// fixedService answers every assessment with the same Assessment.
type fixedService struct {
	recaptchapb.UnimplementedRecaptchaEnterpriseServiceServer
	a *recaptchapb.Assessment
}

func (f fixedService) CreateAssessment(context.Context, *recaptchapb.CreateAssessmentRequest) (*recaptchapb.Assessment, error) {
	return f.a, nil
}
