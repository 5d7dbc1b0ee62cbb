package manifest

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
)

// kjsonDoc is what FromTyped decoded with before decodeMarshaled: the reference.
func kjsonDoc(raw []byte) (map[string]any, error) {
	var doc map[string]any
	err := kjson.UnmarshalCaseSensitivePreserveInts(raw, &doc)
	return doc, err
}

// TestDecodeMarshaledMatchesKJSON: on what encoding/json writes for typed objects and
// generated documents, decodeMarshaled reads everything and gives kjson's document.
func TestDecodeMarshaledMatchesKJSON(t *testing.T) {
	replicas := int32(3)
	values := []any{
		&appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Name: "d", Labels: map[string]string{"a<b": "x&y>z", "u": "héllo ✓ 🔐\u2028\u2029"}},
			Spec: appsv1.DeploymentSpec{
				Replicas: &replicas,
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "m", Image: "nginx", Args: []string{"a\tb\nc\"d\\e/f\x00\x01\x1f\x7f", ""},
					Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
						corev1.ResourceMemory: resource.MustParse("128Mi"), corev1.ResourceCPU: resource.MustParse("100m")}},
				}}}},
			},
		},
		&corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: "s", CreationTimestamp: metav1.NewTime(time.Date(2026, 11, 24, 1, 2, 3, 0, time.UTC))},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, TargetPort: intstr.FromString("http")},
				{Name: "n", Port: 81, TargetPort: intstr.FromInt32(8081)},
			}},
		},
		&corev1.Secret{Data: map[string][]byte{"k": {0, 1, 2, 255}}},
		map[string]any{"ints": []any{0, -1, int64(math.MaxInt64), int64(math.MinInt64), uint64(math.MaxUint64)},
			"floats": []any{1.5, -0.25, 1e-7, 1e21, 3.0, math.Copysign(0, -1), math.MaxFloat64, math.SmallestNonzeroFloat64},
			"empty":  map[string]any{}, "none": []any{}, "null": nil, "t": true, "f": false, "bad": "a\xffb"},
	}
	keys := append(append([]string{}, consistentKeys...), cyclicKeys...)
	for _, o := range randomDocs(2000, keys, 13) {
		values = append(values, o.Doc)
	}
	for i, v := range values {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		want, err := kjsonDoc(raw)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := decodeMarshaled(raw, nil)
		if !ok {
			t.Fatalf("value %d: decodeMarshaled declines %s", i, raw)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("value %d: decodeMarshaled(%s) =\n%#v\nkjson gives\n%#v", i, raw, got, want)
		}
	}
}

// FuzzDecodeMarshaled: whatever decodeMarshaled accepts, kjson decodes to the same document.
func FuzzDecodeMarshaled(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1,"b":[1.5,-0,1e3,"x\u00e9\n"],"c":{"d":null,"e":true,"f":false}}`,
		`{"a":"\ud83d\ude00"}`, `{"a":1,"a":2}`, `{"a":{"x":1},"a":{"y":[2]}}`, `{"a":01}`, `{"a":"b" }`, `[1]`, `null`,
		`{"big":99999999999999999999,"huge":1e400,"neg":-9223372036854775808}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := decodeMarshaled(raw, nil)
		if !ok {
			return
		}
		want, err := kjsonDoc(raw)
		if err != nil {
			t.Fatalf("decodeMarshaled accepts %q, kjson refuses it: %v", raw, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeMarshaled(%q) = %#v, kjson gives %#v", raw, got, want)
		}
	})
}

// TestFromTypedPathsAgree: dropping the noise as decodeMarshaled finishes each map gives the
// document that kjson and the dropNoise walk give, on generated documents full of the keys
// the noise rules look at.
func TestFromTypedPathsAgree(t *testing.T) {
	keys := []string{"metadata", "creationTimestamp", "status", "resources", "strategy", "updateStrategy", "a", "emptyDir"}
	scalars := []any{nil, "", "x", int64(0), int64(1), false, true, 0.0, 1.5}
	rng := rand.New(rand.NewPCG(3, 4))
	var gen func(depth int) any
	gen = func(depth int) any {
		switch r := rng.IntN(10); {
		case depth < 5 && r < 5:
			m := map[string]any{}
			for range rng.IntN(4) {
				m[keys[rng.IntN(len(keys))]] = gen(depth + 1)
			}
			return m
		case depth < 5 && r < 6:
			s := []any{}
			for range rng.IntN(3) {
				s = append(s, gen(depth+1))
			}
			return s
		}
		return scalars[rng.IntN(len(scalars))]
	}
	for range 20000 {
		m, ok := gen(0).(map[string]any)
		if !ok {
			continue
		}
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		want, err := kjsonDoc(raw)
		if err != nil {
			t.Fatal(err)
		}
		dropNoise(want, true)
		got, ok := decodeMarshaled(raw, dropMapNoise)
		if !ok {
			t.Fatalf("decodeMarshaled declines %s", raw)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: decoding drops the noise to\n%#v\nthe walk to\n%#v", raw, got, want)
		}
	}
}
