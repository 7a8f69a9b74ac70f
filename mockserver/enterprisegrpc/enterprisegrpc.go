// Package enterprisegrpc serves reCAPTCHA Enterprise's
// RecaptchaEnterpriseService (google.cloud.recaptchaenterprise.v1) over gRPC
// for a mock, so that Google's official clients, which speak gRPC by default,
// reach it unchanged (wire-facts §2.4).
//
// There is one implementation of the assessments API: the mock's REST
// handler. Each gRPC call is translated into an in-memory REST request to it
// (POST /v1/{parent}/assessments, the event as proto3 JSON, the API key from
// the call's metadata), and its answer back into the proto with protojson.
// Rules, faults, the clock, single use and the journal are therefore the
// REST path's, to the byte.
//
// What a gRPC client sees:
//   - An Assessment: as over REST; the score is a 32-bit float on this wire,
//     so 0.9 reads 0.8999999761581421 in clients that widen it (§2.4).
//   - Google's API error envelope (auth, arguments, a rule's ErrorCodes such
//     as UNAVAILABLE): the gRPC status its "status" names, with its message
//     and details (ErrorInfo API_KEY_INVALID for a bad key).
//   - An HTML error page (fault html-error, or a rule's Status >= 400): the
//     code a gRPC client derives from an HTTP status that is not gRPC's
//     (grpc/grpc doc/http-grpc-status-mapping.md): 503, 502, 504 and 429
//     UNAVAILABLE, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404
//     UNIMPLEMENTED, 400 INTERNAL, others UNKNOWN. An HTML page with HTTP 200
//     (html-error with Status 200, or any 200 answer that is not JSON):
//     UNKNOWN, as clients report an unexpected content type.
//   - A body that does not decode (faults malformed-json and truncate, a
//     rule's Body that is no Assessment): INTERNAL, as a client that cannot
//     unmarshal the answer reports it.
//   - Faults close and reset: UNAVAILABLE (the stream's answer is lost; the
//     connection itself stays up, other calls on it are unaffected).
//   - Fault hang: nothing until the client's deadline (DEADLINE_EXCEEDED)
//     or the rule's Delay, then UNAVAILABLE.
//
// Auth: the API key travels as x-goog-api-key metadata (what Google's
// clients send with an API key, only over TLS), or as "authorization:
// Bearer KEY", the mock's stand-in for an OAuth token, as over REST.
//
// Serve it with [NewServer]: on its own listener (HTTP/2 cleartext, for
// clients configured with insecure credentials), over TLS with
// grpc.Creds(credentials.NewTLS(ca.TLSConfig(...))) from the intercept
// package's CA, or as the intercept.Interceptor's GRPC handler on
// recaptchaenterprise.googleapis.com:443 (grpc.Server is an http.Handler for
// HTTP/2 requests).
package enterprisegrpc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	pb "cloud.google.com/go/recaptchaenterprise/v2/apiv1/recaptchaenterprisepb"
	"google.golang.org/genproto/googleapis/rpc/code"
	_ "google.golang.org/genproto/googleapis/rpc/errdetails" // registers ErrorInfo & co for the envelope's details
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Host is the name Google's clients dial (and send as :authority).
const Host = "recaptchaenterprise.googleapis.com"

// RoutePattern is the ServeMux pattern of the service's gRPC paths, for
// serving it beside the mock on the mock's own port (mockserver.Options.Routes;
// the mock speaks HTTP/2 in clear text to gRPC clients).
var RoutePattern = "/" + pb.RecaptchaEnterpriseService_ServiceDesc.ServiceName + "/"

// maxMessageBytes bounds a request message, as the REST handler bounds a
// body (64 KiB): gRPC's default would be 4 MiB.
const maxMessageBytes = 64 << 10

// maxAnswerBytes bounds what the REST handler's answer may grow to in
// memory; the mock's answers are a few hundred bytes.
const maxAnswerBytes = 1 << 20

// Service implements pb.RecaptchaEnterpriseServiceServer on a mock's REST
// handler. Methods other than CreateAssessment and AnnotateAssessment answer
// UNIMPLEMENTED.
type Service struct {
	pb.UnimplementedRecaptchaEnterpriseServiceServer
	mock http.Handler
}

// NewService returns the service answering from mock, a
// mockserver.Server's Handler() typically.
func NewService(mock http.Handler) *Service { return &Service{mock: mock} }

