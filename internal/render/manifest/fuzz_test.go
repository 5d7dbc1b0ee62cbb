package manifest

import "testing"

// FuzzParse feeds arbitrary bytes to Parse (template outputs are untrusted): it must never
// panic, and whatever it accepts must survive Marshal → Parse with the same objects.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, doc []byte) {
		objs, err := Parse(doc, "fuzz")
		if err != nil {
			return
		}
		for _, o := range objs {
			_ = DecodeStrict(o)
			_ = CheckNoPlaintextSecret(o)
			b, err := Marshal(o)
			if err != nil {
				t.Fatalf("Marshal of a parsed object: %v", err)
			}
			again, err := Parse(b, "again")
			if err != nil || len(again) != 1 || again[0].Name() != o.Name() || again[0].Kind() != o.Kind() {
				t.Fatalf("round trip of %q: %v (%d objects)", b, err, len(again))
			}
		}
	})
}
