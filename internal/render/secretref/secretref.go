// Package secretref encodes references to keys of Kubernetes Secrets inside ordinary strings,
// so that resource outputs and placeholders can carry a credential without its value.
//
// The encoding is score-k8s's, for compatibility with its provisioner files:
// "🔐💬<secret name>_<key>💬🔐". A string may mix literal text and references.
package secretref

import (
	"fmt"
	"strings"
)

const (
	open  = "🔐💬"
	close = "💬🔐"
)

// Ref names one key of one Secret.
type Ref struct {
	Name string
	Key  string
}

// Encode returns the in-string marker for a reference. The secret name must not contain '_'
// (Kubernetes names cannot), so the first '_' separates name and key.
func Encode(name, key string) string {
	return open + name + "_" + key + close
}

// Part is a piece of a string: literal text, or a reference when Ref is non-nil.
type Part struct {
	Text string
	Ref  *Ref
}

// Split cuts s into literal and reference parts, in order. A malformed marker is an error.
func Split(s string) ([]Part, error) {
	var parts []Part
	for {
		i := strings.Index(s, open)
		if i < 0 {
			if s != "" {
				parts = append(parts, Part{Text: s})
			}
			return parts, nil
		}
		if i > 0 {
			parts = append(parts, Part{Text: s[:i]})
		}
		rest := s[i+len(open):]
		j := strings.Index(rest, close)
		if j < 0 {
			return nil, fmt.Errorf("unterminated secret reference %q", truncate(s[i:]))
		}
		body := rest[:j]
		name, key, ok := strings.Cut(body, "_")
		if !ok || name == "" || key == "" {
			return nil, fmt.Errorf("secret reference %q must be <secret name>_<key>", body)
		}
		parts = append(parts, Part{Ref: &Ref{Name: name, Key: key}})
		s = rest[j+len(close):]
	}
}

// Contains reports whether s holds any reference marker.
func Contains(s string) bool { return strings.Contains(s, open) }

// Whole returns the reference when s is exactly one reference and nothing else.
func Whole(s string) (Ref, bool) {
	parts, err := Split(s)
	if err != nil || len(parts) != 1 || parts[0].Ref == nil {
		return Ref{}, false
	}
	return *parts[0].Ref, true
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
