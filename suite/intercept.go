package suite

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/mockserver/enterprisegrpc"
	"github.com/siteverify/siteverify/mockserver/intercept"
	"github.com/siteverify/siteverify/suite/target"
)

// interception is a session's stand-in for the providers' real URLs, for a
// backend that hard-codes them: a forward proxy and a TLS listener serving
// the session's mock with certificates from the mock's CA, and, for
// start.resolve_providers, a hosts file the backend sees as /etc/hosts.
type interception struct {
	in       *intercept.Interceptor
	proxyURL string // http://127.0.0.1:PORT
	caFile   string
	tlsAddr  string // host:port of the TLS listener
	env      []string
	wrap     *nsWrap      // nil without start.resolve_providers
	grpc     *grpc.Server // reCAPTCHA Enterprise's gRPC service; nil for other providers
	tmpDir   string       // holds the hosts file; removed by close
}

// startInterception loads the CA in caDir (the default directory when
// empty) and starts the proxy and TLS listener in front of mock, which must
// be in-process.
func startInterception(ctx context.Context, t *target.Target, mock mockserver.Mock, caDir string) (_ *interception, err error) {
	srv, ok := mock.(*mockserver.Server)
	if !ok {
		return nil, fmt.Errorf("target %s intercepts the providers' real URLs (%s), which serves the mock in-process, but the mock is remote (%s); run without --mock-url (suite.Config.Mock nil or a *mockserver.Server), or run `siteverify serve --proxy-addr ... --tls-addr ...` beside that mock and give the backend its proxy and CA variables in start.env",
			t.Name, interceptWhy(t.Start), mock.URL())
	}
	resolve := t.Start.ResolveProviders
	if resolve && runtime.GOOS != "linux" {
		return nil, fmt.Errorf("start.resolve_providers needs Linux (a private mount namespace with its own /etc/hosts), and this is %s; use start.use_proxy if the backend honours HTTPS_PROXY, or map the providers' hosts (%s) to {{tls_addr}} yourself", runtime.GOOS, strings.Join(intercept.ProviderHosts(), ", "))
	}
	if caDir == "" {
		if caDir, err = intercept.DefaultCADir(); err != nil {
			return nil, err
		}
	}
	ca, err := intercept.LoadCA(caDir)
	if err != nil {
		return nil, fmt.Errorf("the mock's CA (for the providers' real URLs): %w", err)
	}
	ic := &interception{in: &intercept.Interceptor{Mock: srv.Handler(), CA: ca}, caFile: ca.CertFile()}
	if t.ProviderValue() == mockserver.Enterprise {
		// Google's official Enterprise clients speak gRPC to
		// recaptchaenterprise.googleapis.com:443 by default.
		ic.grpc = enterprisegrpc.NewServer(srv.Handler())
		ic.in.GRPC = ic.grpc
	}
	defer func() {
		if err != nil {
			ic.close()
		}
	}()
	var tlsLn net.Listener
	if resolve {
		if ic.tmpDir, err = os.MkdirTemp("", "siteverify-resolve-"); err != nil {
			return nil, fmt.Errorf("start.resolve_providers: %w", err)
		}
		// Namespaces first: where they are refused, so is all of it, and
		// that is the error to fix first.
		hosts := filepath.Join(ic.tmpDir, "hosts")
		if ic.wrap, err = newNSWrap(ctx, hosts); err != nil {
			return nil, err
		}
		if tlsLn, err = listenPrivate443(net.Listen, randomLoopback); err != nil {
			return nil, err
		}
		ip := tlsLn.Addr().(*net.TCPAddr).IP.String()
		if err = writeHostsFile(hosts, ip); err != nil {
			tlsLn.Close()
			return nil, err
		}
	} else if tlsLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("TLS listener for the providers' hosts: %w", err)
	}
	ic.tlsAddr = tlsLn.Addr().String()
	go func() { _ = ic.in.ServeTLS(tlsLn) }()
	proxyLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy for the providers' hosts: %w", err)
	}
	ic.proxyURL = "http://" + proxyLn.Addr().String()
	go func() { _ = ic.in.ServeProxy(proxyLn) }()

	if t.Start.UseProxy {
		ic.env = append(ic.env, intercept.ProxyEnv(ic.proxyURL)...)
	}
	if t.Start.UseProxy || resolve {
		ic.env = append(ic.env, intercept.CAEnv(ic.caFile)...)
	}
	return ic, nil
}

