package convert

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestCheckImage(t *testing.T) {
	for _, c := range []struct {
		image string
		ok    bool
	}{
		{"nginx", true},
		{"nginx:1.27", true},
		{"library/nginx:latest", true},
		{"localhost:4000/repo/my-image:tag", true},
		{"us-central1-docker.pkg.dev/google-samples/microservices-demo/frontend:v0.10.5", true},
		{"ghcr.io/acme/shop-web:1.4.2", true},
		{"registry.example.com:5000/team/app_name__x-y.z:1_0-rc.1", true},
		{"[::1]:5000/app", true},
		{"nginx@sha256:" + strings.Repeat("a", 64), true},
		{"nginx:1.27@sha256:" + strings.Repeat("0f", 32), true},
		{".", true},                        // Score: the image built from this repo
		{"${resources.img.ref}", true},     // resolved later
		{"reg.io/app:${metadata.v}", true}, // resolved later
		{"nginx:1.27 latest", false},
		{"Nginx", false},
		{"nginx:", false},
		{":1.27", false},
		{"a//b", false},
		{"-nginx", false},
		{"nginx:-x", false},
		{"nginx@sha256:abc", false},
		{"nginx:" + strings.Repeat("x", 129), false},
		{strings.Repeat("a", 256), false},
		{"", false},
	} {
		if got := checkImage(c.image); got != c.ok {
			t.Errorf("checkImage(%q) = %v, want %v", c.image, got, c.ok)
		}
	}
}

// TestFixtureImagesAccepted: every image a Score or score-k8s fixture names is accepted.
func TestFixtureImagesAccepted(t *testing.T) {
	line := regexp.MustCompile(`(?m)^\s*-?\s*image:\s*(\S+)\s*$`)
	var n int
	for _, dir := range []string{"score", "score-k8s", "score-compose"} {
		files, _ := filepath.Glob(filepath.Join(fixturesDir, dir, "*.yaml"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range line.FindAllStringSubmatch(string(b), -1) {
				img := strings.Trim(m[1], `"'`)
				if strings.Contains(img, "{{") {
					continue // a template, not an image yet
				}
				n++
				if !checkImage(img) {
					t.Errorf("%s: image %q refused", filepath.Base(f), img)
				}
			}
		}
	}
	if n < 20 {
		t.Errorf("found only %d fixture images; is %s there?", n, fixturesDir)
	}
}

func TestImageError(t *testing.T) {
	_, err := Workload(input(t, "containers:\n  web:\n    image: \"nginx:1.27 latest\"\n", nil))
	wantErr(t, err, "apps/web/score.yaml: containers.web.image: ", `"nginx:1.27 latest" is not an image reference`,
		"write NAME[:TAG][@DIGEST], e.g. nginx:1.27")
	convertOK(t, input(t, "containers:\n  web:\n    image: .\n", nil))
}
