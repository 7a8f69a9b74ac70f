package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/suite/target"
)

// TestInitStarters renders the starter for every kind and checks that it is
// a valid target file once its placeholders are filled in.
func TestInitStarters(t *testing.T) {
	for _, kind := range starterKinds {
		t.Run(kind, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{"init", "--kind", kind, "--out", "-"}, envMap(), &stdout, &stderr); code != exitOK {
				t.Fatalf("exit %d: %s", code, &stderr)
			}
			tg, err := target.Parse(stdout.Bytes(), "starter-"+kind+".yaml")
			if err != nil {
				t.Fatalf("the starter does not parse:\n%v\n%s", err, &stdout)
			}
			if string(tg.Kind) != kind || tg.Start == nil || tg.Start.Command[0] != "./server" {
				t.Errorf("starter: kind %s, start %+v", tg.Kind, tg.Start)
			}
			if p := mockserver.KeyKind(kind).Provider(); tg.ProviderValue() != p || tg.Endpoints[0].Token.Name != p.TokenField() {
				t.Errorf("starter: provider %s, token field %s; want %s, %s", tg.Provider, tg.Endpoints[0].Token.Name, p.Name(), p.TokenField())
			}
		})
	}
}

func TestInitWritesOnce(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "target.yaml")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"init", "--out", out}, envMap(), &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "siteverify conform --target "+out) {
		t.Fatalf("exit %d: %s %s", code, &stdout, &stderr)
	}
	writeFile(t, out, "mine")
	stderr.Reset()
	if code := run(context.Background(), []string{"init", "--out", out}, envMap(), &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "pass --force") {
		t.Errorf("overwrite without --force: exit %d, %s", code, &stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != "mine" {
		t.Error("init overwrote the file without --force")
	}
	if code := run(context.Background(), []string{"init", "--out", out, "--force", "--kind", "android"}, envMap(), &stdout, &stderr); code != exitOK {
		t.Errorf("--force: exit %d", code)
	}
	for _, args := range [][]string{{"init", "--kind", "v4"}, {"init", "--provider", "hcaptcha", "--kind", "v3"}, {"init", "--provider", "friendlycaptcha"}, {"init", "extra"}} {
		stderr.Reset()
		if code := run(context.Background(), args, envMap(), &stdout, &stderr); code != exitUsage {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, &stderr)
		}
	}
}
