// Package intercept lets integrations that hard-code a CAPTCHA provider's
// URL reach the mock instead: a certificate authority of the mock's own
// ([CA]), a forward proxy that terminates TLS for the providers' hosts, and a
// TLS listener that answers on those hosts for clients sent to it by name
// resolution (a hosts entry, a container's extra host, Chromium's host
// resolver rules). Both serve a mock's handler, only on the provider URLs it
// stands in for ([mockserver.ProviderForURL]); other hosts are refused with a
// 403 by default, or tunnelled untouched with Passthrough.
//
// Like the core, it imports only the standard library.
package intercept

import (
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// Interceptor serves a mock's handler on the providers' real URLs, over a
// forward proxy ([Interceptor.ServeProxy]) and a TLS listener
// ([Interceptor.ServeTLS]). Set its fields before the first Serve call.
type Interceptor struct {
	// Mock answers the intercepted requests: a [mockserver.Server]'s
	// Handler, typically.
	Mock http.Handler
	// CA signs the certificates presented for the providers' hosts.
	CA *CA
	// Passthrough tunnels the hosts that are not providers' untouched;
	// without it they get 403.
	Passthrough bool
	// Token, when set, is required of proxy clients, as the password of
	// Proxy-Authorization Basic (any user name: put it in the proxy URL,
	// http://siteverify:TOKEN@host:port) or as a Bearer token.
	Token string
	// Logger receives one line per refused or failed connection; nil is
	// silent.
	Logger *slog.Logger
	// GRPC, when set, answers the gRPC calls (HTTP/2, content-type
	// application/grpc) made to a provider's host: reCAPTCHA Enterprise's
	// official clients speak gRPC to recaptchaenterprise.googleapis.com:443.
	// A grpc.Server from the enterprisegrpc package, typically.
	GRPC http.Handler

	once   sync.Once
	inner  *http.Server // serves every terminated connection, HTTP/1.1 or HTTP/2
	conns  *connListener
	mu     sync.Mutex
	closed bool
	outer  []*http.Server
	lns    []net.Listener
}

func (in *Interceptor) init() {
	in.once.Do(func() {
		in.conns = newConnListener()
		in.inner = &http.Server{
			Handler:           http.HandlerFunc(in.serveReal),
			TLSConfig:         in.CA.TLSConfig(""),
			ReadHeaderTimeout: 30 * time.Second,
			ErrorLog:          quietLog(),
		}
		go func() { _ = in.inner.Serve(in.conns) }()
	})
}

// serveReal answers a request that reached a provider's host, through the
// proxy or the TLS listener: the mock's, when the URL is one the mock stands
// in for.
func (in *Interceptor) serveReal(w http.ResponseWriter, r *http.Request) {
	if in.GRPC != nil && r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
		in.GRPC.ServeHTTP(w, r)
		return
	}
	u := *r.URL
	u.Host = r.Host
	if _, ok := mockserver.ProviderForURL(&u); !ok {
		http.Error(w, fmt.Sprintf("siteverify: %s%s is not a URL the mock stands in for (it serves the providers' verify and script URLs)", r.Host, r.URL.Path), http.StatusNotFound)
		return
	}
	in.Mock.ServeHTTP(w, r)
}

// ServeProxy accepts forward-proxy clients on l until Close: CONNECT to a
// provider host on port 443 is answered by the mock over TLS signed by the
// CA (HTTP/1.1 or HTTP/2); a plain-HTTP absolute-form request for a provider
// URL (http:// or, as old axios sends it, https://) is answered directly.
func (in *Interceptor) ServeProxy(l net.Listener) error {
	in.init()
	srv := &http.Server{
		Handler:           http.HandlerFunc(in.serveProxy),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          quietLog(),
	}
	if !in.track(srv, l) {
		return http.ErrServerClosed
	}
	return srv.Serve(l)
}

// ServeTLS accepts TLS clients on l until Close and presents the leaf of the
// provider host they name (SNI); a client that names another host fails its
// handshake.
func (in *Interceptor) ServeTLS(l net.Listener) error {
	in.init()
	if !in.track(nil, l) {
		return http.ErrServerClosed
	}
	for {
		c, err := l.Accept()
		if err != nil {
			if in.isClosed() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		in.conns.push(tls.Server(c, in.CA.TLSConfig("")))
	}
}

func (in *Interceptor) track(srv *http.Server, l net.Listener) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return false
	}
	if srv != nil {
		in.outer = append(in.outer, srv)
	}
	in.lns = append(in.lns, l)
	return true
}

func (in *Interceptor) isClosed() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.closed
}

