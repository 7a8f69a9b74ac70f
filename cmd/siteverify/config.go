package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/siteverify/siteverify/internal/suggest"
)

// option is one command-line flag and its SITEVERIFY_* environment twin.
// Every subcommand describes its flags as a list of options and reads them
// through parseOptions, so flags, variables, booleans and "where did this
// value come from" work the same everywhere.
type option struct {
	flag    string // the flag's name, without dashes
	env     string // its environment twin; "" for none
	def     string // the default, as text
	usage   string
	boolean bool // a switch: --name alone means true
}

// options is a parsed command line: the flags given, the environment, and
// the arguments left after the flags.
type options struct {
	cmd   string
	list  []option
	given map[string]string // flags set on the command line
	env   func(string) string
	args  []string
}

// optionValue records a flag's text as given; booleans accept a bare --name.
type optionValue struct {
	name    string
	boolean bool
	given   map[string]string
}

func (v *optionValue) String() string   { return v.given[v.name] }
func (v *optionValue) IsBoolFlag() bool { return v.boolean }
func (v *optionValue) Set(s string) error {
	if v.boolean {
		if _, err := parseBool(s); err != nil {
			return err
		}
	}
	v.given[v.name] = s
	return nil
}

// parseOptions parses args against list. It returns flag.ErrHelp as is for
// -h and --help, so the caller prints its usage; any other parse error says
// where to look. Positional arguments are left in args for the caller to
// accept or refuse.
func parseOptions(cmd string, list []option, args []string, env func(string) string) (*options, error) {
	o := &options{cmd: cmd, list: list, given: map[string]string{}, env: env}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by the caller, once
	fs.Usage = func() {}
	for _, op := range list {
		fs.Var(&optionValue{name: op.flag, boolean: op.boolean, given: o.given}, op.flag, op.usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
			if near := nearestOption(strings.TrimPrefix(name, "-"), list); near != "" {
				return nil, fmt.Errorf("%w; did you mean --%s? (see siteverify help %s)", err, near, cmd)
			}
		}
		return nil, fmt.Errorf("%w (see siteverify help %s)", err, cmd)
	}
	o.args = fs.Args()
	return o, nil
}

// lookup returns the option named name; asking for an option the command
// does not declare is a programming error.
func (o *options) lookup(name string) option {
	for _, op := range o.list {
		if op.flag == name {
			return op
		}
	}
	panic("siteverify: undeclared option " + name)
}

// get returns an option's value and where it came from, for messages: the
// flag ("--name") wins, then its environment variable when set and not
// empty, then the default ("default").
func (o *options) get(name string) (val, source string) {
	op := o.lookup(name)
	if v, ok := o.given[name]; ok {
		return v, "--" + name
	}
	if op.env != "" {
		if v := o.env(op.env); v != "" {
			return v, op.env
		}
	}
	return op.def, "default"
}

// str returns an option's value.
func (o *options) str(name string) string {
	v, _ := o.get(name)
	return v
}

// boolean returns a switch's value; an unset switch is false.
func (o *options) boolean(name string) (bool, error) {
	v, src := o.get(name)
	if v == "" {
		return false, nil
	}
	b, err := parseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", src, v)
	}
	return b, nil
}

// parseBool is the one boolean syntax of every flag and variable: true,
// false, 1, 0, t, f, yes, no, on, off, in any case.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "1", "t", "yes", "y", "on":
		return true, nil
	case "false", "0", "f", "no", "n", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean: want true or false", s)
}

// printOptions lists options with their environment twins and defaults,
// the way every command's help does.
func printOptions(w io.Writer, list []option) {
	for _, op := range list {
		def := ""
		if op.def != "" && !op.boolean {
			def = " (default " + op.def + ")"
		}
		env := ""
		if op.env != "" {
			env = ", " + op.env
		}
		fmt.Fprintf(w, "  --%s%s\n      %s%s\n", op.flag, env, op.usage, def)
	}
}

// nearestOption returns the declared flag closest to a mistyped one, or ""
// when none is close: at most two edits away, and fewer than half its
// letters.
func nearestOption(name string, list []option) string {
	best, bestDist := "", 3
	for _, op := range list {
		if d := suggest.Distance(name, op.flag); d < bestDist && 2*d < len(op.flag) {
			best, bestDist = op.flag, d
		}
	}
	return best
}
