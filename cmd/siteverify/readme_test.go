package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siteverify/siteverify/mockserver/intercept"
)

// readmeBlocks returns the README's code blocks marked for testing: a line
// "<!-- readme-test: NAME -->" right before the opening fence.
func readmeBlocks(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blocks := map[string]string{}
	var name string
	var body strings.Builder
	inBlock := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case inBlock && line == "```":
			blocks[name] = body.String()
			inBlock, name = false, ""
		case inBlock:
			body.WriteString(line + "\n")
		case strings.HasPrefix(line, "<!-- readme-test: "):
			name = strings.TrimSuffix(strings.TrimPrefix(line, "<!-- readme-test: "), " -->")
		case name != "" && strings.HasPrefix(line, "```"):
			inBlock = true
			body.Reset()
		default:
			name = ""
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks
}

func readmeBlock(t *testing.T, name string) string {
	t.Helper()
	b, ok := readmeBlocks(t)[name]
	if !ok {
		t.Fatalf("README.md has no code block marked <!-- readme-test: %s -->", name)
	}
	return b
}

// TestReadmeGoQuickStart compiles and runs quick start (a) and the
// providers' quick start exactly as pasted, each in a module of its own
// that uses this checkout.
func TestReadmeGoQuickStart(t *testing.T) {
	for _, name := range []string{"go-quickstart", "providers-quickstart"} {
		t.Run(name, func(t *testing.T) { runGoBlock(t, name) })
	}
}

// runGoBlock runs a README Go block as the test file of a module of its own
// that requires this checkout.
func runGoBlock(t *testing.T, name string) {
	src := readmeBlock(t, name)
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "go.mod"), "module example.com/quickstart\n\ngo 1.26\n\nrequire github.com/siteverify/siteverify v0.0.0\n\nreplace github.com/siteverify/siteverify => "+repo+"\n")
	writeFile(t, filepath.Join(dir, "login_test.go"), src)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the README's %s block does not pass as pasted: %v\n%s\n--- the block:\n%s", name, err, out, src)
	}
}

// runRecipe runs a shell recipe with the built binary first on PATH, in a
// fresh directory, and returns its exit code, output and duration.
func runRecipe(t *testing.T, script string) (int, string, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(binPath)+string(os.PathListSeparator)+os.Getenv("PATH"))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("the recipe hung:\n%s", out)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out), took
}

// TestReadmeCIRecipe runs the README's CI recipe as written, then with the
// port taken and with a typo in the fixtures: it must fail within seconds
// and show the mock's error, never hang.
func TestReadmeCIRecipe(t *testing.T) {
	recipe := readmeBlock(t, "ci-recipe")
	if !strings.Contains(recipe, "--addr 127.0.0.1:0") || !strings.Contains(recipe, "siteverify fixtures > mock.yaml") {
		t.Fatalf("the recipe changed shape; update this test:\n%s", recipe)
	}
	code, out, _ := runRecipe(t, recipe)
	if code != 0 || !strings.Contains(out, `"success": true`) {
		t.Fatalf("the recipe as written: exit %d\n%s", code, out)
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, c := range []struct {
		name, from, to, want string
	}{
		{"port taken", "--addr 127.0.0.1:0", "--addr " + busy.Addr().String(), "address already in use"},
		{"fixtures typo", "siteverify fixtures > mock.yaml", `printf 'tokens:\n  - {token: x, spec: {scor: 1}}\n' > mock.yaml`, `did you mean "score"?`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, took := runRecipe(t, strings.Replace(recipe, c.from, c.to, 1))
			if code == 0 || !strings.Contains(out, c.want) || !strings.Contains(out, "siteverify serve did not start") {
				t.Errorf("exit %d; want a failure showing %q:\n%s", code, c.want, out)
			}
			if took > 10*time.Second {
				t.Errorf("took %v to fail; it must fail fast", took)
			}
		})
	}
}

// TestReadmeRuntimes checks the README's per-runtime table against
// intercept.Runtimes, the one place the facts live (siteverify ca prints
// them too).
func TestReadmeRuntimes(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "| Runtime | Route | Trust the CA | Note |\n|---|---|---|---|\n", "<!-- /runtimes -->"
	var want strings.Builder
	for _, r := range intercept.Runtimes() {
		fmt.Fprintf(&want, "| %s | %s | `%s` | %s |\n", r.Name, r.Route, r.TrustFor("CA"), r.Note)
	}
	s := string(raw)
	i := strings.Index(s, begin)
	j := strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the runtimes table (%q ... %q)", begin, end)
	}
	if got := s[i+len(begin) : j]; got != want.String() {
		t.Errorf("README.md's runtimes table is stale; want these rows:\n%s", want.String())
	}
}
