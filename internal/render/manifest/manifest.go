// Package manifest owns the Kubernetes object as render passes it around: a generic document
// plus where it came from, and the checks and encoding every object goes through before it is
// written (strict decoding into its typed API, refusal of plaintext Secrets, stable YAML).
package manifest

// Object is one Kubernetes object.
type Object struct {
	// Doc is the object as a JSON-compatible document: map[string]any, []any, string,
	// float64 or int64, bool, nil.
	Doc map[string]any
	// Source says what produced the object, for error messages and explanations:
	// "workload <name> (<score file>)" or "definition <id> (<rules file>)".
	Source string
}

func (o Object) str(path ...string) string {
	var cur any = o.Doc
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[p]
	}
	s, _ := cur.(string)
	return s
}

func (o Object) APIVersion() string { return o.str("apiVersion") }
func (o Object) Kind() string       { return o.str("kind") }
func (o Object) Name() string       { return o.str("metadata", "name") }
func (o Object) Namespace() string  { return o.str("metadata", "namespace") }
