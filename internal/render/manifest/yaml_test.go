package manifest

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"
)

// sigsMarshal is the encoder Marshal replaced (sigs.k8s.io/yaml), the oracle for documents
// whose keys yaml/v2 orders consistently.
func sigsMarshal(t *testing.T, o Object) []byte {
	t.Helper()
	b, err := yaml.Marshal(o.Doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMarshalMatchesSigsYAML(t *testing.T) {
	docs := []string{
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"n","labels":{"a10":"x","a9":"y","A":"z","_":"w"}},
		  "data":{"multi":"line one\nline two\n","trailing":"no newline\nat end","yes":"yes","no":"off","num":"0644","float":"1.0","null":"null",
		  "colon":"a: b","hash":"# not a comment","empty":"","space":" lead","unicode":"héllo ✓","tab":"a\tb","quote":"'\"","dash":"- x","star":"*x","amp":"&x","braces":"{a}","date":"2001-12-14"}}`,
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":3,"minReadySeconds":0,"x":1.5,"big":12345678901,"f":3.0,"tiny":1e-7,"huge":1e21,
		  "neg":-2,"t":true,"n":null,"list":[],"obj":{},"nested":[[1,2],{"a":[{"b":null}]}],"template":{"spec":{"containers":[{"name":"m","image":"nginx","args":["--a=1","$(VAR)","${x}"]}]}}}}`,
	}
	for _, d := range docs {
		objs, err := Parse([]byte(d), "test")
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			want := sigsMarshal(t, o)
			got, err := Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(want, got) {
				t.Errorf("Marshal differs from sigs.k8s.io/yaml:\nwant:\n%s\ngot:\n%s", want, got)
			}
		}
	}
}

var randomScalars = []any{
	"", "a", "y", "Yes", "no", "ON", "null", "Null", "~", "true", "x1", "1x", "128Mi", "100m", "0.5", "1e3", "1E3",
	"0x1F", "0o17", "0b101", "1_000", "12:30", "1:20:30", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "1d", "9z",
	"abc:", "a:b", "http://x.y/z", "a=b", "a+b", "@x", "-x", "x-", "_x", ".x", "/x", "a/b.c_d-e", "in", "inf", ".inf",
	"nan", "NaN", "a b", "a #b", "a\nb", "a\n", "é", "a\tb", "'q'", "\"q\"", "a,b", "[x]", "{x}", "x*", "&x", "!x",
	"%x", "`x", "|x", ">x", "#x", "?x", "a?", "0c21646d-2ff5", "0", "00", "07", "1.", ".5", "+1", "-1", "+x",
	"ghcr.io/acme/svc:1.0.0", "redis-shared:6379", "${x}", "$(X)", "a_b", "A_B", "k8s.io/name", "a.b/c-d",
	"/", "./apps/x", ".x/", "--save", "-d", "-U", "--", "---x", "-1", "-", "--1", "5432", "0644", "08", "1", "YES", "yES", "No", "~x",
	int64(0), int64(-3), int64(12345678901), true, false, nil, 1.5, -0.25, 1e-7, 2.5e+21,
}

// randomDocs generates n documents from scalars near the edges of scalarStyle and the given
// keys (a fixed seed: the same documents every run).
func randomDocs(n int, keys []string, seed uint64) []Object {
	rng := rand.New(rand.NewPCG(seed, 2))
	var gen func(depth int) any
	gen = func(depth int) any {
		switch r := rng.IntN(10); {
		case depth < 4 && r < 3:
			m := map[string]any{}
			for range rng.IntN(5) {
				m[keys[rng.IntN(len(keys))]] = gen(depth + 1)
			}
			return m
		case depth < 4 && r < 5:
			var s []any
			for range rng.IntN(4) {
				s = append(s, gen(depth+1))
			}
			if s == nil {
				s = []any{}
			}
			return s
		default:
			return randomScalars[rng.IntN(len(randomScalars))]
		}
	}
	out := make([]Object, n)
	for i := range out {
		doc := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}}
		for range 1 + rng.IntN(4) {
			doc[keys[rng.IntN(len(keys))]] = gen(0)
		}
		out[i] = Object{Doc: doc, Source: "random"}
	}
	return out
}

// consistentKeys are keys on which yaml/v2's order is a strict order and CompareKeys agrees
// with it.
var consistentKeys = []string{"a", "b", "a10", "a9", "a09", "a010", "B", "_", "-", "1", "10", "2", "é", "z", "name",
	"app.kubernetes.io/name", "x y", "yes", "", "0a", "DB_HOST", "DB2", "http", "8080", "port-80", "v1beta1", "v1"}

// TestMarshalRandomMatchesSigsYAML compares Marshal with sigs.k8s.io/yaml on generated
// documents.
func TestMarshalRandomMatchesSigsYAML(t *testing.T) {
	for i, o := range randomDocs(3000, consistentKeys, 1) {
		want := sigsMarshal(t, o)
		got, err := Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want, got) {
			t.Fatalf("document %d: Marshal differs from sigs.k8s.io/yaml:\nwant:\n%s\ngot:\n%s", i, want, got)
		}
	}
}

// cyclicKeys are keys on which yaml/v2's order is cyclic: a1b < a9 < a10 < a1b.
var cyclicKeys = []string{"a1b", "a9", "a10", "a01b", "b", "a12x", "a123", "x1y2", "x01y1", "1a", "01", "1"}

