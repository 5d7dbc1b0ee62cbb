package manifest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrPlaintextSecret is returned (wrapped) for a Secret that carries values in plaintext.
var ErrPlaintextSecret = errors.New("plaintext Secret refused")

const redacted = "<redacted>"

func isSecret(o Object) bool { return o.APIVersion() == "v1" && o.Kind() == "Secret" }

// CheckNoPlaintextSecret refuses a v1 Secret with values in data or stringData, unless it is
// SOPS-encrypted (a top-level `sops` section and every value `ENC[...]`). The error names
// the object's source and the keys, never the values.
func CheckNoPlaintextSecret(o Object) error {
	if !isSecret(o) {
		return nil
	}
	_, sops := o.Doc["sops"].(map[string]any)
	var keys []string
	for _, field := range []string{"data", "stringData"} {
		m, _ := o.Doc[field].(map[string]any)
		for k, v := range m {
			if s, ok := v.(string); sops && ok && strings.HasPrefix(s, "ENC[") {
				continue
			}
			keys = append(keys, field+"."+k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	return fmt.Errorf("%s: Secret %q carries plaintext values (%s): nothing secret may be written in plaintext; "+
		"produce an ExternalSecret (external-secrets.io) that reads the value from a secret store, or commit a "+
		"SOPS-encrypted Secret that Flux decrypts, and reference it as a secret output: %w",
		o.Source, o.Name(), strings.Join(keys, ", "), ErrPlaintextSecret)
}

// Redact returns a deep copy of o in which every value of a Secret's data and stringData is
// replaced by "<redacted>". Other objects are copied unchanged.
func Redact(o Object) Object {
	doc, _ := DeepCopy(o.Doc).(map[string]any)
	out := Object{Doc: doc, Source: o.Source}
	if !isSecret(o) {
		return out
	}
	for _, field := range []string{"data", "stringData"} {
		if m, ok := doc[field].(map[string]any); ok {
			for k := range m {
				m[k] = redacted
			}
		}
	}
	return out
}

// DeepCopy copies a JSON-compatible document (maps, slices, scalars), as Object.Doc holds.
func DeepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, c := range v {
			m[k] = DeepCopy(c)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, c := range v {
			s[i] = DeepCopy(c)
		}
		return s
	}
	return v
}