// NewServer returns a gRPC server with the service registered on mock, its
// request messages bounded to 64 KiB as the REST bodies are. Extra options
// (grpc.Creds for TLS, interceptors) are applied after those.
func NewServer(mock http.Handler, opts ...grpc.ServerOption) *grpc.Server {
	opts = append([]grpc.ServerOption{grpc.MaxRecvMsgSize(maxMessageBytes)}, opts...)
	s := grpc.NewServer(opts...)
	pb.RegisterRecaptchaEnterpriseServiceServer(s, NewService(mock))
	return s
}

// unmarshal reads the mock's JSON; fields newer than the module's proto are
// ignored, as Google's clients do.
var unmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

// CreateAssessment answers as POST /v1/{parent}/assessments does.
func (s *Service) CreateAssessment(ctx context.Context, req *pb.CreateAssessmentRequest) (*pb.Assessment, error) {
	project, ok := strings.CutPrefix(req.GetParent(), "projects/")
	if !ok || project == "" || strings.Contains(project, "/") {
		return nil, status.Errorf(codes.InvalidArgument, "invalid resource field value in the request: parent %q is not projects/{project}", req.GetParent())
	}
	body, err := protojson.Marshal(assessmentOrEmpty(req.GetAssessment()))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "the assessment does not encode: %v", err)
	}
	raw, err := s.call(ctx, "/v1/projects/"+url.PathEscape(project)+"/assessments", body)
	if err != nil {
		return nil, err
	}
	a := new(pb.Assessment)
	if err := unmarshal.Unmarshal(raw, a); err != nil {
		return nil, status.Errorf(codes.Internal, "the answer is not an Assessment: %v", err)
	}
	return a, nil
}

func assessmentOrEmpty(a *pb.Assessment) *pb.Assessment {
	if a == nil {
		return new(pb.Assessment)
	}
	return a
}

// AnnotateAssessment answers as POST /v1/{name}:annotate does.
func (s *Service) AnnotateAssessment(ctx context.Context, req *pb.AnnotateAssessmentRequest) (*pb.AnnotateAssessmentResponse, error) {
	parts := strings.Split(req.GetName(), "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[1] == "" || parts[2] != "assessments" || parts[3] == "" {
		return nil, status.Errorf(codes.InvalidArgument, "invalid resource field value in the request: name %q is not projects/{project}/assessments/{assessment}", req.GetName())
	}
	// The body is the request without its name, as the REST binding has it
	// (body: "*").
	b := proto.Clone(req).(*pb.AnnotateAssessmentRequest)
	b.Name = ""
	body, err := protojson.Marshal(b)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "the annotation does not encode: %v", err)
	}
	raw, err := s.call(ctx, "/v1/projects/"+url.PathEscape(parts[1])+"/assessments/"+url.PathEscape(parts[3])+":annotate", body)
	if err != nil {
		return nil, err
	}
	out := new(pb.AnnotateAssessmentResponse)
	if err := unmarshal.Unmarshal(raw, out); err != nil {
		return nil, status.Errorf(codes.Internal, "the answer is not an AnnotateAssessmentResponse: %v", err)
	}
	return out, nil
}

// call posts body to the REST handler at path, with the call's API key,
// peer and deadline, and returns the 200 answer's body or the gRPC status
// its failure maps to.
func (s *Service) call(ctx context.Context, path string, body []byte) ([]byte, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+Host+path, bytes.NewReader(body))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid resource name: %v", err)
	}
	r.Host = Host
	r.RequestURI = path
	r.Header.Set("Content-Type", "application/json")
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		// Only the credentials cross over: the REST handler reads ?key=,
		// x-goog-api-key and Authorization: Bearer.
		if v := md.Get("x-goog-api-key"); len(v) > 0 {
			r.Header.Set("X-Goog-Api-Key", v[0])
		}
		if v := md.Get("authorization"); len(v) > 0 {
			r.Header.Set("Authorization", v[0])
		}
		if v := md.Get("user-agent"); len(v) > 0 {
			r.Header.Set("User-Agent", v[0])
		}
	}
	r.RemoteAddr = "192.0.2.1:1" // TEST-NET, for a peer the transport does not name
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		r.RemoteAddr = p.Addr.String()
	}
	w := &recorder{header: http.Header{}}
	if err := serve(s.mock, w, r); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		// The client gave up (its deadline, a cancel) while the mock held the
		// answer (fault hang, a rule's Delay): it has its own status already.
		return nil, status.FromContextError(err).Err()
	}
	switch {
	case w.hijacked && bytes.HasPrefix(w.conn.Bytes(), []byte("HTTP/1.1 200")):
		// Fault truncate: half an answer, then the connection closed.
		return nil, status.Error(codes.Internal, "the answer was cut short (truncated body)")
	case w.hijacked:
		// Faults close and reset, and a hang that ran its Delay out.
		return nil, status.Error(codes.Unavailable, "the connection closed without an answer")
	case w.overflow:
		return nil, status.Error(codes.Internal, "the answer is too large")
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.status != http.StatusOK {
		return nil, errorStatus(w.status, w.header.Get("Content-Type"), w.body.Bytes())
	}
	if ct := w.header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		// An HTML page with HTTP 200 (fault html-error with Status 200: a
		// proxy or captive portal) is no gRPC answer: clients report the
		// content type as UNKNOWN, as for any HTTP status the mapping lacks.
		return nil, status.Errorf(codes.Unknown, "unexpected content-type %q received from server; the answer is not the API's", ct)
	}
	return w.body.Bytes(), nil
}

