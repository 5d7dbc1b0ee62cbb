package rules

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

var (
	// ErrAmbiguous: two or more definitions match a context with the same specificity.
	ErrAmbiguous = errors.New("ambiguous resource definitions")
	// ErrNoMatch: no definition or provisioner provides a resource in a context.
	ErrNoMatch = errors.New("no matching resource definition")
	// ErrUnsupported: the match is a score-k8s cmd:// provisioner, which Scorebot never runs.
	ErrUnsupported = errors.New("unsupported provisioner")
)

// rank is a criterion's specificity: whether it sets res_id, env_id, app_id, env_type, in
// that order of importance. Ranks compare lexicographically.
type rank [4]bool

var rankFields = [4]string{"res_id", "env_id", "app_id", "env_type"}

func rankOf(c Criterion) rank {
	return rank{c.ResID != "", c.EnvID != "", c.AppID != "", c.EnvType != ""}
}

// compare returns -1, 0 or 1; the first field where they differ decides.
func (a rank) compare(b rank) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] {
				return 1
			}
			return -1
		}
	}
	return 0
}

// noCriteria ranks below every criterion (even an empty one, which it equals).
var noCriteria = rank{}

// contextClass is the class a context asks for.
func contextClass(c Context) string {
	if c.Class == "" {
		return DefaultClass
	}
	return c.Class
}

// criterionClass is the class a criterion of def serves.
func criterionClass(def string, cr Criterion) string {
	switch {
	case cr.Class != "":
		return cr.Class
	case def != "":
		return def
	}
	return DefaultClass
}

