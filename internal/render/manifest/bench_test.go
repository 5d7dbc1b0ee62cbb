package manifest

import (
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// benchDeployment is a Deployment as convert makes them: labels, a container with ports,
// variables, probes and a volume.
const benchDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-0001
  namespace: bench
  labels:
    app.kubernetes.io/name: svc-0001
    app.kubernetes.io/managed-by: scorebot
  annotations:
    scorebot.dev/workload: svc-0001
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/instance: svc-0001-8f1c2a
  template:
    metadata:
      labels:
        app.kubernetes.io/instance: svc-0001-8f1c2a
        app.kubernetes.io/name: svc-0001
    spec:
      containers:
      - name: main
        image: ghcr.io/acme/svc:1.1.0
        env:
        - name: DB_HOST
          value: pg-svc-0001-1a2b3c
        - name: DB_PORT
          value: "5432"
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef:
              name: pg-svc-0001-1a2b3c
              key: password
        - name: PUBLIC_URL
          value: https://svc-0001.bench.example.com/
        ports:
        - containerPort: 8080
          name: http
          protocol: TCP
        volumeMounts:
        - mountPath: /data
          name: data
          readOnly: false
      volumes:
      - name: data
        persistentVolumeClaim:
          claimName: data-svc-0001
`

// BenchmarkMarshal encodes one typical object, and a kustomization.yaml listing the files
// of 1,000 workloads (MarshalValue).
func BenchmarkMarshal(b *testing.B) {
	objs, err := Parse([]byte(benchDeployment), "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Deployment", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Marshal(objs[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	type kustomization struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	k := kustomization{APIVersion: "kustomize.config.k8s.io/v1beta1", Kind: "Kustomization"}
	for i := range 7000 {
		k.Resources = append(k.Resources, fmt.Sprintf("deployment-svc-%04d.yaml", i))
	}
	b.Run("Value", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := MarshalValue(k); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFromTyped turns a typed Deployment (benchDeployment) into an Object, as convert
// does for every workload.
func BenchmarkFromTyped(b *testing.B) {
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict([]byte(benchDeployment), &d); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromTyped(&d, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeStrict checks one Deployment (benchDeployment) against its type, as render
// does for every object a definition made.
func BenchmarkDecodeStrict(b *testing.B) {
	objs, err := Parse([]byte(benchDeployment), "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeStrict(objs[0]); err != nil {
			b.Fatal(err)
		}
	}
}
