package preview

import (
	"fmt"
	"strings"
)

// checkMarkdown reports what would make a comment render wrongly on GitHub: a body over
// limit, an unclosed code fence (CommonMark: a fence of n backticks is closed only by a line
// of at least n backticks), or <details>/<summary> tags outside code that do not balance.
func checkMarkdown(s string, limit int) error {
	if len(s) > limit {
		return fmt.Errorf("%d bytes, limit %d", len(s), limit)
	}
	fence := 0 // backticks of the open fence, 0 when outside code
	depth := map[string]int{}
	for n, line := range strings.Split(s, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		ticks := len(trimmed) - len(strings.TrimLeft(trimmed, "`"))
		if fence > 0 {
			if indent <= 3 && ticks >= fence && strings.TrimSpace(trimmed[ticks:]) == "" {
				fence = 0
			}
			continue
		}
		if indent <= 3 && ticks >= 3 {
			if strings.Contains(trimmed[ticks:], "`") {
				return fmt.Errorf("line %d: backtick in a fence's info string: %q", n+1, line)
			}
			fence = ticks
			continue
		}
		for _, tag := range []string{"details", "summary"} {
			depth[tag] += strings.Count(line, "<"+tag+">") + strings.Count(line, "<"+tag+" ")
			depth[tag] -= strings.Count(line, "</"+tag+">")
			if depth[tag] < 0 {
				return fmt.Errorf("line %d: </%s> without <%s>", n+1, tag, tag)
			}
		}
		if depth["summary"] > 0 {
			return fmt.Errorf("line %d: <summary> not closed on its line", n+1)
		}
	}
	if fence > 0 {
		return fmt.Errorf("code fence of %d backticks not closed", fence)
	}
	if depth["details"] != 0 {
		return fmt.Errorf("%d <details> not closed", depth["details"])
	}
	return nil
}
