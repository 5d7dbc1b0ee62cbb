package fastyaml

import "testing"

// benchDocs are what Decode reads most: a definition template's output (a StatefulSet, as
// examples/rules' postgres makes) and a Score file.
var benchDocs = map[string]string{
	"template": `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: pg-svc-0001-1a2b3c
  labels:
    app.kubernetes.io/name: pg-svc-0001-1a2b3c
    app.kubernetes.io/component: postgres
spec:
  serviceName: pg-svc-0001-1a2b3c
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: pg-svc-0001-1a2b3c
  template:
    metadata:
      labels:
        app.kubernetes.io/name: pg-svc-0001-1a2b3c
    spec:
      containers:
        - name: postgres
          image: "postgres:17-alpine"
          args: ["-c", "max_connections=50"]
          ports:
            - containerPort: 5432
              name: postgres
          env:
            - name: POSTGRES_DB
              value: "app"
            - name: POSTGRES_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: pg-svc-0001-1a2b3c
                  key: password
          volumeMounts:
            - name: data
              mountPath: /var/lib/postgresql/data
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: [ReadWriteOnce]
        resources:
          requests:
            storage: 1Gi
`,
	"score": `apiVersion: score.dev/v1b1
metadata:
  name: svc-0001
service:
  ports:
    http:
      port: 80
      targetPort: 8080
containers:
  main:
    image: ghcr.io/acme/svc:1.1.0
    variables:
      DB_HOST: ${resources.db.host}
      DB_PORT: ${resources.db.port}
      REDIS_ADDR: ${resources.cache.host}:${resources.cache.port}
      PUBLIC_URL: https://${resources.dns.host}/
    volumes:
      /data:
        source: ${resources.data}
resources:
  db:
    type: postgres
  cache:
    type: redis
    id: shared-cache
  route:
    type: route
    params:
      host: ${resources.dns.host}
      path: /
      port: 80
`,
}

func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"template", "score"} {
		doc := []byte(benchDocs[name])
		if _, ok := Decode(doc); !ok {
			b.Fatalf("%s: not on the fast path", name)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Decode(doc)
			}
		})
	}
}
