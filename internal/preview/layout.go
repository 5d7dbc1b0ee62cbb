package preview

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Limits of what GitHub accepts, counted here in bytes: a byte count is never below the
// character count GitHub checks (in code points or UTF-16 units), so a text that fits in
// bytes fits.
const (
	// MaxCommentLen is GitHub's limit on a comment body (forge.MaxCommentLen).
	MaxCommentLen = 65536
	// MaxCheckLen is GitHub's limit on a check run's summary (forge.MaxCheckTextLen).
	MaxCheckLen = 65535

	// outdatedReserve is kept free in every comment for the banner Outdated adds.
	outdatedReserve = 400
	// footerReserve is kept free for the note saying what was left out.
	footerReserve = 500
	// maxObjectDiff caps one object's diff, so one huge object cannot push all others out.
	maxObjectDiff = 20000
	// maxProblem caps one error message.
	maxProblem = 6000
	// maxTrace caps one environment's match trace.
	maxTrace = 12000
	// maxLabels is how many left-out objects a section names.
	maxLabels = 5
)

// itemKind orders what is cut first: diffs, then match traces; the rest only goes with its
// whole section.
type itemKind int

const (
	kindDiff itemKind = iota
	kindTrace
	kindFixed
)

// item is one block of a section.
type item struct {
	kind  itemKind
	label string // the object's path, for the note naming what was left out
	text  string
	cut   bool
}

// section is one collapsible part after the summary (an environment, or an app in an
// environment).
type section struct {
	open, close string
	items       []*item
	collapsed   bool
}

// doc is a comment being fitted under a limit: the top and the summary table are kept
// whole when at all possible; sections are cut from the largest item down.
type doc struct {
	top        string   // marker, title, header
	tableHead  string   // header and alignment rows; "" for no table
	rows       []string // table rows, each ending in "\n"
	afterTable string
	sections   []*section
	closing    string // after the sections (always kept)

	rowsKept        int
	sectionsDropped bool
}

// sectionTail says, inside a section, what was cut from it.
func (s *section) tail() string {
	var diffs []string
	nDiffs, trace := 0, false
	for _, it := range s.items {
		if !it.cut {
			continue
		}
		switch it.kind {
		case kindDiff:
			nDiffs++
			if len(diffs) < maxLabels {
				diffs = append(diffs, code(it.label, 200))
			}
		case kindTrace:
			trace = true
		}
	}
	if nDiffs == 0 && !trace {
		return ""
	}
	var parts []string
	if nDiffs > 0 {
		p := "the diff of " + plural(nDiffs, "object", "objects") + " (" + strings.Join(diffs, ", ")
		if nDiffs > len(diffs) {
			p += " and " + strconv.Itoa(nDiffs-len(diffs)) + " more"
		}
		parts = append(parts, p+")")
	}
	if trace {
		parts = append(parts, "the match trace")
	}
	return "<i>Left out to fit GitHub's comment limit: " + strings.Join(parts, "; ") + ".</i>\n\n"
}

func (s *section) collapsedBody() string {
	n := 0
	for _, it := range s.items {
		if it.kind == kindDiff {
			n++
		}
	}
	return "<i>Left out to fit GitHub's comment limit: this section's details (" +
		plural(n, "object diff", "object diffs") + ").</i>\n\n"
}

func (s *section) size() int {
	if s.collapsed {
		return len(s.open) + len(s.collapsedBody()) + len(s.close)
	}
	n := len(s.open) + len(s.close) + len(s.tail())
	for _, it := range s.items {
		if !it.cut {
			n += len(it.text)
		}
	}
	return n
}

func (d *doc) rowsNote() string {
	if left := len(d.rows) - d.rowsKept; left > 0 {
		return "<i>" + plural(left, "more row", "more rows") + " left out to fit GitHub's limit.</i>\n\n"
	}
	return ""
}

func (d *doc) headSize() int {
	n := len(d.top) + len(d.afterTable) + len(d.closing) + len(d.rowsNote())
	if d.tableHead != "" {
		n += len(d.tableHead) + 1
		for _, r := range d.rows[:d.rowsKept] {
			n += len(r)
		}
	}
	return n
}

