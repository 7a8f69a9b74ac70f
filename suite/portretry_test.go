package suite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siteverify/siteverify/suite"
)

// TestStartRetriesTakenPort: when the port the harness picked is taken
// before the backend binds it (the backend exits with EADDRINUSE), the
// harness starts it once more on a new port, and the run goes on there.
func TestStartRetriesTakenPort(t *testing.T) {
	t.Parallel()
	// The first start fails as Node does on a taken port, naming it.
	tg, path := wrappedHelperTarget(t, "", `if [ ! -e tried ]; then touch tried; echo "$HELPER_PORT" > first.port; echo "Error: listen EADDRINUSE: address already in use 127.0.0.1:$HELPER_PORT" >&2; exit 1; fi; echo "$HELPER_PORT" > second.port; exec "$0" "$@"`)
	rep, err := suite.Run(context.Background(), suite.Config{Target: tg, Focus: []string{"ACCEPT-001"}})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !rep.Passed() || rep.Summary.Passed != 1 {
		var c strings.Builder
		rep.WriteConsole(&c, true)
		t.Fatalf("%s\n%s", rep.SummaryLine(), c.String())
	}
	work := filepath.Join(filepath.Dir(path), "work")
	first, _ := os.ReadFile(filepath.Join(work, "first.port"))
	second, _ := os.ReadFile(filepath.Join(work, "second.port"))
	if len(first) == 0 || len(second) == 0 || string(first) == string(second) {
		t.Errorf("ports of the two starts: %q then %q, want two different ones", first, second)
	}
	if !strings.Contains(rep.TargetOutput, "was taken by another program before the backend bound it (backend exited before it was ready (exit status 1)); starting it again on port "+strings.TrimSpace(string(second))) {
		t.Errorf("the output does not note the second start:\n%s", rep.TargetOutput)
	}
}
