package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMissingWrk(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--wrk", "/nonexistent/wrk"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "apt-get install -y wrk") {
		t.Errorf("exit %d, stderr %q; want 1 and how to install wrk", code, stderr.String())
	}
}

func TestFlags(t *testing.T) {
	c, err := parseFlags([]string{"--duration", "5s", "--rounds", "2", "--connections", "8"}, &bytes.Buffer{})
	if err != nil || c.duration != 5*time.Second || c.rounds != 2 || c.connections != 8 || c.threads != 2 || c.warmup != 3*time.Second {
		t.Errorf("%+v %v", c, err)
	}
	for _, args := range [][]string{
		{"--duration", "500ms"}, {"--rounds", "0"}, {"--threads", "4", "--connections", "2"}, {"--tokens", "-1"}, {"extra"},
	} {
		if _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestParseResult(t *testing.T) {
	r, err := parseResult("requests=1000 duration_us=2000000 bytes=5 connect=1 read=2 write=0 status=3 timeout=0 p50_us=400 p90_us=900 p99_us=1500 max_us=9000")
	if err != nil {
		t.Fatal(err)
	}
	if r.rps() != 500 || r.errors() != 6 || r.p50 != 400 || r.p99 != 1500 {
		t.Errorf("%+v", r)
	}
	if _, err := parseResult("requests=0"); err == nil {
		t.Error("zero requests accepted")
	}
	if _, err := parseResult("requests=x"); err == nil {
		t.Error("bad number accepted")
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	end := time.Now().Add(30 * time.Millisecond)
	for time.Now().Before(end) { // burn some CPU
	}
	p, err := processCPU(os.Getpid())
	if err != nil || p <= 0 {
		t.Errorf("processCPU: %v %v", p, err)
	}
	s, err := selfCPU()
	if err != nil || s <= 0 {
		t.Errorf("selfCPU: %v %v", s, err)
	}
}
