package convert

import (
	"regexp"
	"strings"
)

// imageRef matches a container image reference, NAME[:TAG][@DIGEST], by the grammar of the
// distribution project's reference package (github.com/distribution/reference, which is not
// in this module's graph): an optional registry host[:port] (a domain, IPv4 or [IPv6]),
// lowercase path components separated by '/', a tag of up to 128 word characters, dots and
// dashes, and a digest algorithm:hex.
var imageRef = func() *regexp.Regexp {
	const (
		alnum      = `[a-z0-9]+`
		separator  = `(?:[._]|__|-+)`
		component  = alnum + `(?:` + separator + alnum + `)*`
		domainPart = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
		host       = `(?:` + domainPart + `(?:\.` + domainPart + `)*|\[[a-fA-F0-9:]+\])`
		domain     = host + `(?::[0-9]+)?`
		tag        = `[\w][\w.-]{0,127}`
		digest     = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
	)
	return regexp.MustCompile(`^(?:` + domain + `/)?` + component + `(?:/` + component + `)*` +
		`(?::` + tag + `)?(?:@` + digest + `)?$`)
}()

// maxImageName is the longest repository name (registry and path) registries accept.
const maxImageName = 255

// checkImage reports whether image is a reference Kubernetes can pull. Score's "." (the image
// built from the workload's repo, which a build step replaces) and images holding a
// placeholder (${...}, resolved later) are not judged.
func checkImage(image string) bool {
	if image == "." || strings.Contains(image, "${") {
		return true
	}
	if !imageRef.MatchString(image) {
		return false
	}
	name, _, _ := strings.Cut(image, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return len(name) <= maxImageName
}
