package target

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse. It must never panic; every
// problem must be a *FieldError naming the file and saying something; and a
// target Parse accepts must be complete: a valid kind, at least one
// endpoint, and placeholders that expand.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../fixtures/targets/*.yaml")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(good))
	f.Fuzz(func(t *testing.T, data []byte) {
		tg, err := Parse(data, "fuzz.yaml")
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %v (%T) is not a non-empty target.Errors", err, err)
			}
			for _, e := range es {
				if e.File != "fuzz.yaml" || e.Msg == "" || e.Line < 0 {
					t.Fatalf("problem does not name the file, a line and a message: %#v", e)
				}
			}
			return
		}
		if !tg.Kind.Valid() || len(tg.Endpoints) == 0 {
			t.Fatalf("accepted an incomplete target: kind %q, %d endpoints\n%s", tg.Kind, len(tg.Endpoints), data)
		}
		if _, err := tg.Expand(Vars{VerifyURL: "http://127.0.0.1:1/v", MockURL: "http://127.0.0.1:1", Secret: "s", SiteKey: "k", Port: 1}); err != nil {
			t.Fatalf("Expand: %v", err)
		}
	})
}
