// Command soak drives the `siteverify serve` binary at full speed on
// loopback for a few minutes and reports what a long run does to it: RSS
// over time (from /proc/PID/status), goroutines and spent tokens (from
// /__admin/health), and single-use violations, which must be zero.
//
//	go run ./mockserver/internal/soak [--bin bin/siteverify] [--duration 3m] [--workers 16]
//	    [--reset-every 50s] [--sample 10s] [--max-requests 50000000]
//
// Every worker loops until the deadline or the request budget: it mints a
// fresh token (through the admin API or the client script's mint endpoint,
// alternately) and verifies it, sometimes twice at once (exactly one answer
// may succeed); replays tokens already verified (none may succeed); and
// mixes in hostile requests: oversized bodies, broken percent-encoding,
// thousands of parameters, 60 KB queries, secrets in the wrong field. The
// journal is on (the server's default 10 000 entries) and a monitor resets
// the server periodically. It exits 1 on any single-use violation, any
// unexpected answer, or RSS that keeps growing once the token window is
// full (or, with resets, once the first reset cycle is over); 2 on a usage
// or start-up error.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type config struct {
	bin         string
	duration    time.Duration
	workers     int
	resetEvery  time.Duration
	sample      time.Duration
	maxRequests int64
}

func main() {
	var cfg config
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.StringVar(&cfg.bin, "bin", "bin/siteverify", "the siteverify binary to run (make build)")
	fs.DurationVar(&cfg.duration, "duration", 3*time.Minute, "how long to drive it (env SOAK_DURATION)")
	fs.IntVar(&cfg.workers, "workers", 16, "concurrent clients (1-256)")
	fs.DurationVar(&cfg.resetEvery, "reset-every", 50*time.Second, "POST /__admin/reset this often (0: never)")
	fs.DurationVar(&cfg.sample, "sample", 10*time.Second, "how often to print RSS and goroutines")
	fs.Int64Var(&cfg.maxRequests, "max-requests", 50_000_000, "stop after this many requests in all")
	if d := os.Getenv("SOAK_DURATION"); d != "" {
		if v, err := time.ParseDuration(d); err == nil {
			cfg.duration = v
		} else {
			fmt.Fprintf(os.Stderr, "soak: SOAK_DURATION=%q: want a duration such as 30s or 3m\n", d)
			os.Exit(2)
		}
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	switch {
	case cfg.duration <= 0 || cfg.duration > time.Hour:
		fmt.Fprintln(os.Stderr, "soak: --duration: want between 1s and 1h")
		os.Exit(2)
	case cfg.workers < 1 || cfg.workers > 256:
		fmt.Fprintln(os.Stderr, "soak: --workers: want 1-256")
		os.Exit(2)
	case cfg.sample <= 0 || cfg.maxRequests <= 0 || cfg.resetEvery < 0:
		fmt.Fprintln(os.Stderr, "soak: --sample and --max-requests must be positive, --reset-every not negative")
		os.Exit(2)
	}
	os.Exit(run(cfg))
}

// counters are what the workers tally.
type counters struct {
	requests, verified, replays, doubles, hostile, resets atomic.Int64
	violations, unexpected                                atomic.Int64
}

// soak is one run: the server, its client and the tallies.
type soak struct {
	cfg    config
	base   string
	client *http.Client
	site   struct{ SiteKey, Secret string }
	n      counters
	// resetStarted and resetDone count resets: a token verified while no
	// reset was under way, in the same reset epoch as its replay, must not
	// verify again (Reset forgets spent tokens, by design).
	resetStarted, resetDone atomic.Int64
	deadline                time.Time

	mu       sync.Mutex
	problems []string // the first few unexpected answers, for the report
}

type verified struct {
	token string
	epoch int64
}

func run(cfg config) int {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration+time.Minute) // a watchdog over everything
	defer cancel()
	cmd := exec.Command(cfg.bin, "serve", "--addr", "127.0.0.1:0", "--log-level", "warn")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		return 2
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "soak: start %s: %v (run make build first)\n", cfg.bin, err)
		return 2
	}
	pid := cmd.Process.Pid
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // only the process this run started
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	base, err := listeningURL(stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		return 2
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	s := &soak{cfg: cfg, base: base, deadline: time.Now().Add(cfg.duration)}
	s.client = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		MaxIdleConns: cfg.workers * 2, MaxIdleConnsPerHost: cfg.workers * 2, IdleConnTimeout: 30 * time.Second,
	}}
	if err := s.loadSite(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		return 2
	}
	fmt.Printf("soak: %s (pid %d) for %v, %d workers, reset every %v, journal on\n", base, pid, cfg.duration, cfg.workers, orNever(cfg.resetEvery))

	samples := make(chan []sample, 1)
	workersDone := make(chan struct{})
	go func() { samples <- s.monitor(ctx, pid, workersDone) }()
	var wg sync.WaitGroup
	for w := range cfg.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.worker(ctx, rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano()))))
		}()
	}
	wg.Wait()
	close(workersDone)
	return s.report(<-samples)
}

