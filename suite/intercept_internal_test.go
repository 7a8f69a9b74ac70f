package suite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver/intercept"
	"github.com/siteverify/siteverify/suite/target"
)

// TestResolveProvidersStaysInside starts a backend with
// start.resolve_providers and checks, from inside and outside: the
// providers' hosts resolve to the session's TLS listener for the backend
// only (the machine's /etc/hosts is byte for byte the same, and the harness
// does not resolve them), the PID the harness started is the backend itself
// (not unshare or sh) in a mount namespace of its own, and Close stops it.
func TestResolveProvidersStaysInside(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("start.resolve_providers needs Linux and root")
	}
	before, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "hardcoded")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/hardcoded").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	seen := filepath.Join(dir, "seen")
	src := `kind: v2-checkbox
start:
  command: [sh, -c, 'getent hosts www.google.com challenges.cloudflare.com localhost > "$0"; exec "$1" -addr "$2"', "` + seen + `", "` + bin + `", "127.0.0.1:{{port}}"]
  resolve_providers: true
  env: {HARDCODED_SECRET: "{{secret}}", TLS: "{{tls_addr}}"}
endpoints: [{url: "http://127.0.0.1:{{port}}/login", hostnames: [h]}]
classify: {accepted: {status: [200]}, rejected: {status: [403]}}
`
	tg, err := target.Parse([]byte(src), "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(context.Background(), Config{Target: tg, CADir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	host, port, _ := net.SplitHostPort(s.icpt.tlsAddr)
	if port != "443" || !strings.HasPrefix(host, "127.") || host == "127.0.0.1" || s.target.Start.Env["TLS"] != s.icpt.tlsAddr {
		t.Errorf("TLS listener %s, {{tls_addr}} %q: want a private loopback address on port 443", s.icpt.tlsAddr, s.target.Start.Env["TLS"])
	}
	got, _ := os.ReadFile(seen)
	for _, w := range []string{host + " ", "www.google.com", "challenges.cloudflare.com"} {
		if !strings.Contains(string(got), w) {
			t.Errorf("inside the namespace, getent gave %q; want %q", got, w)
		}
	}
	if !strings.Contains(string(got), "localhost") {
		t.Errorf("localhost does not resolve inside: %q", got)
	}

	pid := s.backend().cmd.Process.Pid
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil || exe != bin {
		t.Errorf("PID %d runs %q (%v), want the backend %s", pid, exe, err, bin)
	}
	inner, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	outer, _ := os.Readlink("/proc/self/ns/mnt")
	if inner == "" || inner == outer {
		t.Errorf("backend's mount namespace %q, the harness's %q: want its own", inner, outer)
	}

	after, _ := os.ReadFile("/etc/hosts")
	if !bytes.Equal(before, after) {
		t.Errorf("the machine's /etc/hosts changed:\n%s", after)
	}
	if out, err := exec.Command("getent", "hosts", "www.google.com").Output(); err == nil && strings.Contains(string(out), host) {
		t.Errorf("outside the namespace, www.google.com resolves to the session's listener: %s", out)
	}

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("backend PID %d still there after Close (%v)", pid, err)
	}
	if _, err := os.Stat(s.icpt.tmpDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the hosts file's directory is left behind: %v", err)
	}
	if c, err := net.DialTimeout("tcp", s.icpt.tlsAddr, time.Second); err == nil {
		c.Close()
		t.Errorf("the TLS listener still accepts after Close")
	}
}