// interceptWhy names what in a start section asks for interception.
func interceptWhy(st *target.Start) string {
	var why []string
	if st.UseProxy {
		why = append(why, "start.use_proxy")
	}
	if st.ResolveProviders {
		why = append(why, "start.resolve_providers")
	}
	if len(why) == 0 {
		why = append(why, "{{proxy_url}}, {{ca_file}} or {{tls_addr}} in the start section")
	}
	return strings.Join(why, " and ")
}

// environ returns base with the interception's variables set (replacing any
// base value); start.env goes on top of it.
func (ic *interception) environ(base []string) []string {
	if ic == nil || len(ic.env) == 0 {
		return base
	}
	out := make([]string, 0, len(base)+len(ic.env))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.ContainsFunc(ic.env, func(e string) bool { return strings.HasPrefix(e, k+"=") }) {
			out = append(out, kv)
		}
	}
	return append(out, ic.env...)
}

// close stops the listeners and removes the hosts file (a backend still
// running keeps its bind mount of it: the file lives until it exits).
func (ic *interception) close() {
	if ic == nil {
		return
	}
	_ = ic.in.Close()
	if ic.grpc != nil {
		ic.grpc.Stop()
	}
	if ic.tmpDir != "" {
		_ = os.RemoveAll(ic.tmpDir)
	}
}

// maxAddrTries bounds the search for a free private loopback address.
const maxAddrTries = 32

// listenPrivate443 listens on port 443 of a loopback address 127.X.Y.Z
// chosen at random (X at least 16, away from 127.0.0.1 and Debian's
// 127.0.1.1), so parallel sessions each have their own and the backend still
// shares the machine's loopback; an address in use is replaced by another.
func listenPrivate443(listen func(network, addr string) (net.Listener, error), pick func() (net.IP, error)) (net.Listener, error) {
	var last error
	for range maxAddrTries {
		ip, err := pick()
		if err != nil {
			return nil, fmt.Errorf("start.resolve_providers: pick a loopback address: %w", err)
		}
		addr := net.JoinHostPort(ip.String(), "443")
		ln, err := listen("tcp", addr)
		switch {
		case err == nil:
			return ln, nil
		case errors.Is(err, syscall.EADDRINUSE):
			last = err
			continue
		case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
			return nil, fmt.Errorf("start.resolve_providers: cannot listen on %s for the providers' hosts (%w): port 443 needs root or CAP_NET_BIND_SERVICE; run siteverify as root, or lower the privileged ports (sysctl net.ipv4.ip_unprivileged_port_start=443), or use start.use_proxy if the backend honours HTTPS_PROXY", addr, err)
		default:
			return nil, fmt.Errorf("start.resolve_providers: listen on %s for the providers' hosts: %w", addr, err)
		}
	}
	return nil, fmt.Errorf("start.resolve_providers: no free loopback address on port 443 after %d tries: %w", maxAddrTries, last)
}

// randomLoopback picks 127.X.Y.Z with X in [16, 255], Y in [0, 255], Z in
// [1, 254].
func randomLoopback() (net.IP, error) {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return net.IPv4(127, 16+b[0]%240, b[1], 1+b[2]%254), nil
}

