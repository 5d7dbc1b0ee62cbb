package convert

import (
	"strings"

	"github.com/distribution/reference"
)

// checkImage reports whether image is a reference Kubernetes can pull: NAME[:TAG][@DIGEST],
// parsed by the distribution project's reference package (the grammar registries and
// container runtimes use; a short name such as nginx:1.27 is Docker Hub's). Score's "." (the
// image built from the workload's repo, which a build step replaces) and images holding a
// placeholder (${...}, resolved later) are not judged.
func checkImage(image string) bool {
	if image == "." || strings.Contains(image, "${") {
		return true
	}
	_, err := reference.ParseNormalizedNamed(image)
	return err == nil
}
