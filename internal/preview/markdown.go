package preview

import (
	"html"
	"strconv"
	"strings"
	"unicode/utf8"
)

// fenceFor returns a backtick fence longer than any run of backticks in text, so that no
// line of the text can close the block early (CommonMark: a closing fence is at least as
// long as the opening one).
func fenceFor(text string) string {
	longest, run := 0, 0
	for i := 0; i < len(text); i++ {
		if text[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

// codeBlock is a fenced block holding text verbatim.
func codeBlock(lang, text string) string {
	text = strings.TrimSuffix(text, "\n")
	f := fenceFor(text)
	return f + lang + "\n" + text + "\n" + f + "\n"
}

// htmlText escapes s for an HTML context (inside <summary>, <code>) and keeps it on one line.
func htmlText(s string, limit int) string {
	s = strings.Join(strings.Fields(s), " ")
	return html.EscapeString(capText(s, limit))
}

// cell makes s safe for one cell of a Markdown table: one line, no pipe, no HTML.
func cell(s string, limit int) string {
	return strings.ReplaceAll(htmlText(s, limit), "|", "&#124;")
}

// code is s as inline code inside HTML.
func code(s string, limit int) string {
	return "<code>" + htmlText(s, limit) + "</code>"
}

// capText cuts s to at most limit bytes (at a rune boundary), marking the cut with "…".
func capText(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= limit {
		return s
	}
	cut := max(0, limit-len("…"))
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// short is the first 7 characters of a commit sha.
func short(sha string) string {
	sha = capText(sha, 64)
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// plural writes "1 object" or "2 objects".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