// mismatches lists why a criterion does not match the context; empty when it matches.
// classOnly reports whether the class was the only reason.
func mismatches(cr Criterion, defClass string, c Context) (why []string, classOnly bool) {
	cls := criterionClass(defClass, cr)
	classBad := cls != contextClass(c)
	for _, f := range []struct{ name, want, got string }{
		{"res_id", cr.ResID, c.ResID},
		{"env_id", cr.EnvID, c.EnvID},
		{"app_id", cr.AppID, c.AppID},
		{"env_type", cr.EnvType, c.EnvType},
	} {
		if f.want != "" && f.want != f.got {
			why = append(why, fmt.Sprintf("%s %s ≠ %s", f.name, f.want, orNone(f.got)))
		}
	}
	if classBad {
		return append([]string{fmt.Sprintf("class %s ≠ %s", cls, contextClass(c))}, why...), len(why) == 0
	}
	return why, false
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// describeCriterion renders a criterion as "{env_id: production, app_id: shop}".
func describeCriterion(c Criterion) string {
	var parts []string
	for _, f := range []struct{ k, v string }{
		{"res_id", c.ResID}, {"env_id", c.EnvID}, {"app_id", c.AppID}, {"env_type", c.EnvType}, {"class", c.Class},
	} {
		if f.v != "" {
			parts = append(parts, f.k+": "+f.v)
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// evaluation is how one definition fared against a context.
type evaluation struct {
	def     *Definition
	matched bool
	crit    int // best matching criterion, -1 for none/no criteria
	rank    rank
	why     string // when not matched
}

// evaluate finds the best matching criterion of a definition (or workload criteria when
// def is nil, using criteria directly).
func evaluate(criteria []Criterion, defClass string, c Context) evaluation {
	if len(criteria) == 0 {
		if why, _ := mismatches(Criterion{}, defClass, c); len(why) > 0 {
			return evaluation{crit: -1, why: strings.Join(why, ", ")}
		}
		return evaluation{matched: true, crit: -1, rank: noCriteria}
	}
	e := evaluation{crit: -1}
	var reasons, single []string
	allClass := true
	for i, cr := range criteria {
		why, classOnly := mismatches(cr, defClass, c)
		if len(why) > 0 {
			allClass = allClass && classOnly
			single = why
			reasons = append(reasons, fmt.Sprintf("criterion %d %s: %s", i+1, describeCriterion(cr), strings.Join(why, ", ")))
			continue
		}
		r := rankOf(cr)
		if !e.matched || r.compare(e.rank) > 0 {
			e.matched, e.crit, e.rank = true, i, r
		}
	}
	if !e.matched {
		switch {
		case allClass:
			e.why = fmt.Sprintf("class %s ≠ %s", criterionClass(defClass, criteria[0]), contextClass(c))
		case len(reasons) == 1:
			e.why = strings.Join(single, ", ")
		default:
			e.why = "no criterion matches: " + strings.Join(reasons, "; ")
		}
	}
	return e
}

// whyBeats explains why winner's criterion ranks above loser's.
func whyBeats(winner, loser rank) string {
	for i := range winner {
		if winner[i] == loser[i] {
			continue
		}
		for j := i + 1; j < len(loser); j++ {
			if loser[j] {
				return rankFields[i] + " beats " + rankFields[j]
			}
		}
		var shared []string
		for j := 0; j < i; j++ {
			if winner[j] {
				shared = append(shared, rankFields[j])
			}
		}
		if len(shared) > 0 {
			return "both set " + strings.Join(shared, "+") + "; " + rankFields[i] + " makes it more specific"
		}
		if loser == noCriteria {
			return rankFields[i] + " beats no criteria"
		}
		return rankFields[i] + " beats a criterion that sets none of res_id, env_id, app_id, env_type"
	}
	return "same specificity"
}

func (e evaluation) criterionText() string {
	if e.crit < 0 {
		return "no criteria (applies everywhere, lowest specificity)"
	}
	return "criterion " + strconv.Itoa(e.crit+1) + " " + describeCriterion(e.def.Criteria[e.crit])
}

// Match finds the definition that provides a resource in context c (DESIGN.md §3): among
// definitions of c.Type whose class equals c.Class (default "default"), the one whose best
// matching criterion is most specific (res_id > env_id > app_id > env_type); a tie is an
// error wrapping ErrAmbiguous. With no matching definition, the first matching score-k8s
// provisioner wins; with none, an error wrapping ErrNoMatch. The returned Match always holds
// the trace (also alongside an error), so callers can explain a failure.
func (r *Rules) Match(c Context) (*Match, error) {
	c.Class = contextClass(c)
	m := &Match{Criterion: -1, Context: c}
	var evals []evaluation
	var best []int // indexes into evals of the top-ranked matches
	for _, d := range r.Definitions {
		if d.Provisioner || d.Type != c.Type {
			continue
		}
		e := evaluate(d.Criteria, d.Class, c)
		e.def = d
		evals = append(evals, e)
		if !e.matched {
			continue
		}
		i := len(evals) - 1
		switch {
		case len(best) == 0:
			best = []int{i}
		case e.rank.compare(evals[best[0]].rank) > 0:
			best = []int{i}
		case e.rank.compare(evals[best[0]].rank) == 0:
			best = append(best, i)
		}
	}
	for _, e := range evals {
		cand := Candidate{Definition: e.def.ID, File: e.def.File, Line: e.def.Line, Criterion: e.crit}
		switch {
		case !e.matched:
			cand.Outcome = e.why
		case len(best) == 1 && e.def == evals[best[0]].def:
			cand.Outcome = "matched by " + e.criterionText()
			if e.crit < 0 {
				cand.Outcome = "matched: no criteria, applies everywhere (lowest specificity)"
			}
			cand.Won = true
		case len(best) > 1 && evals[best[0]].rank == e.rank:
			cand.Outcome = "tied with " + strings.Join(tiedWith(evals, best, e.def), ", ") + " by " + e.criterionText()
		default:
			w := evals[best[0]]
			cand.Outcome = "lost to " + w.def.ID + ": " + whyBeats(w.rank, e.rank)
		}
		m.Trace = append(m.Trace, cand)
	}

	// Provisioner entries rank below every definition; among them the first match wins.
	var firstProv *Definition
	for _, d := range r.Definitions {
		if !d.Provisioner || d.Type != c.Type {
			continue
		}
		cand := Candidate{Definition: d.ID, File: d.File, Line: d.Line, Criterion: -1}
		var why []string
		if d.Class != "" && d.Class != c.Class {
			why = append(why, fmt.Sprintf("class %s ≠ %s", d.Class, c.Class))
		}
		if d.ResID != "" && d.ResID != c.ResID {
			why = append(why, fmt.Sprintf("id %s ≠ %s", d.ResID, orNone(c.ResID)))
		}
		switch {
		case len(why) > 0:
			cand.Outcome = "provisioner: " + strings.Join(why, ", ")
		case len(best) > 0:
			cand.Outcome = "provisioner, below matching definitions"
		case firstProv != nil:
			cand.Outcome = "provisioner, lost to " + firstProv.ID + ": the first matching provisioner wins"
		default:
			firstProv = d
			cand.Outcome = "matched (provisioner: matches every environment; first match in file order)"
			cand.Won = true
		}
		m.Trace = append(m.Trace, cand)
	}

	switch {
	case len(best) > 1:
		return m, r.ambiguous(c, evals, best)
	case len(best) == 1:
		w := evals[best[0]]
		m.Definition, m.Criterion = w.def, w.crit
		return m, nil
	case firstProv != nil:
		m.Definition = firstProv
		if firstProv.Driver == DriverCommand {
			return m, fmt.Errorf("%s: %w: provisioner %s (%s:%d) runs a command, and Scorebot never runs commands; "+
				"rewrite it as a template:// provisioner or add a definition for type %s",
				describeContext(c), ErrUnsupported, firstProv.ID, firstProv.File, firstProv.Line, c.Type)
		}
		return m, nil
	}
	return m, r.noMatch(c, m.Trace)
}

func tiedWith(evals []evaluation, best []int, self *Definition) []string {
	var out []string
	for _, i := range best {
		if evals[i].def != self {
			out = append(out, evals[i].def.ID)
		}
	}
	return out
}

// describeContext renders a context for error messages.
func describeContext(c Context) string {
	s := fmt.Sprintf("resource %s (class %s, id %s)", c.Type, contextClass(c), orNone(c.ResID))
	if c.AppID != "" {
		s += " of app " + c.AppID
	}
	if c.EnvID != "" || c.EnvType != "" {
		s += fmt.Sprintf(" in environment %s (type %s)", orNone(c.EnvID), orNone(c.EnvType))
	}
	return s
}

func (r *Rules) ambiguous(c Context, evals []evaluation, best []int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v: ", describeContext(c), ErrAmbiguous)
	var names []string
	for _, i := range best {
		e := evals[i]
		names = append(names, fmt.Sprintf("%s (%s:%d, %s)", e.def.ID, e.def.File, e.def.Line, e.criterionText()))
	}
	b.WriteString(strings.Join(names, " and "))
	b.WriteString(" match with the same specificity; make one criterion more specific (add res_id, env_id or app_id), " +
		"narrow the other's criteria, or give one a different class")
	return &matchError{msg: b.String(), sentinel: ErrAmbiguous}
}

func (r *Rules) noMatch(c Context, trace []Candidate) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v", describeContext(c), ErrNoMatch)
	var typo string
	if len(trace) == 0 {
		fmt.Fprintf(&b, "; the rules repo has no definition or provisioner of type %s", c.Type)
		types := r.types()
		if typo = Suggest(c.Type, types); typo != "" {
			fmt.Fprintf(&b, "; did you mean %q?", typo)
		}
		if len(types) > 0 {
			fmt.Fprintf(&b, " (the rules provide: %s)", strings.Join(types, ", "))
		}
	} else {
		b.WriteString("; candidates:")
		for _, t := range trace {
			fmt.Fprintf(&b, "\n  - %s (%s:%d): %s", t.Definition, t.File, t.Line, t.Outcome)
		}
	}
	b.WriteString("\nfix: ")
	if typo != "" {
		fmt.Fprintf(&b, "write type: %s in the Score file, or ", typo)
	}
	b.WriteString("add a definition to the rules repo, for example definitions/" + fileSafe(c.Type) + ".yaml:\n")
	b.WriteString(suggestDefinition(c))
	return &matchError{msg: b.String(), sentinel: ErrNoMatch}
}

// types lists the resource types the rules provide, sorted.
func (r *Rules) types() []string {
	var out []string
	for _, d := range r.Definitions {
		out = append(out, d.Type)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' {
			return '-'
		}
		return r
	}, s)
}

func suggestDefinition(c Context) string {
	var b strings.Builder
	id := fileSafe(c.Type)
	if c.EnvID != "" {
		id += "-" + c.EnvID
	}
	fmt.Fprintf(&b, "  - id: %s\n    type: %s\n", strings.ToLower(id), c.Type)
	if contextClass(c) != DefaultClass {
		fmt.Fprintf(&b, "    class: %s\n", contextClass(c))
	}
	if c.EnvID != "" {
		fmt.Fprintf(&b, "    criteria:\n      - env_id: %s\n", c.EnvID)
	}
	b.WriteString("    driver: echo\n    values: {}   # the outputs the workload uses; secrets as {secretKeyRef: {name, key}}")
	return b.String()
}

// matchError carries a complete message and a sentinel for errors.Is.
type matchError struct {
	msg      string
	sentinel error
}

func (e *matchError) Error() string { return e.msg }
func (e *matchError) Unwrap() error { return e.sentinel }

// WorkloadAdjustments returns the workload definitions matching c (its Type and Class are
// ignored; ResID is the workload name), from least to most specific, ties in file order, so
// that applying them in order lets the most specific one have the last word.
func (r *Rules) WorkloadAdjustments(c Context) []*WorkloadDefinition {
	c.Class = DefaultClass
	type hit struct {
		w    *WorkloadDefinition
		rank rank
	}
	var hits []hit
	for _, w := range r.Workloads {
		if e := evaluate(w.Criteria, "", c); e.matched {
			hits = append(hits, hit{w, e.rank})
		}
	}
	slices.SortStableFunc(hits, func(a, b hit) int { return a.rank.compare(b.rank) })
	out := make([]*WorkloadDefinition, len(hits))
	for i, h := range hits {
		out[i] = h.w
	}
	return out
}

// Environment returns the environment with the given name.
func (r *Rules) Environment(name string) (Environment, bool) {
	for _, e := range r.Platform.Environments {
		if e.Name == name {
			return e, true
		}
	}
	return Environment{}, false
}

// AppFor returns the app mapping of a source repo ("owner/name", compared case-insensitively).
// A repo not listed gets its name (lowercased, made a DNS label) as app id and score.yaml.
func (r *Rules) AppFor(repo string) AppMapping {
	for _, a := range r.Platform.Apps {
		if strings.EqualFold(a.Repo, repo) {
			a.ScoreFiles = slices.Clone(a.ScoreFiles)
			return a
		}
	}
	return AppMapping{Repo: repo, AppID: defaultAppID(repo), ScoreFiles: []string{"score.yaml"}}
}

// NamespaceFor expands the namespace pattern of environment env for app. An unknown
// environment uses the default pattern "{app}-{env}".
func (p Platform) NamespaceFor(app, env string) string {
	pattern := DefaultNamespace
	for _, e := range p.Environments {
		if e.Name == env && e.Namespace != "" {
			pattern = e.Namespace
		}
	}
	return strings.NewReplacer("{app}", app, "{env}", env).Replace(pattern)
}
