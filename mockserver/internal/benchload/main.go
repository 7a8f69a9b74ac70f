// Command benchload measures the throughput of the real `siteverify serve`
// binary against a bare net/http handler that writes a constant answer of
// the same size, with the same load generator (wrk), the same connections
// and the same request bodies, and prints both, their ratio and latencies.
//
//	go run ./mockserver/internal/benchload [--provider all] [--duration 10s] [--warmup 3s] [--rounds 3] [--threads 2] [--connections 32]
//
// --provider measures one provider's verify path (recaptcha, hcaptcha,
// turnstile) or, by default, each in turn.
//
// Every request carries a token verified for the first time, as in
// production: tokens are minted in this process by a mockserver sharing
// the binary's signing key and site (so minting costs no HTTP round trips),
// written one form body per line, and replayed by a wrk Lua script.
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is benchload's command line.
type config struct {
	bin         string
	wrk         string
	duration    time.Duration
	warmup      time.Duration
	threads     int
	connections int
	tokens      int
	rounds      int
	providers   []*mockserver.Provider
	minRatio    float64
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("benchload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.bin, "bin", "", "siteverify binary to measure (default: go build ./cmd/siteverify into a temporary directory)")
	fs.StringVar(&c.wrk, "wrk", "wrk", "wrk load generator")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "length of each measured run")
	fs.DurationVar(&c.warmup, "warmup", 3*time.Second, "length of the warm-up run before each measured run")
	fs.IntVar(&c.threads, "threads", 2, "wrk threads")
	fs.IntVar(&c.connections, "connections", 32, "wrk connections (kept alive), shared among the threads")
	fs.IntVar(&c.tokens, "tokens", 0, "fresh tokens per round (default: 2 x the fastest rate seen x duration)")
	fs.IntVar(&c.rounds, "rounds", 3, "measured rounds per target, alternating siteverify and bare")
	provider := fs.String("provider", "all", "the provider whose verify path is measured: recaptcha, hcaptcha, turnstile, or all")
	fs.Float64Var(&c.minRatio, "min-ratio", 0, "exit 1 if siteverify/bare req/s is below this (0: report only)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	case c.duration < time.Second || c.warmup < time.Second:
		return c, errors.New("--duration and --warmup must be at least 1s")
	case c.threads < 1 || c.connections < c.threads:
		return c, errors.New("--threads must be at least 1 and --connections at least --threads")
	case c.tokens < 0:
		return c, errors.New("--tokens must not be negative")
	case c.rounds < 1:
		return c, errors.New("--rounds must be at least 1")
	case *provider == "all":
		// The siteverify providers, whose requests are form bodies;
		// Enterprise's JSON assessments are not driven here yet.
		c.providers = []*mockserver.Provider{mockserver.ReCAPTCHA, mockserver.HCaptcha, mockserver.Turnstile}
	default:
		p, ok := mockserver.LookupProvider(*provider)
		if !ok {
			return c, fmt.Errorf("--provider %q: want recaptcha, hcaptcha, turnstile or all", *provider)
		}
		c.providers = []*mockserver.Provider{p}
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "benchload: %v\n", err)
		return 2
	}
	if cfg.wrk, err = exec.LookPath(cfg.wrk); err != nil {
		fmt.Fprintf(stderr, "benchload: the wrk load generator is not installed (%v).\n"+
			"Install it with:  apt-get install -y wrk   (Debian/Ubuntu, as root)\n", err)
		return 1
	}
	code := 0
	for _, p := range cfg.providers {
		fmt.Fprintf(stdout, "== %s (%s)\n", p, p.VerifyPath())
		if err := measure(ctx, cfg, p, stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "benchload: %s: %v\n", p.Name(), err)
			code = 1
		}
	}
	return code
}

// Site and key shared by the binary and the minting server here.
const (
	benchSiteKey = "6LcBenchLoadSiteKey000000000000000000000"
	benchSecret  = "6LcBenchLoadSecret0000000000000000000000"
	benchHost    = "app.example.com"
)

