package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// serveProc is the `siteverify serve` process under measurement.
type serveProc struct {
	cmd      *exec.Cmd
	url      string
	exited   chan struct{}
	client   *http.Client
	provider *mockserver.Provider // whose verify path is measured
}

var listening = regexp.MustCompile(`^siteverify: listening on (http://\S+)$`)

// startServe starts the binary on a free loopback port with the shared site
// and signing key, and waits for its listening line.
func startServe(ctx context.Context, bin, dir, keyHex string, prov *mockserver.Provider, stderr io.Writer) (*serveProc, error) {
	fixtures := filepath.Join(dir, "bench.yaml")
	site := fmt.Sprintf("default_site: {sitekey: %s, secret: %s, kind: %s, hostname: %s}\n", benchSiteKey, benchSecret, prov.KeyKinds()[0], benchHost)
	if err := os.WriteFile(fixtures, []byte(site), 0o600); err != nil {
		return nil, err
	}
	p := &serveProc{exited: make(chan struct{}), client: &http.Client{Timeout: 10 * time.Second}, provider: prov}
	p.cmd = exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--fixtures", fixtures, "--signing-key", keyHex, "--log-level", "warn")
	p.cmd.Stderr = stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		_ = p.cmd.Wait() // after the pipe is drained, as os/exec requires
		close(p.exited)
	}()
	select {
	case line := <-lines:
		m := listening.FindStringSubmatch(line)
		if m == nil {
			p.stop()
			return nil, fmt.Errorf("siteverify printed %q, want its listening line", line)
		}
		p.url = m[1]
		return p, nil
	case <-p.exited:
		return nil, errors.New("siteverify exited before listening (its stderr is above)")
	case <-time.After(10 * time.Second):
		p.stop()
		return nil, errors.New("siteverify did not print its listening line within 10 s")
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

func (p *serveProc) verifyURL() string { return p.url + p.provider.VerifyPath() }

// stop sends SIGTERM to the process this program started and waits for it,
// killing it after 10 s.
func (p *serveProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// answer is a real siteverify success answer, which the bare handler copies.
type answer struct {
	header http.Header
	body   []byte
}

func (p *serveProc) sampleAnswer(token string) (answer, error) {
	resp, err := p.client.PostForm(p.verifyURL(), url.Values{"secret": {benchSecret}, "response": {token}})
	if err != nil {
		return answer{}, fmt.Errorf("sample verification: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, fmt.Errorf("sample verification: %w", err)
	}
	// Google pretty-prints, hCaptcha and Turnstile do not.
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"success": true`) && !strings.Contains(string(body), `"success":true`) {
		return answer{}, fmt.Errorf("sample verification: %s %s", resp.Status, body)
	}
	return answer{header: resp.Header, body: body}, nil
}

// spentTokens is how many tokens the server has verified and remembers.
func (p *serveProc) spentTokens() (int, error) {
	resp, err := p.client.Get(p.url + "/__admin/health")
	if err != nil {
		return 0, fmt.Errorf("admin health: %w", err)
	}
	defer resp.Body.Close()
	var h struct {
		Spent int `json:"spent_tokens"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return 0, fmt.Errorf("admin health: %w", err)
	}
	return h.Spent, nil
}

// bareServer is a plain net/http server with a constant answer.
type bareServer struct {
	url string
	srv *http.Server
}

// startBare serves a constant copy of a real answer (body and the headers
// siteverify sets) from a plain net/http server: the ceiling siteverify is
// compared with. It reads the request body, as any real handler must.
func startBare(a answer) (*bareServer, error) {
	keep := []string{"Content-Type", "Cache-Control", "X-Content-Type-Options", "X-Xss-Protection", "Server"}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		hdr := w.Header()
		for _, k := range keep {
			hdr[k] = a.header[k]
		}
		hdr["Content-Length"] = []string{strconv.Itoa(len(a.body))}
		_, _ = w.Write(a.body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bare server: %w", err)
	}
	b := &bareServer{url: "http://" + ln.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = b.srv.Serve(ln) }()
	return b, nil
}

func (b *bareServer) close() { _ = b.srv.Close() }