// serve runs the handler, turning the panic with which net/http handlers
// abort a response (http.ErrAbortHandler) into UNAVAILABLE, and any other
// into INTERNAL: net/http would survive it, and so does the gRPC server
// (grpc-go recovers nothing).
func serve(h http.Handler, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		switch p := recover(); {
		case p == nil:
		case p == http.ErrAbortHandler:
			err = status.Error(codes.Unavailable, "the answer was aborted")
		default:
			err = status.Errorf(codes.Internal, "the mock failed: %v", p)
		}
	}()
	h.ServeHTTP(w, r)
	return nil
}

// errorStatus is the gRPC status of a non-200 answer: Google's API error
// envelope's own status, or for any other body the code a gRPC client
// derives from the HTTP status alone.
func errorStatus(httpStatus int, contentType string, body []byte) error {
	var env struct {
		Error *struct {
			Message string            `json:"message"`
			Status  string            `json:"status"`
			Details []json.RawMessage `json:"details"`
		} `json:"error"`
	}
	if strings.HasPrefix(contentType, "application/json") && json.Unmarshal(body, &env) == nil && env.Error != nil {
		if c, ok := code.Code_value[env.Error.Status]; ok && c != 0 {
			st := &spb.Status{Code: c, Message: env.Error.Message}
			for _, d := range env.Error.Details {
				a := new(anypb.Any)
				if unmarshal.Unmarshal(d, a) == nil {
					st.Details = append(st.Details, a)
				}
			}
			return status.FromProto(st).Err()
		}
	}
	return status.Errorf(httpCode(httpStatus), "unexpected HTTP status code received from server: %d (%s); the answer is not the API's", httpStatus, http.StatusText(httpStatus))
}

// httpCode maps an HTTP status that is not gRPC's to the code a gRPC client
// reports (grpc/grpc doc/http-grpc-status-mapping.md).
func httpCode(s int) codes.Code {
	switch s {
	case http.StatusBadRequest:
		return codes.Internal
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.Unimplemented
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return codes.Unavailable
	}
	return codes.Unknown
}

// recorder is the in-memory ResponseWriter the REST handler answers into.
// It can be hijacked, as the handler does for the connection faults: what is
// written to the "connection" is kept to tell a truncated answer from a
// closed connection.
type recorder struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	overflow bool
	hijacked bool
	conn     bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.body.Len()+len(p) > maxAnswerBytes {
		w.overflow = true
		return 0, errors.New("enterprisegrpc: the answer is too large")
	}
	return w.body.Write(p)
}

// Flush is a no-op: the answer is read once the handler returns.
func (w *recorder) Flush() {}

// Hijack hands the handler a connection that records what it is sent.
func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, fmt.Errorf("enterprisegrpc: %w", http.ErrHijacked)
	}
	w.hijacked = true
	c := &fakeConn{w: &limitedWriter{b: &w.conn, n: maxAnswerBytes}}
	return c, bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c)), nil
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	b *bytes.Buffer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// fakeConn is the hijacked "connection": reads see EOF, writes are kept.
type fakeConn struct{ w *limitedWriter }

func (c *fakeConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (c *fakeConn) Write(p []byte) (int, error)      { return c.w.Write(p) }
func (c *fakeConn) Close() error                     { return nil }
func (c *fakeConn) LocalAddr() net.Addr              { return fakeAddr{} }
func (c *fakeConn) RemoteAddr() net.Addr             { return fakeAddr{} }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }
func (fakeAddr) Network() string                     { return "memory" }
func (fakeAddr) String() string                      { return "enterprisegrpc" }

type fakeAddr struct{}
