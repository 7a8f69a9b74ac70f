package fixturefile

import (
	"cmp"
	"slices"
	"strings"

	"github.com/siteverify/siteverify/internal/strictyaml"
	"github.com/siteverify/siteverify/mockserver"
)

// validate checks what needs the whole file: unique keys, token names and
// rule IDs, and named tokens that point at sites the file defines. It runs
// only on a file without structural problems, so its findings are not
// echoes of earlier ones.
func (d *decoder) validate(fx Fixtures, it items) {
	type siteAt struct {
		site mockserver.Site
		f    *strictyaml.Fields
	}
	var all []siteAt
	if it.defaultSite != nil {
		all = append(all, siteAt{fx.DefaultSite, it.defaultSite})
	}
	for i, s := range fx.Sites {
		all = append(all, siteAt{s, it.sites[i]})
	}
	bySiteKey := map[string]siteAt{}
	bySecret := map[string]siteAt{}
	for _, s := range all {
		if k := s.site.SiteKey; k != "" {
			if first, dup := bySiteKey[k]; dup {
				d.Add(s.f.LineOf("sitekey"), strictyaml.Join(s.f.Path, "sitekey"), "already the sitekey of %s (line %d); each site needs its own", first.f.Path, first.f.Line)
			} else {
				bySiteKey[k] = s
			}
		}
		if k := s.site.Secret; k != "" {
			if first, dup := bySecret[k]; dup {
				d.Add(s.f.LineOf("secret"), strictyaml.Join(s.f.Path, "secret"), "already the secret of %s (line %d); each site needs its own", first.f.Path, first.f.Line)
			} else {
				bySecret[k] = s
			}
		}
	}

	tokenLines := map[string]int{}
	for i, nt := range fx.Tokens {
		f, spec := it.tokens[i], it.specs[i]
		if first, dup := tokenLines[nt.Token]; dup {
			d.Add(f.LineOf("token"), strictyaml.Join(f.Path, "token"), "%q is already a token (line %d); names must be unique", nt.Token, first)
			continue
		}
		tokenLines[nt.Token] = f.LineOf("token")
		target, siteName := fx.DefaultSite, "default_site"
		if ref := nt.Spec.SiteKey; ref != "" {
			s, ok := bySiteKey[ref]
			if !ok {
				d.Add(spec.LineOf("sitekey"), strictyaml.Join(spec.Path, "sitekey"), "%q is not the sitekey of a site in this file; define it under sites, or leave sitekey out for the default site", abbreviate(ref))
				continue
			}
			target, siteName = s.site, s.f.Path
		}
		if target.AcceptAnyToken {
			d.Add(f.Line, f.Path, "%s has accept_any_token, so it never looks at named tokens; point spec.sitekey at another site", siteName)
			continue
		}
		kind := cmp.Or(nt.Spec.Kind, target.Kind, mockserver.V3)
		if spec != nil {
			d.checkKindFields(spec, kind)
		}
	}

	ruleLines := map[string]int{}
	for i, r := range fx.Rules {
		if r.ID == "" {
			continue
		}
		f := it.rules[i]
		if first, dup := ruleLines[r.ID]; dup {
			d.Add(f.LineOf("id"), strictyaml.Join(f.Path, "id"), "%q is already a rule id (line %d); ids must be unique", r.ID, first)
			continue
		}
		ruleLines[r.ID] = f.LineOf("id")
	}
}

// checkKindFields reports spec fields that a token of this kind never shows,
// since the server would ignore them without a word.
func (d *decoder) checkKindFields(spec *strictyaml.Fields, kind mockserver.KeyKind) {
	fields := specFields()
	for _, f := range fields {
		if !spec.Has(f.Name) || f.AppliesTo == nil || slices.Contains(f.AppliesTo, kind) {
			continue
		}
		line, path := spec.LineOf(f.Name), strictyaml.Join(spec.Path, f.Name)
		// A field shown by most kinds has a counterpart for the others
		// (hostname: apk_package_name).
		if 2*len(f.AppliesTo) > len(mockserver.KeyKinds()) {
			i := slices.IndexFunc(fields, func(g mockserver.SpecField) bool {
				return g.Type == f.Type && len(g.AppliesTo) == 1 && g.AppliesTo[0] == kind
			})
			if i >= 0 {
				d.Add(line, path, "%s answers carry %s, not %s; use %s", kind, fields[i].Name, f.Name, fields[i].Name)
				continue
			}
		}
		// Otherwise name the kinds of the token's provider that carry it.
		var same []mockserver.KeyKind
		for _, k := range f.AppliesTo {
			if k.Provider() == kind.Provider() {
				same = append(same, k)
			}
		}
		if len(same) == 0 {
			d.Add(line, path, "%s answers do not carry it; remove it", kind)
			continue
		}
		d.Add(line, path, "only %s answers carry it, and this token is %s; remove it or set kind: %s", kindsText(same), kind, same[0])
	}
}

// kindsText is "v3", "v3 and turnstile", "a, b and c".
func kindsText(kinds []mockserver.KeyKind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func abbreviate(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}
