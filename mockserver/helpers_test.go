package mockserver_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/siteverify/siteverify/mockserver"
)

func newDebugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// issue mints a token on m, failing the test if the spec is refused.
func issue(t testing.TB, m mockserver.Mock, spec mockserver.TokenSpec) string {
	t.Helper()
	iss, err := m.Issue(t.Context(), spec)
	if err != nil {
		t.Fatalf("issue %+v: %v", spec, err)
	}
	return iss.Token
}

// journal reads m's whole journal, failing the test on error.
func journal(t testing.TB, m mockserver.Mock) mockserver.Journal {
	t.Helper()
	j, err := m.Journal(t.Context())
	if err != nil {
		t.Fatalf("journal: %v", err)
	}
	return j
}

// mints reads m's mint log, failing the test on error.
func mints(t testing.TB, m mockserver.ClientMock) []mockserver.Mint {
	t.Helper()
	ms, err := m.Mints(t.Context())
	if err != nil {
		t.Fatalf("mints: %v", err)
	}
	return ms
}
