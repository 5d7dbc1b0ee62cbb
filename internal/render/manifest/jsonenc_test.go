package manifest

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// jsonCases are documents at the edges of appendJSON: every escape, invalid UTF-8, the
// float formats' cutoffs, nil and empty collections.
var jsonCases = []any{
	map[string]any{"s": "plain", "esc": "\"\\/\b\f\n\r\t\x00\x01\x1f\x7f<>&", "u": "héllo ✓ 🔐 \u2028\u2029 \ufffd",
		"bad": "a\xffb\xc3", "<key>": "&", "": ""},
	map[string]any{"i": []any{0, -1, int64(math.MaxInt64), int64(math.MinInt64), math.MaxInt},
		"f": []any{1.5, -0.25, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 123456789.0, 3.0, math.Copysign(0, -1), 0.0,
			math.MaxFloat64, math.SmallestNonzeroFloat64, -1e-9, 1.0000000000000002}},
	map[string]any{"nilmap": map[string]any(nil), "nilslice": []any(nil), "empty": map[string]any{}, "none": []any{},
		"null": nil, "t": true, "f": false, "deep": []any{[]any{map[string]any{"b": []any{nil}}}}},
}

// TestAppendJSONMatchesMarshal: appendJSON writes json.Marshal's bytes, on the edge cases
// and on generated documents; other types and non-finite floats are declined.
func TestAppendJSONMatchesMarshal(t *testing.T) {
	keys := append(append([]string{}, consistentKeys...), cyclicKeys...)
	docs := append([]any{}, jsonCases...)
	for _, o := range randomDocs(3000, keys, 17) {
		docs = append(docs, o.Doc)
	}
	for i, d := range docs {
		want, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendJSON(nil, d, 0)
		if !ok || !bytes.Equal(got, want) {
			t.Fatalf("document %d: appendJSON = %s (%v), json.Marshal %s", i, got, ok, want)
		}
	}
	for _, d := range []any{math.NaN(), math.Inf(1), map[string]any{"a": map[string]string{}}, []string{}, json.Number("1"), int32(1)} {
		if _, ok := appendJSON(nil, d, 0); ok {
			t.Errorf("appendJSON(%#v) accepted", d)
		}
	}
}

// FuzzAppendJSON: for any string (as key and value) and number, appendJSON writes what
// json.Marshal writes.
func FuzzAppendJSON(f *testing.F) {
	f.Add("a\x00<\u2028\xff", 1.5, int64(-3))
	f.Add("", 1e21, int64(math.MinInt64))
	f.Add("\"\\", 1e-7, int64(0))
	f.Fuzz(func(t *testing.T, s string, x float64, n int64) {
		d := map[string]any{s: s, "x": x, "n": n, "l": []any{s, x}}
		want, err := json.Marshal(d)
		got, ok := appendJSON(nil, d, 0)
		if err != nil {
			if ok {
				t.Fatalf("json.Marshal fails (%v), appendJSON writes %s", err, got)
			}
			return
		}
		if !ok || !bytes.Equal(got, want) {
			t.Fatalf("appendJSON = %s (%v), json.Marshal %s", got, ok, want)
		}
	})
}