// listeningURL reads the server's one "listening on" line.
func listeningURL(stdout io.Reader) (string, error) {
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), "listening on "); ok {
				line <- strings.TrimSpace(u)
				return
			}
		}
		close(line)
	}()
	select {
	case u, ok := <-line:
		if !ok {
			return "", errors.New("the server exited before it said it was listening")
		}
		return u, nil
	case <-time.After(20 * time.Second):
		return "", errors.New("no listening line within 20 s")
	}
}

func orNever(d time.Duration) string {
	if d == 0 {
		return "never"
	}
	return d.String()
}

func (s *soak) loadSite(ctx context.Context) error {
	var out struct {
		Default struct {
			SiteKey string `json:"sitekey"`
			Secret  string `json:"secret"`
		} `json:"default"`
	}
	if err := s.getJSON(ctx, "/__admin/sites", &out); err != nil {
		return fmt.Errorf("read the default site: %w", err)
	}
	s.site.SiteKey, s.site.Secret = out.Default.SiteKey, out.Default.Secret
	return nil
}

func (s *soak) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", path, resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(v)
}

// post sends a request and returns the status and body (at most 1 MiB).
func (s *soak) post(ctx context.Context, target, contentType, body string) (int, []byte, error) {
	s.n.requests.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

func (s *soak) problem(format string, args ...any) {
	s.n.unexpected.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.problems) < 10 {
		s.problems = append(s.problems, fmt.Sprintf(format, args...))
	}
}

// running reports whether the worker should go on: before the deadline,
// within the request budget, and not cancelled.
func (s *soak) running(ctx context.Context) bool {
	return ctx.Err() == nil && time.Now().Before(s.deadline) && s.n.requests.Load() < s.cfg.maxRequests
}

const formCT = "application/x-www-form-urlencoded"

// worker loops until the deadline: mostly fresh tokens, some replays and
// double verifications, some hostile requests.
func (s *soak) worker(ctx context.Context, rng *rand.Rand) {
	var recent []verified // tokens this worker verified, for replays
	for i := 0; s.running(ctx); i++ {
		switch p := rng.IntN(100); {
		case p < 60:
			if v, ok := s.fresh(ctx, i%2 == 0); ok {
				if len(recent) < 64 {
					recent = append(recent, v)
				} else {
					recent[rng.IntN(len(recent))] = v
				}
			}
		case p < 70:
			s.double(ctx, i%2 == 0)
		case p < 85:
			if len(recent) > 0 {
				s.replay(ctx, recent[rng.IntN(len(recent))])
			}
		default:
			s.hostileRequest(ctx, rng)
		}
	}
}

// mint gets a fresh token through the admin API or the mint endpoint.
func (s *soak) mint(ctx context.Context, viaAdmin bool) (string, bool) {
	var status int
	var body []byte
	var err error
	if viaAdmin {
		status, body, err = s.post(ctx, s.base+"/__admin/tokens", "application/json", `{"action": "soak", "hostname": "soak.example"}`)
	} else {
		status, body, err = s.post(ctx, s.base+"/recaptcha/api2/mint", formCT,
			url.Values{"sitekey": {s.site.SiteKey}, "action": {"soak"}, "hostname": {"soak.example"}}.Encode())
	}
	var out struct {
		Token string `json:"token"`
	}
	if err != nil || (status != http.StatusCreated && status != http.StatusOK) || json.Unmarshal(body, &out) != nil || out.Token == "" {
		if ctx.Err() == nil {
			s.problem("mint (admin %v): HTTP %d %v %.200s", viaAdmin, status, err, body)
		}
		return "", false
	}
	return out.Token, true
}