func (d *doc) size() int {
	n := d.headSize()
	if !d.sectionsDropped {
		for _, s := range d.sections {
			n += s.size()
		}
	}
	return n
}

// fit cuts the document until it holds in limit bytes, footer included: the largest diffs
// first, then the largest match traces, then whole sections (largest first), then every
// section, and only then rows of the summary table.
func (d *doc) fit(limit int) {
	d.rowsKept = len(d.rows)
	budget := limit - footerReserve
	total := d.size()
	if total <= budget {
		return
	}
	for _, kind := range []itemKind{kindDiff, kindTrace} {
		type ref struct {
			s   *section
			it  *item
			ord int
		}
		var refs []ref
		for _, s := range d.sections {
			for _, it := range s.items {
				if it.kind == kind && !it.cut {
					refs = append(refs, ref{s, it, len(refs)})
				}
			}
		}
		slices.SortFunc(refs, func(a, b ref) int {
			return cmp.Or(cmp.Compare(len(b.it.text), len(a.it.text)), cmp.Compare(b.ord, a.ord))
		})
		for _, r := range refs {
			if total <= budget {
				return
			}
			before := r.s.size()
			r.it.cut = true
			total += r.s.size() - before
		}
	}
	order := slices.Clone(d.sections)
	slices.SortStableFunc(order, func(a, b *section) int { return cmp.Compare(b.size(), a.size()) })
	for _, s := range order {
		if total <= budget {
			return
		}
		before := s.size()
		s.collapsed = true
		total += s.size() - before
	}
	if total > budget {
		d.sectionsDropped = true
		total = d.size()
	}
	for total > budget && d.rowsKept > 0 {
		d.rowsKept--
		total = d.size()
	}
}

// footer says what fit left out.
func (d *doc) footer(limitName string) string {
	var diffs, traces, collapsed int
	for _, s := range d.sections {
		if s.collapsed || d.sectionsDropped {
			collapsed++
			continue
		}
		for _, it := range s.items {
			if it.cut && it.kind == kindDiff {
				diffs++
			}
			if it.cut && it.kind == kindTrace {
				traces++
			}
		}
	}
	var parts []string
	if diffs > 0 {
		parts = append(parts, plural(diffs, "object diff", "object diffs"))
	}
	if traces > 0 {
		parts = append(parts, plural(traces, "match trace", "match traces"))
	}
	if collapsed > 0 {
		parts = append(parts, "the details of "+plural(collapsed, "section", "sections"))
	}
	if rows := len(d.rows) - d.rowsKept; rows > 0 {
		parts = append(parts, plural(rows, "table row", "table rows"))
	}
	if len(parts) == 0 {
		return ""
	}
	return "---\n<i>✂️ Cut to fit GitHub's " + limitName + " limit, largest first: " + strings.Join(parts, ", ") +
		" left out. Run <code>bot render --explain</code> locally for the whole output.</i>\n"
}

// String assembles the document as fitted.
func (d *doc) String(limitName string) string {
	var b strings.Builder
	b.Grow(d.size() + footerReserve)
	b.WriteString(d.top)
	if d.tableHead != "" {
		b.WriteString(d.tableHead)
		for _, r := range d.rows[:d.rowsKept] {
			b.WriteString(r)
		}
		b.WriteString("\n")
	}
	b.WriteString(d.rowsNote())
	b.WriteString(d.afterTable)
	if !d.sectionsDropped {
		for _, s := range d.sections {
			b.WriteString(s.open)
			if s.collapsed {
				b.WriteString(s.collapsedBody())
			} else {
				for _, it := range s.items {
					if !it.cut {
						b.WriteString(it.text)
					}
				}
				b.WriteString(s.tail())
			}
			b.WriteString(s.close)
		}
	}
	b.WriteString(d.closing)
	b.WriteString(d.footer(limitName))
	return b.String()
}

// render fits the document under limit and returns it; when even the bare top does not
// fit (only with absurd inputs), it returns fallback.
func (d *doc) render(limit int, limitName, fallback string) string {
	d.fit(limit)
	if s := d.String(limitName); len(s) <= limit {
		return s
	}
	return capText(fallback, limit)
}
