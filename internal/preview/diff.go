package preview

import (
	"bytes"
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	gitdiff "github.com/go-git/go-git/v5/utils/diff"
	"github.com/sergi/go-diff/diffmatchpatch"

	"github.com/scorebot/scorebot/internal/render/manifest"
)

// Op is what a change does to one file of the env repo.
type Op string

// The operations of a FileDiff.
const (
	Added   Op = "added"
	Changed Op = "changed"
	Removed Op = "removed"
)

// contextLines is the number of unchanged lines shown around each change, as in `diff -u`.
const contextLines = 3

// FileDiff is the change to one env-repo file (one Kubernetes object, as envtree lays them
// out) between what the env repo holds and what would be rendered.
type FileDiff struct {
	Path        string
	Op          Op
	Plus, Minus int // lines added and removed
	// Lines is the unified diff body: "@@ -a,b +c,d @@" hunk headers and lines prefixed with
	// ' ', '+' or '-', without line ends. Secret values are already redacted.
	Lines []string
	// Note replaces Lines when the content cannot be shown (binary content, or a file that
	// may hold a Secret but cannot be parsed to redact it).
	Note string
}

// Diff compares the files an env repo holds (current) with the files a render produced
// (rendered) and returns one FileDiff per file that differs, sorted by path. The bot's own
// bookkeeping (the .scorebot/ provenance records, which name the source commit and so
// change on every push) is left out. Secret data and stringData values are redacted on both
// sides before comparing, so a diff never shows a secret value, even one a rule wrote in
// plaintext by mistake.
func Diff(current, rendered map[string][]byte) []FileDiff {
	paths := make([]string, 0, len(current)+len(rendered))
	for p := range current {
		paths = append(paths, p)
	}
	for p := range rendered {
		if _, ok := current[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	var out []FileDiff
	for _, p := range paths {
		if bookkeeping(p) {
			continue
		}
		oldData, inOld := current[p]
		newData, inNew := rendered[p]
		if inOld && inNew && bytes.Equal(oldData, newData) {
			continue
		}
		fd := FileDiff{Path: p, Op: Changed}
		switch {
		case !inOld:
			fd.Op = Added
		case !inNew:
			fd.Op = Removed
		}
		oldText, oldNote := showable(p, oldData)
		newText, newNote := showable(p, newData)
		if note := cmp.Or(oldNote, newNote); note != "" {
			fd.Note = note
			out = append(out, fd)
			continue
		}
		if oldText == newText {
			// Only redacted values differ: say so without showing them.
			fd.Note = "only redacted Secret values differ"
			out = append(out, fd)
			continue
		}
		fd.Lines, fd.Plus, fd.Minus = unified(oldText, newText)
		out = append(out, fd)
	}
	return out
}

// bookkeeping reports whether p is one of the bot's own records rather than an object.
func bookkeeping(p string) bool {
	return strings.HasPrefix(p, ".scorebot/") || strings.Contains(p, "/.scorebot/")
}

// secretKind finds a Secret kind in YAML or JSON that manifest.Parse could not read.
var secretKind = regexp.MustCompile(`(?i)kind["']?\s*:\s*["']?secret\b`)

// showable returns the text of a file as a diff may show it, or a note saying why it
// cannot be shown. Files holding a Secret are re-encoded with every data and stringData
// value redacted.
func showable(path string, data []byte) (text, note string) {
	if len(data) == 0 {
		return "", ""
	}
	if bytes.IndexByte(data, 0) >= 0 || !utf8.Valid(data) {
		return "", "binary content, not shown"
	}
	objs, err := manifest.Parse(data, path)
	if err != nil {
		if secretKind.Match(data) {
			return "", "content not shown: it may hold a Secret and could not be parsed to redact it"
		}
		return string(data), ""
	}
	hasSecret := false
	for _, o := range objs {
		if o.Kind() == "Secret" {
			hasSecret = true
		}
	}
	if !hasSecret {
		return string(data), ""
	}
	var b strings.Builder
	for i, o := range objs {
		y, err := manifest.Marshal(redact(o))
		if err != nil {
			return "", "content not shown: it holds a Secret that could not be re-encoded with its values redacted"
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	return b.String(), ""
}

// redact is manifest.Redact, also applied to a "Secret" of any apiVersion, so a misspelt
// apiVersion cannot slip a value into a comment.
func redact(o manifest.Object) manifest.Object {
	r := manifest.Redact(o)
	if o.Kind() != "Secret" {
		return r
	}
	for _, field := range []string{"data", "stringData"} {
		switch m := r.Doc[field].(type) {
		case map[string]any:
			for k := range m {
				m[k] = "<redacted>"
			}
		case nil:
		default:
			r.Doc[field] = "<redacted>"
		}
	}
	return r
}

// lineOp is one line of a line diff.
type lineOp struct {
	kind byte // ' ', '+' or '-'
	text string
}

// unified returns the unified diff of two texts with contextLines of context, and the
// number of lines added and removed.
func unified(oldText, newText string) (lines []string, plus, minus int) {
	var ops []lineOp
	for _, d := range gitdiff.Do(oldText, newText) {
		kind := byte(' ')
		switch d.Type {
		case diffmatchpatch.DiffInsert:
			kind = '+'
		case diffmatchpatch.DiffDelete:
			kind = '-'
		}
		for _, l := range splitLines(d.Text) {
			ops = append(ops, lineOp{kind: kind, text: l})
			switch kind {
			case '+':
				plus++
			case '-':
				minus++
			}
		}
	}
	// oldAt[i] and newAt[i]: lines of each side before ops[i].
	oldAt := make([]int, len(ops)+1)
	newAt := make([]int, len(ops)+1)
	for i, op := range ops {
		oldAt[i+1], newAt[i+1] = oldAt[i], newAt[i]
		if op.kind != '+' {
			oldAt[i+1]++
		}
		if op.kind != '-' {
			newAt[i+1]++
		}
	}
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		// A hunk: from this change, extend while the next change is within 2*context.
		last := i
		for j := i + 1; j < len(ops); j++ {
			if ops[j].kind == ' ' {
				continue
			}
			if j-last > 2*contextLines {
				break
			}
			last = j
		}
		start := max(0, i-contextLines)
		end := min(len(ops), last+contextLines+1)
		lines = append(lines, hunkHeader(oldAt[start], oldAt[end]-oldAt[start], newAt[start], newAt[end]-newAt[start]))
		for _, op := range ops[start:end] {
			lines = append(lines, string(op.kind)+op.text)
		}
		i = end
	}
	return lines, plus, minus
}

func hunkHeader(oldBefore, oldLen, newBefore, newLen int) string {
	return fmt.Sprintf("@@ -%s +%s @@", hunkRange(oldBefore, oldLen), hunkRange(newBefore, newLen))
}

// hunkRange is diff -u's "start,len", where an empty range starts at the line before it.
func hunkRange(before, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", before)
	}
	if n == 1 {
		return fmt.Sprintf("%d", before+1)
	}
	return fmt.Sprintf("%d,%d", before+1, n)
}

// splitLines splits text into lines without their ends; a last line without an end counts.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	s = strings.TrimSuffix(s, "\n")
	return strings.Split(s, "\n")
}
