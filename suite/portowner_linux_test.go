package suite_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/siteverify/siteverify/internal/portsquat"
	"github.com/siteverify/siteverify/suite"
)

// TestStartRetriesPortAnsweredByAnotherProgram: another program takes the
// port the harness picked while the backend is still starting, and answers
// the readiness probe in its place, as another test's server did in CI (a
// Go server answering /healthz, then "404 page not found" to every case,
// until the slow-starting Node backend died of EADDRINUSE). The harness
// sees that the answering listener is not the backend's and starts the
// backend again on a new port.
func TestStartRetriesPortAnsweredByAnotherProgram(t *testing.T) {
	t.Parallel()
	// The first start is slow to bind, as a Node backend that does work
	// before it listens: it notes its port and waits to be stopped.
	tg, path := wrappedHelperTarget(t, `  ready_url: "http://127.0.0.1:{{port}}/healthz"`,
		`if [ ! -e tried ]; then touch tried; echo "$HELPER_PORT" > first.port; sleep 60; exit 1; fi; echo "$HELPER_PORT" > second.port; exec "$0" "$@"`)
	work := filepath.Join(filepath.Dir(path), "work")

	// The other program: this test's process, which was running before
	// the backend started, takes the first port as soon as it is known.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) {})
	taken := portsquat.TakeWhenWritten(t, filepath.Join(work, "first.port"), mux)

	rep, err := suite.Run(context.Background(), suite.Config{Target: tg, Focus: []string{"ACCEPT-001"}})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	first := <-taken
	if !rep.Passed() || rep.Summary.Passed != 1 {
		var c strings.Builder
		rep.WriteConsole(&c, true)
		t.Fatalf("%s\n%s", rep.SummaryLine(), c.String())
	}
	second, _ := os.ReadFile(filepath.Join(work, "second.port"))
	if first == "" || len(second) == 0 || first == strings.TrimSpace(string(second)) {
		t.Errorf("ports of the two starts: %q then %q, want two different ones", first, second)
	}
	want := "port " + first + " was taken by another program before the backend bound it (port " + first +
		" answered the readiness probe, but its listener is pid " + strconv.Itoa(os.Getpid())
	if !strings.Contains(rep.TargetOutput, want) || !strings.Contains(rep.TargetOutput, ", running since before the backend started, not the backend: address already in use); starting it again on port "+strings.TrimSpace(string(second))) {
		t.Errorf("the output does not note why the backend was started again, want %q...:\n%s", want, rep.TargetOutput)
	}
}
