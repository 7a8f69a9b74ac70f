package suite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
)

// Select returns the catalog cases that focus and labelFilter select, in
// catalog order. focus holds case IDs (case-insensitive); an unknown ID,
// an invalid filter, or a selection with no case is an error.
func Select(focus []string, labelFilter string) ([]Case, error) {
	var want map[string]bool
	if len(focus) > 0 {
		want = map[string]bool{}
		for _, id := range focus {
			id = strings.TrimSpace(id)
			if id == "" {
				continue
			}
			c, ok := Lookup(id)
			if !ok {
				return nil, fmt.Errorf("unknown case ID %q (see --list)", id)
			}
			want[c.ID] = true
		}
	}
	filter, err := types.ParseLabelFilter(labelFilter)
	if err != nil {
		return nil, fmt.Errorf("label filter %q: %v", labelFilter, err)
	}
	var out []Case
	for _, c := range catalog {
		if (want == nil || want[c.ID]) && filter(c.Labels()) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the selection (focus %q, label filter %q) matches no case", strings.Join(focus, ","), labelFilter)
	}
	return out, nil
}

// FocusFilter turns case IDs into a label-filter expression, so Ginkgo can
// select them: ["A-001","B-002"] gives "A-001 || B-002".
func FocusFilter(ids []string) string {
	var parts []string
	for _, id := range ids {
		if id = strings.TrimSpace(id); id != "" {
			parts = append(parts, id)
		}
	}
	return strings.Join(parts, " || ")
}

// AndFilters combines label filters with &&, skipping empty ones.
func AndFilters(filters ...string) string {
	var parts []string
	for _, f := range filters {
		if strings.TrimSpace(f) != "" {
			parts = append(parts, "("+f+")")
		}
	}
	return strings.Join(parts, " && ")
}

// Run runs the selected cases against the target without Ginkgo: it
// prepares a Session, runs the cases one by one (in catalog order, or
// shuffled when cfg.Seed is set), closes the session and returns the
// report. The error is non-nil when the run could not start (bad selection,
// mock or backend not starting) or was cut short by ctx; the report then
// holds what ran.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cases, err := Select(cfg.Focus, cfg.LabelFilter)
	if err != nil {
		return Report{}, err
	}
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	s, err := NewSession(ctx, cfg)
	if err != nil {
		return Report{}, err
	}
	if cfg.Seed != 0 {
		r := rand.New(rand.NewPCG(uint64(cfg.Seed), 0))
		r.Shuffle(len(cases), func(i, j int) { cases[i], cases[j] = cases[j], cases[i] })
	}
	for _, c := range cases {
		if ctx.Err() != nil {
			break
		}
		s.RunCase(ctx, c.ID)
	}
	closeErr := s.Close()
	rep := s.Report()
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("run cut short: %w", err)
	}
	if closeErr != nil {
		rep.Notes = append(rep.Notes, "stopping the backend: "+closeErr.Error())
	}
	return rep, nil
}