func measure(ctx context.Context, cfg config, p *mockserver.Provider, stdout, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "benchload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if cfg.bin == "" {
		cfg.bin = filepath.Join(dir, "siteverify")
		fmt.Fprintln(stderr, "benchload: building ./cmd/siteverify")
		build := exec.CommandContext(ctx, "go", "build", "-o", cfg.bin, "github.com/siteverify/siteverify/cmd/siteverify")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("build siteverify: %w\n%s", err, out)
		}
	}
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i*37 + 11)
	}
	minter, err := mockserver.NewServer(mockserver.Options{
		SigningKey:  key,
		DefaultSite: mockserver.Site{SiteKey: benchSiteKey, Secret: benchSecret, Hostname: benchHost, Kind: p.KeyKinds()[0]},
	})
	if err != nil {
		return fmt.Errorf("start minting server: %w", err)
	}
	defer minter.Close()
	mint := func(n int) []string {
		toks := make([]string, n)
		for i := range toks {
			// An hour's lifetime, so no token expires during a long run.
			iss, err := minter.Issue(ctx, mockserver.TokenSpec{Score: 0.9, Action: "login", Lifetime: time.Hour})
			if err != nil {
				panic(err) // a fixed, valid spec
			}
			toks[i] = iss.Token
		}
		return toks
	}

	sv, err := startServe(ctx, cfg.bin, dir, hex.EncodeToString(key), p, stderr)
	if err != nil {
		return err
	}
	defer sv.stop()
	answer, err := sv.sampleAnswer(mint(1)[0])
	if err != nil {
		return err
	}
	bare, err := startBare(answer)
	if err != nil {
		return err
	}
	defer bare.close()

	w := &wrkRunner{bin: cfg.wrk, dir: dir, threads: cfg.threads, connections: cfg.connections}
	fmt.Fprintf(stderr, "benchload: wrk %d threads, %d connections; %v warm-up per target, then %d rounds of %v each, alternating; GOMAXPROCS %d, %d CPUs\n",
		cfg.threads, cfg.connections, cfg.warmup, cfg.rounds, cfg.duration, runtime.GOMAXPROCS(0), runtime.NumCPU())

	// Warm both targets. The siteverify warm-up also estimates how many
	// tokens a round uses; rates above 100 000 req/s are not expected here,
	// and if the estimate falls short the count of fresh successes says so.
	if err := w.writeBodies("warm", mint(int(cfg.warmup.Seconds()*100_000))); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "benchload: warming up siteverify and the bare handler")
	wr, err := w.run(ctx, sv.verifyURL(), "warm", cfg.warmup)
	if err != nil {
		return err
	}
	if _, err := w.run(ctx, bare.url+p.VerifyPath(), "warm", cfg.warmup); err != nil {
		return err
	}
	// Tokens per round: twice the fastest rate seen so far, so that a round
	// faster than the warm-up still verifies a fresh token every time.
	fastest := wr.rps()
	tokensFor := func() int {
		if cfg.tokens > 0 {
			return cfg.tokens
		}
		return int(fastest*cfg.duration.Seconds()*2) + 10_000
	}

	// Rounds alternate the targets, so that whatever else the machine is
	// doing hits both alike; each round's ratio compares neighbours in time.
	var rounds []round
	for i := range cfg.rounds {
		bodies := fmt.Sprintf("run%d", i)
		n := tokensFor()
		fmt.Fprintf(stderr, "benchload: round %d/%d: minting %d tokens\n", i+1, cfg.rounds, n)
		if err := w.writeBodies(bodies, mint(n)); err != nil {
			return err
		}
		var r round
		before, err := sv.spentTokens()
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "benchload: round %d/%d: siteverify\n", i+1, cfg.rounds)
		cpu0, err := processCPU(sv.cmd.Process.Pid)
		if err != nil {
			return err
		}
		if r.sv, err = w.run(ctx, sv.verifyURL(), bodies, cfg.duration); err != nil {
			return err
		}
		cpu1, err := processCPU(sv.cmd.Process.Pid)
		if err != nil {
			return err
		}
		r.svCPU = cpu1 - cpu0
		after, err := sv.spentTokens()
		if err != nil {
			return err
		}
		r.fresh = int64(after - before)
		fastest = max(fastest, r.sv.rps())
		fmt.Fprintf(stderr, "benchload: round %d/%d: bare handler\n", i+1, cfg.rounds)
		if cpu0, err = selfCPU(); err != nil {
			return err
		}
		if r.bare, err = w.run(ctx, bare.url+p.VerifyPath(), bodies, cfg.duration); err != nil {
			return err
		}
		if cpu1, err = selfCPU(); err != nil {
			return err
		}
		r.bareCPU = cpu1 - cpu0
		if err := w.removeBodies(bodies); err != nil {
			return err
		}
		rounds = append(rounds, r)
	}
	ratio := report(stdout, rounds, len(answer.body))
	if cfg.minRatio > 0 && ratio < cfg.minRatio {
		return fmt.Errorf("ratio %.3f is below --min-ratio %.2f", ratio, cfg.minRatio)
	}
	return nil
}

