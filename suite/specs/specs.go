// Package specs runs the conformance catalog as Ginkgo specs: one It per
// case, labelled with the case's ID, area and level, whose body runs the
// same case function as suite.Run and fails with the case's failure
// message.
//
// Use [Run] from a program (this is what `siteverify conform` does) or a Go
// test; use [Declare] to add the catalog to your own Ginkgo suite:
//
//	var sess *suite.Session
//
//	var _ = BeforeSuite(func(ctx SpecContext) {
//		tg, err := target.Load("target.yaml")
//		Expect(err).NotTo(HaveOccurred())
//		sess, err = suite.NewSession(ctx, suite.Config{Target: tg})
//		Expect(err).NotTo(HaveOccurred())
//		DeferCleanup(sess.Close)
//	})
//
//	var _ = specs.Declare(func() *suite.Session { return sess })
//
// Ginkgo keeps global state: RunSpecs, and so [Run], can be called once per
// process. For repeated runs in one process use suite.Run.
package specs

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/formatter"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/siteverify/siteverify/suite"
)

// Declare declares the catalog as a Ginkgo container of specs, one per
// case. session is called in each spec body, so it may return a session
// created in BeforeSuite. A failed SHOULD case that does not count (no
// strict mode) passes with a "warning" report entry. Declare returns true,
// for use in a package-level var.
func Declare(session func() *suite.Session) bool { return declare(session, nil) }

// declare is Declare with a parent context whose end also ends each spec's
// context (Ginkgo's SpecContext ends on interrupts and timeouts).
func declare(session func() *suite.Session, parent context.Context) bool {
	return ginkgo.Describe("siteverify conformance", func() {
		for i, c := range suite.Catalog() {
			id := c.ID
			// Specs declared in one loop share a code location, and Ginkgo
			// would order them by title; a location per case keeps catalog
			// order (unless randomized), and the message names the case.
			loc := types.CodeLocation{FileName: "suite/catalog.go", LineNumber: i + 1,
				CustomMessage: "conformance case " + c.ID + " (suite/catalog.go)"}
			ginkgo.It(c.ID+" "+c.Title, ginkgo.Label(c.Labels()...), loc, func(sctx ginkgo.SpecContext) {
				ctx, cancel := context.WithCancel(sctx)
				defer cancel()
				if parent != nil {
					defer context.AfterFunc(parent, cancel)()
				}
				res := session().RunCase(ctx, id)
				switch {
				case res.Status == suite.StatusSkipped:
					ginkgo.Skip(res.Reason)
				case res.Warning():
					ginkgo.AddReportEntry("warning", res.FailureMessage())
				case res.Status == suite.StatusFailed, res.Status == suite.StatusError:
					ginkgo.Fail(res.FailureMessage())
				}
			})
		}
	})
}

// Options adjusts how [Run] drives Ginkgo.
type Options struct {
	// T receives Ginkgo's overall failure; nil uses an internal one (in a
	// program). Pass the *testing.T in a Go test.
	T ginkgo.GinkgoTestingT
	// SuiteConfig and ReporterConfig start from these instead of Ginkgo's
	// defaults; in a Go test pass ginkgo.GinkgoConfiguration() so that
	// -ginkgo.* flags apply. The run's label filter, seed and timeout are
	// combined into them.
	SuiteConfig    *types.SuiteConfig
	ReporterConfig *types.ReporterConfig
	// GinkgoOutput receives Ginkgo's own console report; nil discards it
	// (the caller prints results through suite.Config.OnResult).
	GinkgoOutput io.Writer
}

var ran atomic.Bool

// ErrRanTwice is returned by a second call to Run in one process.
var ErrRanTwice = errors.New("specs.Run: Ginkgo can run specs only once per process; use suite.Run for further runs")

// failT is the GinkgoTestingT of a run outside go test.
type failT struct {
	mu     sync.Mutex
	failed bool
}

// Fail records that the suite failed.
func (t *failT) Fail() {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
}

// Run runs the selected cases as Ginkgo specs in this process and returns
// the same report as suite.Run. cfg.Focus and cfg.LabelFilter become a
// Ginkgo label filter; cfg.Seed, when set, randomizes the spec order
// (Ginkgo's --randomize-all with that seed). It can be called once per
// process (see ErrRanTwice).
func Run(ctx context.Context, cfg suite.Config, opts Options) (suite.Report, error) {
	if _, err := suite.Select(cfg.Focus, cfg.LabelFilter); err != nil {
		return suite.Report{}, err
	}
	if !ran.CompareAndSwap(false, true) {
		return suite.Report{}, ErrRanTwice
	}
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	sess, err := suite.NewSession(ctx, cfg)
	if err != nil {
		return suite.Report{}, err
	}
	defer sess.Close()

	sc := types.NewDefaultSuiteConfig()
	if opts.SuiteConfig != nil {
		sc = *opts.SuiteConfig
	}
	rc := types.ReporterConfig{NoColor: true, Succinct: true}
	if opts.ReporterConfig != nil {
		rc = *opts.ReporterConfig
	}
	sc.LabelFilter = suite.AndFilters(sc.LabelFilter, cfg.LabelFilter, suite.FocusFilter(cfg.Focus))
	if cfg.Seed != 0 {
		sc.RandomSeed, sc.RandomizeAllSpecs = cfg.Seed, true
	}
	if dl, ok := ctx.Deadline(); ok {
		sc.Timeout = time.Until(dl)
	}

	declare(func() *suite.Session { return sess }, ctx)

	out := opts.GinkgoOutput
	if out == nil {
		out = io.Discard
	}
	saved := formatter.ColorableStdOut
	formatter.ColorableStdOut = out
	defer func() { formatter.ColorableStdOut = saved }()

	t := opts.T
	if t == nil {
		t = &failT{}
	}
	ginkgo.RunSpecs(t, "siteverify conformance: "+cfg.Target.Name, sc, rc)

	closeErr := sess.Close()
	rep := sess.Report()
	if closeErr != nil {
		rep.Notes = append(rep.Notes, "stopping the backend: "+closeErr.Error())
	}
	if err := ctx.Err(); err != nil {
		return rep, errors.New("run cut short: " + err.Error())
	}
	return rep, nil
}
