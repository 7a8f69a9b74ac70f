package fixturefile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/siteverify/siteverify/mockserver"
)

// MaxFileSize is the largest fixtures file Load and Parse accept: 4 MiB.
const MaxFileSize = 4 << 20

// Fixtures is the state a fixtures file describes, ready to go into
// mockserver.Options through Apply.
type Fixtures struct {
	// DefaultSite is the default site; the zero Site means the file sets
	// none, and the server generates one.
	DefaultSite mockserver.Site
	// Sites are further sites.
	Sites []mockserver.Site
	// Tokens are named tokens.
	Tokens []mockserver.NamedToken
	// Rules are scripted rules, in file order.
	Rules []mockserver.Rule
}

// Load reads and parses the fixtures file at path. Errors name the path as
// given.
func Load(path string) (Fixtures, error) {
	f, err := os.Open(path)
	if err != nil {
		return Fixtures{}, fmt.Errorf("read fixtures: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return Fixtures{}, fmt.Errorf("read fixtures %s: %w", path, err)
	}
	return Parse(path, data)
}

// Parse parses a fixtures file's contents; name is used in error messages.
// The result is validated: every site, named token and rule in it would be
// accepted by mockserver.NewServer.
func Parse(name string, data []byte) (Fixtures, error) {
	d := &decoder{problems: problems{file: name}}
	if len(data) > MaxFileSize {
		d.add(0, "", "the file is larger than %d bytes (4 MiB); trim it or split it", MaxFileSize)
		return Fixtures{}, d.err()
	}
	root := d.parseYAML(data)
	if root == nil {
		return Fixtures{}, d.err()
	}
	fx, items := d.decodeFile(root)
	if d.empty() {
		d.validate(fx, items)
	}
	if err := d.err(); err != nil {
		return Fixtures{}, err
	}
	return fx, nil
}

// Apply puts the fixtures into opts: the default site replaces opts'
// (when the file sets one), and sites, named tokens and rules are appended.
func (fx Fixtures) Apply(opts *mockserver.Options) {
	if fx.DefaultSite != (mockserver.Site{}) {
		opts.DefaultSite = fx.DefaultSite
	}
	opts.Sites = append(opts.Sites, fx.Sites...)
	opts.Tokens = append(opts.Tokens, fx.Tokens...)
	opts.Rules = append(opts.Rules, fx.Rules...)
}

// yamlLine matches the line number in yaml.v3's syntax errors.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses exactly one YAML document and returns its top node; nil
// means empty (no problem recorded) or broken (problem recorded).
func (d *decoder) parseYAML(data []byte) (root *yaml.Node) {
	defer func() {
		// yaml.v3 reports errors by panicking internally and recovering; a
		// panic that escapes is a parser bug, reported as a problem with the
		// file rather than a crash of the server that loads it.
		if r := recover(); r != nil {
			d.add(0, "", "invalid YAML: the parser failed (%v)", r)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			d.yamlError(data, err)
		}
		return nil
	}
	var second yaml.Node
	switch err := dec.Decode(&second); {
	case err == nil:
		d.add(second.Line, "", "a second YAML document (after ---); put everything in one document")
		return nil
	case !errors.Is(err, io.EOF):
		d.yamlError(data, err)
		return nil
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0]
	}
	return nil
}

func (d *decoder) yamlError(data []byte, err error) {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		d.add(0, "", "invalid YAML: %v", err)
		return
	}
	line, _ := strconv.Atoi(m[1])
	if l := problemLine(data, err.Error()); l > line {
		line = l
	}
	d.add(line, "", "invalid YAML: %s", m[2])
}

// problemLine finds the line a YAML syntax error is on. yaml.v3 reports the
// line where the enclosing block starts, which can be far above the mistake;
// the mistake is on the first line whose addition makes the file fail, found
// by bisection over whole-line prefixes. The answer is kept only if that
// prefix fails with the same message; 0 means unknown.
func problemLine(data []byte, msg string) int {
	var ends []int // ends[i] is the offset just past line i+1
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	fails := func(lines int) (string, bool) {
		var n yaml.Node
		err := yaml.Unmarshal(data[:ends[lines-1]], &n)
		if err == nil {
			return "", false
		}
		return err.Error(), true
	}
	// Invariant: lo lines parse, hi lines fail.
	lo, hi := 0, len(ends)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if _, bad := fails(mid); bad {
			hi = mid
		} else {
			lo = mid
		}
	}
	got, _ := fails(hi)
	if stripLine(got) != stripLine(msg) {
		return 0
	}
	return hi
}

func stripLine(msg string) string {
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		return m[2]
	}
	return msg
}
