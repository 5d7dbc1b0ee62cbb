package manifest

import (
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestFromTypedDropsNoise(t *testing.T) {
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "c", Image: "nginx"}},
					Volumes:    []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				},
			},
		},
	}
	o, err := FromTyped(d, "test")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, noise := range []string{"creationTimestamp", "status", "resources: {}", "strategy: {}"} {
		if strings.Contains(got, noise) {
			t.Errorf("output contains %q:\n%s", noise, got)
		}
	}
	if !strings.Contains(got, "emptyDir: {}") {
		t.Errorf("emptyDir: {} was dropped:\n%s", got)
	}
	if !strings.HasSuffix(got, "\n") {
		t.Error("no trailing newline")
	}
	if err := DecodeStrict(o); err != nil {
		t.Fatal(err)
	}
	if o.Namespace() != "ns" || o.Name() != "web" || o.Kind() != "Deployment" {
		t.Errorf("accessors: %s %s %s", o.Namespace(), o.Name(), o.Kind())
	}
}

func TestFromTypedNeedsIdentity(t *testing.T) {
	_, err := FromTyped(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, "src")
	if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "src") {
		t.Fatalf("err = %v", err)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantNames []string
		wantErr   string
	}{
		{name: "stream", in: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n", wantNames: []string{"a", "b"}},
		{name: "list", in: "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n- {apiVersion: v1, kind: Secret, metadata: {name: d}}\n", wantNames: []string{"c", "d"}},
		{name: "json", in: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"j"}}`, wantNames: []string{"j"}},
		{name: "empty", in: "", wantNames: nil},
		{name: "no name", in: "apiVersion: v1\nkind: ConfigMap\n", wantErr: "metadata.name"},
		{name: "scalar", in: "hello\n", wantErr: "want a Kubernetes object"},
		{name: "bad yaml", in: "a: [\n", wantErr: "document 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := Parse([]byte(tt.in), "def x (rules/x.yaml)")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "rules/x.yaml") {
					t.Fatalf("err = %v, want containing %q and the source", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, o := range objs {
				names = append(names, o.Name())
			}
			if strings.Join(names, ",") != strings.Join(tt.wantNames, ",") {
				t.Errorf("names = %v, want %v", names, tt.wantNames)
			}
		})
	}
}

func TestParseKeepsIntegers(t *testing.T) {
	objs, err := Parse([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {replicas: 3}\n"), "s")
	if err != nil {
		t.Fatal(err)
	}
	if r := objs[0].Doc["spec"].(map[string]any)["replicas"]; r != int64(3) {
		t.Errorf("replicas = %#v, want int64(3)", r)
	}
}

func TestSort(t *testing.T) {
	mk := func(kind, ns, name string) Object {
		return Object{Doc: map[string]any{"apiVersion": "v1", "kind": kind, "metadata": map[string]any{"name": name, "namespace": ns}}}
	}
	objs := []Object{
		mk("Deployment", "b", "x"), mk("Zebra", "", "z"), mk("Service", "a", "s"), mk("Alpaca", "", "a"),
		mk("Namespace", "", "b"), mk("Namespace", "", "a"), mk("Deployment", "a", "y"), mk("ConfigMap", "a", "c"),
	}
	Sort(objs)
	var got []string
	for _, o := range objs {
		got = append(got, o.Kind()+"/"+o.Namespace()+"/"+o.Name())
	}
	want := "Namespace//a Namespace//b ConfigMap/a/c Service/a/s Deployment/a/y Deployment/b/x Alpaca//a Zebra//z"
	if strings.Join(got, " ") != want {
		t.Errorf("order = %s\nwant    %s", strings.Join(got, " "), want)
	}
}

func TestDecodeStrict(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{name: "deployment ok", in: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {selector: {matchLabels: {a: b}}, template: {spec: {containers: [{name: c, image: i}]}}}\n"},
		{name: "unknown field", in: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {replica: 3}\n", wantErr: `unknown field "spec.replica"`},
		{name: "wrong type", in: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {a: [1]}\n", wantErr: "ConfigMap a"},
		{name: "typo kind", in: "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: a}\n", wantErr: "not a kind of apps/v1"},
		{name: "unchecked version", in: "apiVersion: apps/v1beta9\nkind: Deployment\nmetadata: {name: a}\n", wantErr: "apps/v1"},
		{name: "external secret kept", in: "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: a}\nspec: {anything: 1}\n"},
		{name: "httproute kept", in: "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: a}\nspec: {whatever: true}\n"},
		{name: "flux kustomization", in: "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: a, namespace: flux-system}\nspec: {interval: 10m, path: ./x, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}\n"},
		{name: "flux kustomization bad", in: "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: a}\nspec: {pruen: true}\n", wantErr: "spec.pruen"},
		{name: "flux gitrepository", in: "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: a}\nspec: {interval: 1m, url: 'https://x', ref: {branch: main}}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := Parse([]byte(tt.in), "src.yaml")
			if err != nil {
				t.Fatal(err)
			}
			err = DecodeStrict(objs[0])
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "src.yaml") || !errors.Is(err, ErrStrict) {
				t.Fatalf("err = %v, want ErrStrict containing %q and the source", err, tt.wantErr)
			}
		})
	}
}

func TestCheckNoPlaintextSecret(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		refused bool
	}{
		{name: "data", in: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: aHVudGVyMg==}\n", refused: true},
		{name: "stringData", in: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: hunter2}\n", refused: true},
		{name: "empty secret", in: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: Opaque\n"},
		{name: "sops", in: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: 'ENC[AES256_GCM,data:abc,type:str]'}\nsops: {mac: x}\n"},
		{name: "sops with a plaintext value", in: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: 'ENC[x]', b: cGxhaW4=}\nsops: {mac: x}\n", refused: true},
		{name: "ENC without sops", in: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: 'ENC[x]'}\n", refused: true},
		{name: "configmap", in: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata: {a: b}\n"},
		{name: "external secret", in: "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: s}\nspec: {data: [{secretKey: a}]}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := Parse([]byte(tt.in), "definition pg (rules/pg.yaml)")
			if err != nil {
				t.Fatal(err)
			}
			err = CheckNoPlaintextSecret(objs[0])
			if !tt.refused {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrPlaintextSecret) {
				t.Fatalf("err = %v, want ErrPlaintextSecret", err)
			}
			msg := err.Error()
			for _, want := range []string{"rules/pg.yaml", "ExternalSecret", "SOPS"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message lacks %q: %s", want, msg)
				}
			}
			for _, leak := range []string{"hunter2", "aHVudGVyMg==", "cGxhaW4="} {
				if strings.Contains(msg, leak) {
					t.Errorf("message leaks %q: %s", leak, msg)
				}
			}
		})
	}
}

func TestRedact(t *testing.T) {
	objs, err := Parse([]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: aHVudGVyMg==}\nstringData: {b: hunter2}\n"), "s")
	if err != nil {
		t.Fatal(err)
	}
	r := Redact(objs[0])
	b, _ := Marshal(r)
	if strings.Contains(string(b), "hunter2") || strings.Contains(string(b), "aHVudGVyMg==") || strings.Count(string(b), "<redacted>") != 2 {
		t.Errorf("redacted:\n%s", b)
	}
	if objs[0].Doc["stringData"].(map[string]any)["b"] != "hunter2" {
		t.Error("Redact changed the original")
	}
}