// round is one measured run of each target.
type round struct {
	sv, bare       wrkResult
	svCPU, bareCPU time.Duration // CPU time the server used during the run
	fresh          int64         // tokens siteverify verified for the first time
}

// cpuPerRequest is the server's CPU time per request, in microseconds.
func cpuPerRequest(cpu time.Duration, res wrkResult) float64 {
	return float64(cpu.Microseconds()) / float64(res.requests)
}

func (r round) ratio() float64 { return r.sv.rps() / r.bare.rps() }

// report prints every round and the medians, and returns the median of
// the rounds' ratios.
func report(w io.Writer, rounds []round, answerBytes int) float64 {
	fmt.Fprintf(w, "%-8s %-18s %10s %9s %9s %9s %7s %12s\n", "round", "target", "req/s", "p50", "p90", "p99", "errors", "server-CPU/req")
	for i, r := range rounds {
		for _, t := range []struct {
			name string
			res  wrkResult
			cpu  time.Duration
		}{{"siteverify serve", r.sv, r.svCPU}, {"bare net/http", r.bare, r.bareCPU}} {
			fmt.Fprintf(w, "%-8d %-18s %10.1f %9s %9s %9s %7d %11.1fµs\n", i+1, t.name, t.res.rps(),
				micros(t.res.p50), micros(t.res.p90), micros(t.res.p99), t.res.errors(), cpuPerRequest(t.cpu, t.res))
		}
	}
	svRPS, bareRPS, ratios := make([]float64, len(rounds)), make([]float64, len(rounds)), make([]float64, len(rounds))
	svP50, svP99, bareP50, bareP99 := make([]float64, len(rounds)), make([]float64, len(rounds)), make([]float64, len(rounds)), make([]float64, len(rounds))
	svCPU, bareCPU := make([]float64, len(rounds)), make([]float64, len(rounds))
	for i, r := range rounds {
		svRPS[i], bareRPS[i], ratios[i] = r.sv.rps(), r.bare.rps(), r.ratio()
		svP50[i], svP99[i] = float64(r.sv.p50), float64(r.sv.p99)
		bareP50[i], bareP99[i] = float64(r.bare.p50), float64(r.bare.p99)
		svCPU[i], bareCPU[i] = cpuPerRequest(r.svCPU, r.sv), cpuPerRequest(r.bareCPU, r.bare)
	}
	fmt.Fprintf(w, "median   %-18s %10.1f %9s %9s %9s %7s %11.1fµs\n", "siteverify serve", median(svRPS), micros(int64(median(svP50))), "", micros(int64(median(svP99))), "", median(svCPU))
	fmt.Fprintf(w, "median   %-18s %10.1f %9s %9s %9s %7s %11.1fµs\n", "bare net/http", median(bareRPS), micros(int64(median(bareP50))), "", micros(int64(median(bareP99))), "", median(bareCPU))
	ratio := median(ratios)
	fmt.Fprintf(w, "ratio siteverify/bare: %.3f (median of the rounds' ratios", ratio)
	for i, r := range ratios {
		sep := ": "
		if i > 0 {
			sep = ", "
		}
		fmt.Fprintf(w, "%s%.3f", sep, r)
	}
	fmt.Fprintf(w, "); target >= 0.80\n")
	fmt.Fprintf(w, "server CPU per request, bare/siteverify: %.3f (less sensitive to other load on the machine)\n", median(bareCPU)/median(svCPU))
	var requests, fresh, errs int64
	for _, r := range rounds {
		requests += r.sv.requests
		fresh += r.fresh
		errs += r.sv.errors()
	}
	fmt.Fprintf(w, "siteverify verified %d fresh tokens in %d requests; every answer %d bytes (bare answers the same bytes)\n",
		fresh, requests, answerBytes)
	if fresh < requests-errs {
		fmt.Fprintf(w, "warning: %d requests reused a token (answered timeout-or-duplicate); rerun with more --tokens\n", requests-errs-fresh)
	}
	return ratio
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func micros(us int64) string {
	return fmt.Sprintf("%.2fms", float64(us)/1000)
}