// Close stops every listener and connection the interceptor serves.
func (in *Interceptor) Close() error {
	in.init()
	in.mu.Lock()
	in.closed = true
	outer, lns := in.outer, in.lns
	in.mu.Unlock()
	for _, s := range outer {
		_ = s.Close()
	}
	for _, l := range lns {
		_ = l.Close()
	}
	in.conns.Close()
	return in.inner.Close()
}

func (in *Interceptor) serveProxy(w http.ResponseWriter, r *http.Request) {
	if !in.authorized(r) {
		w.Header().Set("Proxy-Authenticate", `Basic realm="siteverify"`)
		http.Error(w, "siteverify proxy: this proxy needs the admin token (put it in the proxy URL: http://siteverify:TOKEN@host:port)", http.StatusProxyAuthRequired)
		return
	}
	if r.Method == http.MethodConnect {
		in.connect(w, r)
		return
	}
	if !r.URL.IsAbs() {
		http.Error(w, "siteverify proxy: this is a forward proxy; set it as HTTPS_PROXY (or HTTP_PROXY) and request the provider's own URL", http.StatusBadRequest)
		return
	}
	host := r.URL.Hostname()
	if IsProviderHost(host) {
		r.Header.Del("Proxy-Authorization")
		r.Header.Del("Proxy-Connection")
		r.Host = host
		in.serveReal(w, r)
		return
	}
	if !in.Passthrough {
		in.refuse(w, host)
		return
	}
	r.Header.Del("Proxy-Authorization")
	(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.Out.URL = r.URL }, ErrorLog: quietLog()}).ServeHTTP(w, r)
}

func (in *Interceptor) refuse(w http.ResponseWriter, host string) {
	in.logf("proxy refused a host that is not a provider's", "host", host)
	http.Error(w, fmt.Sprintf("siteverify proxy: %s is not a CAPTCHA provider host; the proxy serves only %s (start it with --passthrough to tunnel other hosts)",
		host, strings.Join(ProviderHosts(), ", ")), http.StatusForbidden)
}

func (in *Interceptor) connect(w http.ResponseWriter, r *http.Request) {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		http.Error(w, "siteverify proxy: CONNECT needs host:port", http.StatusBadRequest)
		return
	}
	provider := IsProviderHost(host)
	if !provider && !in.Passthrough {
		in.refuse(w, host)
		return
	}
	if provider && port != "443" {
		http.Error(w, fmt.Sprintf("siteverify proxy: %s is served on port 443 only", host), http.StatusForbidden)
		return
	}
	var upstream net.Conn
	if !provider {
		d := net.Dialer{Timeout: 10 * time.Second}
		if upstream, err = d.DialContext(r.Context(), "tcp", r.Host); err != nil {
			http.Error(w, "siteverify proxy: "+err.Error(), http.StatusBadGateway)
			return
		}
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		if upstream != nil {
			upstream.Close()
		}
		http.Error(w, "siteverify proxy: CONNECT needs HTTP/1.1", http.StatusHTTPVersionNotSupported)
		return
	}
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		conn.Close()
		if upstream != nil {
			upstream.Close()
		}
		return
	}
	// Bytes the client sent after the CONNECT header (its ClientHello, if
	// it did not wait) are in rw's buffer.
	c := net.Conn(conn)
	if n := rw.Reader.Buffered(); n > 0 {
		c = &prefixConn{Conn: conn, r: io.MultiReader(io.LimitReader(rw.Reader, int64(n)), conn)}
	}
	if upstream != nil {
		tunnel(c, upstream)
		return
	}
	in.conns.push(tls.Server(c, in.CA.TLSConfig(host)))
}

func (in *Interceptor) authorized(r *http.Request) bool {
	if in.Token == "" {
		return true
	}
	h := r.Header.Get("Proxy-Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	var got string
	switch strings.ToLower(scheme) {
	case "bearer":
		got = cred
	case "basic":
		b, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return false
		}
		_, got, _ = strings.Cut(string(b), ":")
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(in.Token)) == 1
}

func (in *Interceptor) logf(msg string, args ...any) {
	if in.Logger != nil {
		in.Logger.Info(msg, args...)
	}
}

// tunnel copies bytes both ways until either side closes.
func tunnel(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
	a.Close()
	b.Close()
}

// prefixConn is a hijacked connection whose first bytes were already
// buffered by the HTTP server.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// NetConn is the TCP connection, so that a reset fault can set SO_LINGER on it.
func (c *prefixConn) NetConn() net.Conn { return c.Conn }

// connListener hands terminated connections to the inner HTTP server.
type connListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newConnListener() *connListener {
	return &connListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *connListener) push(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// quietLog drops net/http's own connection errors (TLS handshakes that a
// client aborts, resets the mock's faults cause): they are the point, not
// news.
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }
