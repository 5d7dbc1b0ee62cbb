package preview

import "strings"

const (
	bannerStart = "<!-- scorebot:outdated -->\n"
	bannerEnd   = "<!-- /scorebot:outdated -->\n"
)

// Outdated returns the preview comment body with a banner saying the preview is outdated
// because the PR was merged or closed (state "merged" or "closed"); the rest of the body
// is kept. Calling it again replaces the banner, so a PR closed, reopened and merged says
// only "merged". The result is at most MaxCommentLen bytes.
func Outdated(body, state string) string {
	body = Current(body)
	rest, ok := strings.CutPrefix(body, Marker+"\n")
	if !ok {
		rest = strings.TrimPrefix(body, Marker)
	}
	why := "this pull request was closed without merging"
	if state == "merged" {
		why = "this pull request was merged"
	}
	banner := bannerStart + "> [!NOTE]\n> <b>Preview outdated (" + htmlText(state, 20) + ")</b>: " + why +
		"; the preview below is of its last head and is no longer updated.\n\n" + bannerEnd
	out := Marker + "\n" + banner + rest
	if len(out) > MaxCommentLen {
		return Marker + "\n" + banner
	}
	return out
}

// Current returns body without an Outdated banner (for a PR that was reopened).
func Current(body string) string {
	i := strings.Index(body, bannerStart)
	if i < 0 {
		return body
	}
	j := strings.Index(body[i:], bannerEnd)
	if j < 0 {
		return body
	}
	return body[:i] + body[i+j+len(bannerEnd):]
}
