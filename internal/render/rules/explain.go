package rules

import (
	"fmt"
	"strings"
)

// Explain renders the match as text for `bot render --explain` and PR comments: the context,
// then one line per candidate in trace order, the chosen one marked "✓", the others "✗".
//
//	postgres (class default, id web.db) of app shop in environment production (type production)
//	  ✓ pg-prod      definitions/postgres.yaml:14  matched by criterion 1 {env_id: production}
//	  ✗ pg-dev       definitions/postgres.yaml:1   env_type development ≠ production
func (m *Match) Explain() string {
	var b strings.Builder
	b.WriteString(strings.TrimPrefix(describeContext(m.Context), "resource "))
	b.WriteString("\n")
	if len(m.Trace) == 0 {
		b.WriteString("  (no definition or provisioner of this type)\n")
		return b.String()
	}
	idW, whereW := 0, 0
	wheres := make([]string, len(m.Trace))
	for i, t := range m.Trace {
		wheres[i] = t.File
		if t.Line > 0 {
			wheres[i] = fmt.Sprintf("%s:%d", t.File, t.Line)
		}
		idW = max(idW, len([]rune(t.Definition)))
		whereW = max(whereW, len([]rune(wheres[i])))
	}
	for i, t := range m.Trace {
		mark := "✗"
		if t.Won {
			mark = "✓"
		}
		fmt.Fprintf(&b, "  %s %s  %s  %s\n", mark, pad(t.Definition, idW), pad(wheres[i], whereW), t.Outcome)
	}
	if m.Definition == nil {
		b.WriteString("  → no definition chosen\n")
	}
	return b.String()
}

func pad(s string, w int) string {
	if n := len([]rune(s)); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}
