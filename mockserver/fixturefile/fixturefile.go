package fixturefile

import (
	"fmt"

	"github.com/siteverify/siteverify/internal/strictyaml"
	"github.com/siteverify/siteverify/mockserver"
)

// MaxFileSize is the largest fixtures file Load and Parse accept: 4 MiB.
const MaxFileSize = strictyaml.MaxFileSize

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
// given. It refuses what is not a regular file (/dev/zero, a FIFO) and reads
// no more of a file than the 4 MiB limit.
func Load(path string) (Fixtures, error) {
	data, err := strictyaml.ReadFile(path)
	if err != nil {
		return Fixtures{}, fmt.Errorf("read fixtures: %w", err)
	}
	return Parse(path, data)
}

// Parse parses a fixtures file's contents; name is used in error messages.
// The result is validated: every site, named token and rule in it would be
// accepted by mockserver.NewServer.
func Parse(name string, data []byte) (Fixtures, error) {
	d := newDecoder(name)
	root := d.Parse(data)
	if root == nil {
		return Fixtures{}, d.err()
	}
	fx, items := d.decodeFile(root)
	if d.Empty() {
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
