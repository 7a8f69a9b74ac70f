package suite_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siteverify/siteverify/suite"
	"github.com/siteverify/siteverify/suite/target"
)

// pythonWithFlask returns the directory of a python3 that can import flask.
func pythonWithFlask() (string, bool) {
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append([]string{p}, candidates...)
	}
	for _, p := range candidates {
		if exec.Command(p, "-c", "import flask").Run() == nil {
			return filepath.Dir(p), true
		}
	}
	return "", false
}

// TestFlaskExample runs the whole catalog, strictly, against the Flask app
// of fixtures/targets (the README's example of a backend in another
// language), started from its target file.
func TestFlaskExample(t *testing.T) {
	t.Parallel()
	dir, ok := pythonWithFlask()
	if !ok {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must run the Flask example, and there is no python3 with Flask: make test installs Debian's python3-flask as root")
		}
		t.Skip("no python3 with Flask (Debian: apt-get install python3-flask; make test installs it as root)")
	}
	if testing.Short() {
		t.Skip("starts a Python process")
	}
	tg, err := target.Load("../fixtures/targets/flask-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	environ := append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	rep, err := suite.Run(context.Background(), suite.Config{Target: tg, Strict: true, Environ: environ})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed() || rep.Summary.Passed != 37 {
		var b strings.Builder
		rep.WriteConsole(&b, false)
		t.Errorf("Flask example: %s\n%s", rep.SummaryLine(), b.String())
	}
	t.Logf("Flask example: %s in %v", rep.SummaryLine(), rep.Duration)
}