// writeHostsFile writes the hosts file a resolve_providers backend sees:
// every provider host on ip, localhost, and the machine's own entries
// without the providers' hosts (so nothing else resolves differently).
func writeHostsFile(path, ip string) error {
	var b bytes.Buffer
	b.WriteString("# siteverify start.resolve_providers: the CAPTCHA providers' hosts resolve to this\n# session's TLS listener, which answers from the mock. Seen only by the backend.\n")
	fmt.Fprintf(&b, "%s %s\n", ip, strings.Join(intercept.ProviderHosts(), " "))
	b.WriteString("127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n")
	if machine, err := os.ReadFile("/etc/hosts"); err == nil {
		b.WriteString("# the machine's /etc/hosts, without the providers' hosts:\n")
		for _, line := range strings.Split(string(machine), "\n") {
			body, _, _ := strings.Cut(line, "#")
			f := strings.Fields(body)
			if len(f) < 2 {
				continue
			}
			names := slices.DeleteFunc(f[1:], intercept.IsProviderHost)
			if len(names) > 0 {
				fmt.Fprintf(&b, "%s %s\n", f[0], strings.Join(names, " "))
			}
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("start.resolve_providers: write the hosts file: %w", err)
	}
	return nil
}

// nsWrap runs a backend in a private mount namespace where hostsFile is
// bind-mounted on /etc/hosts. The wrapper execs, never forks, down to the
// backend: the PID the harness started is the backend's, in its own process
// group, so stopping it works as for any backend.
type nsWrap struct {
	unshare, mount, sh string
	userns             bool // not root: a user namespace first (unprivileged user namespaces)
	hostsFile          string
}

// newNSWrap finds unshare, mount and sh, and tries the namespace and the
// bind mount once, so that where they are refused the error says so and
// what to do (rather than a backend that exits before it is ready).
func newNSWrap(ctx context.Context, hostsFile string) (*nsWrap, error) {
	w := &nsWrap{hostsFile: hostsFile, userns: os.Geteuid() != 0}
	for _, tool := range []struct {
		name string
		dst  *string
	}{{"unshare", &w.unshare}, {"mount", &w.mount}, {"sh", &w.sh}} {
		p, err := exec.LookPath(tool.name)
		if err != nil {
			return nil, fmt.Errorf("start.resolve_providers runs the backend under unshare, mount and sh, and %s is not in PATH (%w); install util-linux (apt-get install util-linux mount), or use start.use_proxy if the backend honours HTTPS_PROXY", tool.name, err)
		}
		*tool.dst = p
	}
	if err := os.WriteFile(hostsFile, []byte("# siteverify: namespace check\n"), 0o644); err != nil {
		return nil, fmt.Errorf("start.resolve_providers: write the hosts file: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	args := append(w.unshareArgs(), w.mount, "--bind", hostsFile, "/etc/hosts")
	if out, err := exec.CommandContext(ctx, w.unshare, args...).CombinedOutput(); err != nil {
		how := "run siteverify as root (or with CAP_SYS_ADMIN; in a container, --cap-add SYS_ADMIN or --privileged)"
		if w.userns {
			how = "run siteverify as root, or allow unprivileged user namespaces (sysctl user.max_user_namespaces=15000, and kernel.unprivileged_userns_clone=1 where it exists; in a container, --cap-add SYS_ADMIN or --privileged)"
		}
		return nil, fmt.Errorf("start.resolve_providers: cannot give the backend its own /etc/hosts: `%s %s` failed (%w: %s); %s, or use start.use_proxy if the backend honours HTTPS_PROXY",
			w.unshare, strings.Join(args, " "), err, strings.TrimSpace(string(out)), how)
	}
	return w, nil
}

func (w *nsWrap) unshareArgs() []string {
	var a []string
	if w.userns {
		a = append(a, "--user", "--map-root-user")
	}
	return append(a, "--mount", "--propagation", "private", "--")
}

// resolveMountFailed is the wrapper's exit status when the bind mount fails
// at start (it worked in newNSWrap's check).
const resolveMountFailed = 125

// command returns the program and arguments that run name with args under
// the wrapper: unshare ... -- sh -c 'mount --bind HOSTS /etc/hosts && exec
// "$@"' with the backend as "$@".
func (w *nsWrap) command(name string, args []string) (string, []string) {
	script := fmt.Sprintf(`"$1" --bind "$2" /etc/hosts || { echo "siteverify: start.resolve_providers: mount --bind $2 /etc/hosts failed" >&2; exit %d; }; shift 2; exec "$@"`, resolveMountFailed)
	a := append(w.unshareArgs(), w.sh, "-c", script, "siteverify-resolve-providers", w.mount, w.hostsFile, name)
	return w.unshare, append(a, args...)
}
