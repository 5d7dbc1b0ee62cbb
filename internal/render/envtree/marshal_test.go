package envtree

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/scorebot/scorebot/internal/render/manifest"
)

func TestMarshalMatchesManifest(t *testing.T) {
	docs := []string{
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"n","labels":{"a10":"x","a9":"y","A":"z","_":"w"}},
		  "data":{"multi":"line one\nline two\n","trailing":"no newline\nat end","yes":"yes","no":"off","num":"0644","float":"1.0","null":"null",
		  "colon":"a: b","hash":"# not a comment","empty":"","space":" lead","unicode":"héllo ✓","tab":"a\tb","quote":"'\"","dash":"- x","star":"*x","amp":"&x","braces":"{a}","date":"2001-12-14"}}`,
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":3,"minReadySeconds":0,"x":1.5,"big":12345678901,"f":3.0,"tiny":1e-7,"huge":1e21,
		  "neg":-2,"t":true,"n":null,"list":[],"obj":{},"nested":[[1,2],{"a":[{"b":null}]}],"template":{"spec":{"containers":[{"name":"m","image":"nginx","args":["--a=1","$(VAR)","${x}"]}]}}}}`,
	}
	for _, d := range docs {
		objs, err := manifest.Parse([]byte(d), "test")
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			want, err := manifest.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(want, got) {
				t.Errorf("marshal differs from manifest.Marshal:\nwant:\n%s\ngot:\n%s", want, got)
			}
		}
	}
}

// TestMarshalRandomDocs compares marshal with manifest.Marshal on generated documents built
// from scalars near the edges of scalarStyle (a fixed seed: the same documents every run).
func TestMarshalRandomDocs(t *testing.T) {
	scalars := []any{
		"", "a", "y", "Yes", "no", "ON", "null", "Null", "~", "true", "x1", "1x", "128Mi", "100m", "0.5", "1e3", "1E3",
		"0x1F", "0o17", "0b101", "1_000", "12:30", "1:20:30", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "1d", "9z",
		"abc:", "a:b", "http://x.y/z", "a=b", "a+b", "@x", "-x", "x-", "_x", ".x", "/x", "a/b.c_d-e", "in", "inf", ".inf",
		"nan", "NaN", "a b", "a #b", "a\nb", "a\n", "é", "a\tb", "'q'", "\"q\"", "a,b", "[x]", "{x}", "x*", "&x", "!x",
		"%x", "`x", "|x", ">x", "#x", "?x", "a?", "0c21646d-2ff5", "0", "00", "07", "1.", ".5", "+1", "-1", "+x",
		"ghcr.io/acme/svc:1.0.0", "redis-shared:6379", "${x}", "$(X)", "a_b", "A_B", "k8s.io/name", "a.b/c-d",
		"/", "./apps/x", ".x/", "--save", "-d", "-U", "--", "---x", "-1", "-", "--1", "5432", "0644", "08", "1", "YES", "yES", "No", "~x",
		int64(0), int64(-3), int64(12345678901), true, false, nil, 1.5, -0.25, 1e-7, 2.5e+21,
	}
	keys := []string{"a", "b", "a10", "a9", "a09", "a010", "B", "_", "-", "1", "10", "2", "é", "z", "name", "app.kubernetes.io/name", "x y", "yes", "", "0a"}
	rng := rand.New(rand.NewPCG(1, 2))
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
			return scalars[rng.IntN(len(scalars))]
		}
	}
	for i := range 3000 {
		doc := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}}
		for range 1 + rng.IntN(4) {
			doc[keys[rng.IntN(len(keys))]] = gen(0)
		}
		o := manifest.Object{Doc: doc, Source: "random"}
		want, err := manifest.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		got, err := marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want, got) {
			t.Fatalf("document %d: marshal differs from manifest.Marshal:\nwant:\n%s\ngot:\n%s", i, want, got)
		}
	}
}

// TestMarshalDeterministicKeys: for key sets on which yaml/v2's order is not a strict order
// (so manifest.Marshal follows Go's random map order), marshal still gives one output.
func TestMarshalDeterministicKeys(t *testing.T) {
	for _, keys := range [][]string{{"a1b", "a9", "a10", "a01b", "b"}, {"a1b", "a9", "a10", "a01b", "x y", "b"}} {
		checkDeterministic(t, keys)
	}
}

func checkDeterministic(t *testing.T, keys []string) {
	var first []byte
	for i := range 50 {
		data := map[string]any{}
		for _, k := range keys {
			data[k] = "v"
		}
		o := manifest.Object{Doc: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}, "data": data}}
		got, err := marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = got
		} else if !bytes.Equal(first, got) {
			t.Fatalf("run %d differs:\n%s\nvs\n%s", i, first, got)
		}
	}
}

func TestSortObjectsMatchesManifestSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	kinds := []string{"Deployment", "Service", "Namespace", "ConfigMap", "Widget", "Gadget", "HTTPRoute", "Kustomization", "Secret"}
	names := []string{"a", "b", "c"}
	var objs []manifest.Object
	for i := range 300 {
		objs = append(objs, manifest.Object{Source: fmt.Sprint(i), Doc: map[string]any{
			"apiVersion": []string{"v1", "apps/v1", "x/v1"}[rng.IntN(3)],
			"kind":       kinds[rng.IntN(len(kinds))],
			"metadata":   map[string]any{"name": names[rng.IntN(3)], "namespace": names[rng.IntN(3)]},
		}})
	}
	want := slices.Clone(objs)
	manifest.Sort(want)
	got := slices.Clone(objs)
	SortObjects(got)
	for i := range want {
		if want[i].Source != got[i].Source {
			t.Fatalf("position %d: manifest.Sort has %s, SortObjects %s", i, want[i].Source, got[i].Source)
		}
	}
}
