package suite_test

import (
	"context"
	"flag"
	"os"
	"testing"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/siteverify/siteverify/mockserver"
	"github.com/siteverify/siteverify/suite"
	"github.com/siteverify/siteverify/suite/specs"
	"github.com/siteverify/siteverify/suite/target"
)

// Flags for running the catalog as a Ginkgo suite with go test:
//
//	go test ./suite -run TestConformance -args -target /abs/path/target.yaml [-strict] [-ca-dir DIR] [-ginkgo.label-filter=outage] [-ginkgo.v]
//
// A relative -target is relative to the suite directory. Without -target
// the catalog runs against the in-process reference backend, which must
// pass every case.
var (
	targetFlag     = flag.String("target", "", "target file to run the conformance catalog against (default: the in-process reference backend)")
	mockURLFlag    = flag.String("mock-url", "", "drive a running `siteverify serve` instead of an in-process mock")
	adminTokenFlag = flag.String("admin-token", "", "admin token for -mock-url")
	strictFlag     = flag.Bool("strict", false, "count failed SHOULD cases as failures")
	caDirFlag      = flag.String("ca-dir", "", "directory of the mock's test CA, for targets with start.use_proxy or start.resolve_providers (default: siteverify/ca in the user's cache directory)")
)

func TestConformance(t *testing.T) {
	gomega.RegisterFailHandler(ginkgo.Fail)
	g := gomega.NewWithT(t)
	ctx := context.Background()
	cfg := suite.Config{Strict: *strictFlag, CADir: *caDirFlag}
	if *targetFlag == "" {
		tg, m, stop, err := refTarget("v3", "", "")
		g.Expect(err).NotTo(gomega.HaveOccurred())
		defer stop()
		cfg.Target, cfg.Mock = tg, m
	} else {
		tg, err := target.Load(*targetFlag)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		cfg.Target = tg
		if *mockURLFlag != "" {
			c, err := mockserver.Dial(ctx, *mockURLFlag, mockserver.DialOptions{AdminToken: *adminTokenFlag})
			g.Expect(err).NotTo(gomega.HaveOccurred())
			cfg.Mock = c
		}
	}
	sc, rc := ginkgo.GinkgoConfiguration()
	rep, err := specs.Run(ctx, cfg, specs.Options{T: t, SuiteConfig: &sc, ReporterConfig: &rc, GinkgoOutput: os.Stdout})
	g.Expect(err).NotTo(gomega.HaveOccurred())
	t.Log(rep.SummaryLine())
	if *targetFlag == "" && sc.LabelFilter == "" && len(sc.FocusStrings) == 0 && len(sc.SkipStrings) == 0 {
		g.Expect(rep.Failed()).To(gomega.BeEmpty())
		g.Expect(rep.Results).To(gomega.HaveLen(len(suite.Catalog())))
		notV3 := 0
		for _, c := range suite.Catalog() {
			if !c.AppliesTo(mockserver.V3) {
				notV3++
			}
		}
		g.Expect(rep.Summary.Skipped).To(gomega.Equal(notV3), "the cases that do not apply to v3 are skipped, no other")
	}

	// Ginkgo runs once per process.
	_, err = specs.Run(ctx, cfg, specs.Options{T: t})
	g.Expect(err).To(gomega.MatchError(specs.ErrRanTwice))
}