// TestListenPrivate443 checks the choice of the TLS listener's address: an
// address in use is replaced by another, and a port 443 refused for want
// of privilege gets an exact error with what to do.
func TestListenPrivate443(t *testing.T) {
	picks := 0
	pick := func() (net.IP, error) { picks++; return net.IPv4(127, 20, 0, byte(picks)), nil }
	var tried []string
	ln, err := listenPrivate443(func(_, addr string) (net.Listener, error) {
		tried = append(tried, addr)
		if len(tried) < 3 {
			return nil, &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
		}
		return net.Listen("tcp", "127.0.0.1:0")
	}, pick)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if want := []string{"127.20.0.1:443", "127.20.0.2:443", "127.20.0.3:443"}; strings.Join(tried, " ") != strings.Join(want, " ") {
		t.Errorf("tried %v, want %v", tried, want)
	}

	_, err = listenPrivate443(func(_, addr string) (net.Listener, error) {
		return nil, &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EACCES)}
	}, func() (net.IP, error) { return net.IPv4(127, 20, 0, 9), nil })
	want := "start.resolve_providers: cannot listen on 127.20.0.9:443 for the providers' hosts (listen tcp: bind: permission denied): port 443 needs root or CAP_NET_BIND_SERVICE; run siteverify as root, or lower the privileged ports (sysctl net.ipv4.ip_unprivileged_port_start=443), or use start.use_proxy if the backend honours HTTPS_PROXY"
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
	if !errors.Is(err, syscall.EACCES) {
		t.Errorf("error does not wrap EACCES")
	}

	_, err = listenPrivate443(func(_, addr string) (net.Listener, error) {
		return nil, os.NewSyscallError("bind", syscall.EADDRINUSE)
	}, func() (net.IP, error) { return net.IPv4(127, 20, 0, 9), nil })
	if err == nil || !strings.Contains(err.Error(), "no free loopback address on port 443 after 32 tries") {
		t.Errorf("every address in use: %v", err)
	}

	for range 1000 {
		ip, err := randomLoopback()
		if err != nil {
			t.Fatal(err)
		}
		if v4 := ip.To4(); v4[0] != 127 || v4[1] < 16 || v4[3] == 0 || v4[3] == 255 {
			t.Fatalf("randomLoopback = %s", ip)
		}
	}
}

// TestResolveProvidersRefused checks the error where the namespace or the
// bind mount is refused (here by an unshare that fails as it does without
// privilege): it quotes the command and its output and says what to do.
func TestResolveProvidersRefused(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	fake := t.TempDir()
	script := "#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(fake, "unshare"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", fake+string(os.PathListSeparator)+os.Getenv("PATH"))
	_, err := newNSWrap(context.Background(), filepath.Join(t.TempDir(), "hosts"))
	for _, w := range []string{
		"start.resolve_providers: cannot give the backend its own /etc/hosts: `" + filepath.Join(fake, "unshare"),
		"--mount --propagation private -- ", "--bind ", " /etc/hosts` failed (exit status 1: unshare: unshare failed: Operation not permitted); run siteverify as root",
		"or use start.use_proxy if the backend honours HTTPS_PROXY",
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error\n%v\nlacks %q", err, w)
		}
	}

	t.Setenv("PATH", t.TempDir())
	_, err = newNSWrap(context.Background(), filepath.Join(t.TempDir(), "hosts"))
	if err == nil || !strings.Contains(err.Error(), "start.resolve_providers runs the backend under unshare, mount and sh, and unshare is not in PATH") {
		t.Errorf("no unshare: %v", err)
	}
}

// TestHostsFile checks the hosts file: the providers first, on the
// listener's address, localhost, and none of the providers' hosts again.
func TestHostsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	if err := writeHostsFile(path, "127.33.44.55"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	var first string
	for _, line := range strings.Split(string(data), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			first = line
			break
		}
	}
	if want := "127.33.44.55 " + strings.Join(intercept.ProviderHosts(), " "); first != want {
		t.Errorf("first entry %q, want %q", first, want)
	}
	for _, h := range intercept.ProviderHosts() {
		if n := strings.Count(string(data), " "+h+" ") + strings.Count(string(data), " "+h+"\n"); n != 1 {
			t.Errorf("%s named %d times:\n%s", h, n, data)
		}
	}
	if !strings.Contains(string(data), "127.0.0.1 localhost\n") {
		t.Errorf("no localhost:\n%s", data)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v: the backend may run as another user", fi.Mode())
	}
}
