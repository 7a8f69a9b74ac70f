package main

import (
	"testing"
)

func TestOptionsSourcesAndBooleans(t *testing.T) {
	list := []option{{flag: "name", env: "SITEVERIFY_NAME", def: "d"}, {flag: "on", env: "SITEVERIFY_ON", boolean: true}}
	o, err := parseOptions("x", list, []string{"--on", "rest"}, envMap("SITEVERIFY_NAME", "from-env"))
	if err != nil {
		t.Fatal(err)
	}
	if v, src := o.get("name"); v != "from-env" || src != "SITEVERIFY_NAME" {
		t.Errorf("name = %q from %s", v, src)
	}
	if b, err := o.boolean("on"); !b || err != nil {
		t.Errorf("bare --on = %v, %v", b, err)
	}
	if len(o.args) != 1 || o.args[0] != "rest" {
		t.Errorf("args %q", o.args)
	}
	for in, want := range map[string]bool{"true": true, "YES": true, "on": true, "1": true, "false": false, "No": false, "off": false, "0": false} {
		o, err := parseOptions("x", list, nil, envMap("SITEVERIFY_ON", in))
		if err != nil {
			t.Fatal(err)
		}
		if b, err := o.boolean("on"); b != want || err != nil {
			t.Errorf("SITEVERIFY_ON=%s: %v, %v", in, b, err)
		}
	}
	o, _ = parseOptions("x", list, nil, envMap("SITEVERIFY_ON", "maybe"))
	if _, err := o.boolean("on"); err == nil || err.Error() != `SITEVERIFY_ON="maybe": want true or false` {
		t.Errorf("bad boolean: %v", err)
	}
}

func TestOptionsDidYouMean(t *testing.T) {
	for _, c := range []struct{ cmd, arg, want string }{
		{"serve", "--fixture", "flag provided but not defined: -fixture; did you mean --fixtures? (see siteverify help serve)"},
		{"serve", "--adr", "flag provided but not defined: -adr; did you mean --addr? (see siteverify help serve)"},
		{"serve", "--port", "flag provided but not defined: -port (see siteverify help serve)"},
	} {
		_, err := parseOptions(c.cmd, serveSettings(), []string{c.arg, "x"}, envMap())
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: got %v\nwant %s", c.arg, err, c.want)
		}
	}
	if _, err := parseOptions("conform", conformFlags(), []string{"--junt", "x"}, envMap()); err == nil || err.Error() != "flag provided but not defined: -junt; did you mean --junit? (see siteverify help conform)" {
		t.Errorf("conform: %v", err)
	}
}