// verify sends the token with the site's secret and reports success.
func (s *soak) verify(ctx context.Context, token string) (bool, error) {
	status, body, err := s.post(ctx, s.base+"/recaptcha/api/siteverify", formCT,
		"secret="+url.QueryEscape(s.site.Secret)+"&response="+url.QueryEscape(token)+"&remoteip=127.0.0.1")
	if err != nil {
		return false, err
	}
	var a struct {
		Success bool `json:"success"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &a) != nil {
		return false, fmt.Errorf("HTTP %d %.200s", status, body)
	}
	return a.Success, nil
}

// quiet returns the reset epoch if no reset is under way, else -1.
func (s *soak) quiet() int64 {
	started := s.resetStarted.Load()
	if s.resetDone.Load() != started {
		return -1
	}
	return started
}

func (s *soak) fresh(ctx context.Context, viaAdmin bool) (verified, bool) {
	tok, ok := s.mint(ctx, viaAdmin)
	if !ok {
		return verified{}, false
	}
	epoch := s.quiet()
	ok, err := s.verify(ctx, tok)
	if err != nil || !ok {
		if ctx.Err() == nil {
			s.problem("fresh token did not verify: %v", err)
		}
		return verified{}, false
	}
	s.n.verified.Add(1)
	if epoch < 0 || s.quiet() != epoch {
		return verified{}, false // a reset overlapped: a replay may rightly succeed
	}
	return verified{token: tok, epoch: epoch}, true
}

// double verifies one fresh token from two goroutines at once: exactly one
// may succeed.
func (s *soak) double(ctx context.Context, viaAdmin bool) {
	tok, ok := s.mint(ctx, viaAdmin)
	if !ok {
		return
	}
	epoch := s.quiet()
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := s.verify(ctx, tok); err == nil && ok {
				wins.Add(1)
			} else if err != nil && ctx.Err() == nil {
				s.problem("double verification: %v", err)
			}
		}()
	}
	wg.Wait()
	s.n.doubles.Add(1)
	if wins.Load() > 1 && epoch >= 0 && s.quiet() == epoch {
		s.n.violations.Add(1)
		s.problem("single use: a token verified %d times at once", wins.Load())
	} else if wins.Load() == 0 && ctx.Err() == nil {
		s.problem("double verification: neither attempt succeeded")
	}
}

// replay sends an already verified token again: it must fail, unless a
// reset has happened since (Reset forgets spent tokens).
func (s *soak) replay(ctx context.Context, v verified) {
	ok, err := s.verify(ctx, v.token)
	if err != nil {
		if ctx.Err() == nil {
			s.problem("replay: %v", err)
		}
		return
	}
	s.n.replays.Add(1)
	if ok && s.quiet() == v.epoch {
		s.n.violations.Add(1)
		s.problem("single use: a replayed token verified again")
	}
}

// hostileRequest sends one of the hostile shapes; the mock must answer each
// with HTTP 200 and no success.
func (s *soak) hostileRequest(ctx context.Context, rng *rand.Rand) {
	target, body := s.base+"/recaptcha/api/siteverify", ""
	secret := url.QueryEscape(s.site.Secret)
	switch rng.IntN(5) {
	case 0: // oversized body
		body = "secret=" + secret + "&response=" + strings.Repeat("A", 70<<10)
	case 1: // broken percent-encoding
		body = "secret=" + secret + "&response=%zz%" + strings.Repeat("x", rng.IntN(2000))
	case 2: // thousands of parameters
		var b strings.Builder
		b.WriteString("secret=" + secret + "&response=tok")
		for k := range 900 + rng.IntN(2000) {
			b.WriteString("&p" + strconv.Itoa(k) + "=" + strings.Repeat("v", rng.IntN(20)))
		}
		body = b.String()
	case 3: // a 60 KB query
		target += "?pad=" + strings.Repeat("q", 60_000) + "&response=tok"
		body = "secret=" + secret
	case 4: // the secret in the wrong fields
		body = "Secret=" + secret + "&response=" + secret + "&remoteip=" + secret
	}
	status, answer, err := s.post(ctx, target, formCT, body)
	s.n.hostile.Add(1)
	if err != nil {
		if ctx.Err() == nil {
			s.problem("hostile request: %v", err)
		}
		return
	}
	if status != http.StatusOK || strings.Contains(string(answer), `"success": true`) {
		s.problem("hostile request: HTTP %d %.200s", status, answer)
	}
}

type sample struct {
	at         time.Duration
	rssKB      int64
	goroutines int
	spent      int
	requests   int64
}

// monitor prints a sample every cfg.sample and resets the server every
// cfg.resetEvery until the workers are done, then takes a last sample.
func (s *soak) monitor(ctx context.Context, pid int, workersDone <-chan struct{}) []sample {
	start := time.Now()
	tick := time.NewTicker(s.cfg.sample)
	defer tick.Stop()
	var reset <-chan time.Time
	if s.cfg.resetEvery > 0 {
		t := time.NewTicker(s.cfg.resetEvery)
		defer t.Stop()
		reset = t.C
	}
	var out []sample
	var lastReq int64
	lastAt := time.Duration(0)
	take := func() {
		at := time.Since(start)
		sm := sample{at: at, rssKB: rssKB(pid), requests: s.n.requests.Load()}
		var h struct {
			Goroutines int `json:"goroutines"`
			Spent      int `json:"spent_tokens"`
		}
		if err := s.getJSON(ctx, "/__admin/health", &h); err == nil {
			sm.goroutines, sm.spent = h.Goroutines, h.Spent
		}
		rate := float64(sm.requests-lastReq) / (at - lastAt).Seconds()
		lastReq, lastAt = sm.requests, at
		fmt.Printf("  t=%4.0fs  rss=%6.1f MB  goroutines=%4d  spent=%7d  req/s=%6.0f  violations=%d  unexpected=%d\n",
			at.Seconds(), float64(sm.rssKB)/1024, sm.goroutines, sm.spent, rate, s.n.violations.Load(), s.n.unexpected.Load())
		out = append(out, sm)
	}
	for {
		select {
		case <-ctx.Done():
			return out
		case <-workersDone:
			if len(out) == 0 || time.Since(start)-out[len(out)-1].at > time.Second {
				take()
			}
			return out
		case <-tick.C:
			take()
		case <-reset:
			s.resetStarted.Add(1)
			status, _, err := s.post(ctx, s.base+"/__admin/reset", "", "")
			s.resetDone.Add(1)
			if err != nil || status != http.StatusNoContent {
				if ctx.Err() == nil {
					s.problem("reset: HTTP %d %v", status, err)
				}
			} else {
				s.n.resets.Add(1)
			}
		}
	}
}

// rssKB reads VmRSS from /proc/PID/status (Linux), 0 if unavailable.
func rssKB(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// report prints the totals and decides the exit code.
func (s *soak) report(samples []sample) int {
	n := &s.n
	fmt.Printf("soak: %d requests: %d fresh tokens verified, %d double verifications, %d replays, %d hostile, %d resets\n",
		n.requests.Load(), n.verified.Load(), n.doubles.Load(), n.replays.Load(), n.hostile.Load(), n.resets.Load())
	code := 0
	if v := n.violations.Load(); v > 0 {
		fmt.Printf("soak: FAIL: %d single-use violations\n", v)
		code = 1
	} else {
		fmt.Println("soak: single-use violations: 0")
	}
	if u := n.unexpected.Load(); u > 0 {
		fmt.Printf("soak: FAIL: %d unexpected answers or errors, first ones:\n", u)
		s.mu.Lock()
		for _, p := range s.problems {
			fmt.Println("  " + p)
		}
		s.mu.Unlock()
		code = 1
	}
	if verdict, ok := flatness(samples, s.cfg); verdict != "" {
		fmt.Println("soak: " + verdict)
		if !ok {
			code = 1
		}
	}
	return code
}

// flatness compares RSS once the spent set has stopped growing: after the
// two-minute token window (or the first reset, which empties it), the peak
// of the second half of the samples must stay within 25 % + 16 MB of the
// first half's.
func flatness(samples []sample, cfg config) (string, bool) {
	warm := 2*time.Minute + 10*time.Second
	if cfg.resetEvery > 0 && cfg.resetEvery < 2*time.Minute {
		warm = cfg.resetEvery + 10*time.Second
	}
	var after []sample
	for _, sm := range samples {
		if sm.at >= warm && sm.rssKB > 0 {
			after = append(after, sm)
		}
	}
	if len(after) < 4 {
		return fmt.Sprintf("RSS flatness not judged: run longer than %v past the warm-up of %v", 4*cfg.sample, warm), true
	}
	peak := func(ss []sample) int64 {
		m := int64(0)
		for _, sm := range ss {
			m = max(m, sm.rssKB)
		}
		return m
	}
	first, second := peak(after[:len(after)/2]), peak(after[len(after)/2:])
	limit := first + first/4 + 16<<10
	msg := fmt.Sprintf("RSS after warm-up (%v): peak %.1f MB in the first half, %.1f MB in the second (limit %.1f MB)",
		warm, float64(first)/1024, float64(second)/1024, float64(limit)/1024)
	if second > limit {
		return "FAIL: " + msg, false
	}
	return msg + ": flat", true
}