// TestMarshalPathsAgree: the direct writer, the yaml/v2 path and the JSON path give the same
// bytes, with keys yaml/v2 cannot order too.
func TestMarshalPathsAgree(t *testing.T) {
	keys := append(slices.Clone(consistentKeys), cyclicKeys...)
	for i, o := range randomDocs(3000, keys, 7) {
		raw, err := json.Marshal(o.Doc)
		if err != nil {
			t.Fatal(err)
		}
		want, err := encodeJSON(raw)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want, got) {
			t.Fatalf("document %d: Marshal differs from the JSON path:\nwant:\n%s\ngot:\n%s", i, want, got)
		}
	}
}

// TestMarshalValuePathsAgree: MarshalValue's direct writer gives the bytes of the JSON path
// (yaml/v2 after reading the numbers' JSON text), numbers included.
func TestMarshalValuePathsAgree(t *testing.T) {
	keys := append(slices.Clone(consistentKeys), cyclicKeys...)
	values := []any{}
	for _, o := range randomDocs(3000, keys, 11) {
		values = append(values, o.Doc)
	}
	values = append(values,
		map[string]any{"zero": 0, "neg": -7, "negzero": math.Copysign(0, -1), "max": int64(math.MaxInt64),
			"min": int64(math.MinInt64), "big": uint64(math.MaxUint64), "f": 2.5, "e": 1e21, "i": 3.0},
		map[string]any{"n": json.Number("-0"), "m": json.Number("12")},
		map[string]any{}, struct{}{},
		struct {
			A int     `json:"a"`
			B []int   `json:"b"`
			C float64 `json:"c,omitempty"`
		}{A: -3, B: []int{0, 1, 9223372036854775807}},
	)
	for i, v := range values {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		want, err := encodeJSON(raw)
		if err != nil {
			t.Fatal(err)
		}
		got, err := MarshalValue(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want, got) {
			t.Fatalf("value %d: MarshalValue differs from the JSON path:\nwant:\n%s\ngot:\n%s", i, want, got)
		}
	}
}

func TestCompareKeysIsATotalOrder(t *testing.T) {
	keys := append(slices.Clone(consistentKeys), cyclicKeys...)
	keys = append(keys, "a\xffb", "a\xfeb", "a١", "A", "ab", "a_b", "a-b", "a0", "a00", "a000001", "a99999999999999999999999")
	for _, a := range keys {
		for _, b := range keys {
			ab, ba := CompareKeys(a, b), CompareKeys(b, a)
			if ab != -ba || (ab == 0) != (a == b) {
				t.Fatalf("CompareKeys(%q, %q) = %d, reverse %d", a, b, ab, ba)
			}
			for _, c := range keys {
				if ab < 0 && CompareKeys(b, c) < 0 && CompareKeys(a, c) >= 0 {
					t.Fatalf("not transitive: %q < %q < %q but not %q < %q", a, b, c, a, c)
				}
			}
		}
	}
	sorted := slices.Clone(cyclicKeys)
	slices.SortFunc(sorted, CompareKeys)
	want := []string{"1", "1a", "01", "a1b", "a01b", "a9", "a10", "a12x", "a123", "b", "x1y2", "x01y1"}
	if !slices.Equal(sorted, want) {
		t.Errorf("order %q, want %q", sorted, want)
	}
}

// TestMarshalDeterministic: keys yaml/v2 cannot order, maps built in different insertion
// orders, every encoding path, many runs: one output.
func TestMarshalDeterministic(t *testing.T) {
	values := map[string]any{
		"direct": "v",                       // the direct writer
		"yamlv2": "a b",                     // a scalar left to yaml/v2
		"json":   3.0,                       // an integral float: the JSON path
		"other":  map[string]string{"": ""}, // not JSON-compatible: the JSON path
	}
	for _, path := range slices.Sorted(func(yield func(string) bool) {
		for k := range values {
			if !yield(k) {
				return
			}
		}
	}) {
		t.Run(path, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			var first []byte
			for i := range 200 {
				order := slices.Clone(cyclicKeys)
				rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				data := map[string]any{}
				for _, k := range order {
					data[k] = values[path]
				}
				nested := map[string]any{}
				for _, k := range order {
					nested[k] = map[string]any{"a1b": int64(1), "a10": []any{data}, "a9": "x"}
				}
				got, err := Marshal(Object{Doc: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
					"metadata": map[string]any{"name": "c"}, "data": data, "nested": nested}})
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					first = got
				} else if !bytes.Equal(first, got) {
					t.Fatalf("run %d differs:\n%s\nvs\n%s", i, first, got)
				}
			}
		})
	}
	type rec struct {
		M map[string]int `json:"m"`
	}
	var first []byte
	for i := range 200 {
		m := map[string]int{}
		for j, k := range cyclicKeys {
			m[k] = j
		}
		got, err := MarshalValue(rec{M: m})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = got
		} else if !bytes.Equal(first, got) {
			t.Fatalf("MarshalValue run %d differs:\n%s\nvs\n%s", i, first, got)
		}
	}
	want := "m:\n  \"1\": 11\n  1a: 9\n  \"01\": 10\n  a1b: 0\n  a01b: 3\n  a9: 1\n  a10: 2\n  a12x: 5\n  a123: 6\n  b: 4\n  x1y2: 7\n  x01y1: 8\n"
	if string(first) != want {
		t.Errorf("MarshalValue:\n%s\nwant:\n%s", first, want)
	}
}
