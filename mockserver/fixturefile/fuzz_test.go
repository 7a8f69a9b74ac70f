package fixturefile_test

import (
	"errors"
	"os"
	"testing"

	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/mockserver/fixturefile"
)

// FuzzParse feeds arbitrary bytes to Parse. It must never panic; every
// problem must be a *fixturefile.Error naming the file; and whatever Parse
// accepts, mockserver.NewServer must accept too.
func FuzzParse(f *testing.F) {
	if example, err := os.ReadFile(examplePath); err == nil {
		f.Add(example)
	}
	f.Add([]byte("default_site: {kind: v3}\ntokens:\n  - {token: a, spec: {score: 0}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fx, err := fixturefile.Parse("fuzz.yaml", data)
		if err != nil {
			checkErrors(t, err)
			return
		}
		var opts mockserver.Options
		fx.Apply(&opts)
		s, err := mockserver.NewServer(opts)
		if err != nil {
			t.Fatalf("Parse accepted a file NewServer refuses: %v\n%s", err, data)
		}
		s.Close()
	})
}

// checkErrors checks that err is an *Error, or a join of them, each naming
// the file and saying something.
func checkErrors(t *testing.T, err error) {
	t.Helper()
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	for _, e := range list {
		var fe *fixturefile.Error
		if !errors.As(e, &fe) || e != error(fe) {
			t.Fatalf("problem %v (%T) is not a *fixturefile.Error", e, e)
		}
		if fe.File != "fuzz.yaml" || fe.Msg == "" || fe.Line < 0 {
			t.Fatalf("problem does not name the file, a line and a message: %#v", fe)
		}
	}
}
