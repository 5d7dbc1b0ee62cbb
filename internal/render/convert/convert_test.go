package convert

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/scorebot/scorebot/internal/render/manifest"
	"github.com/scorebot/scorebot/internal/render/rules"
	"github.com/scorebot/scorebot/internal/render/secretref"
)

const header = "apiVersion: score.dev/v1b1\nmetadata:\n  name: web\n"

var (
	pgPassword = secretref.Encode("pg-creds", "password")
	pgUser     = secretref.Encode("pg-creds", "username")
)

func input(t *testing.T, doc string, outputs map[string]map[string]any, adjust ...*rules.WorkloadDefinition) Input {
	t.Helper()
	return Input{Name: "web", File: "apps/web/score.yaml", Spec: mustParse(t, header+doc), AppID: "shop", Env: "dev",
		Namespace: "shop-dev", Outputs: outputs, Adjust: adjust}
}

// convertOK converts and runs the checks every object must pass.
func convertOK(t *testing.T, in Input) []manifest.Object {
	t.Helper()
	objs, err := Workload(in)
	if err != nil {
		t.Fatal(err)
	}
	checkObjects(t, objs, in.Namespace)
	return objs
}

func find(t *testing.T, objs []manifest.Object, kind, name string, into any) {
	t.Helper()
	for _, o := range objs {
		if o.Kind() == kind && (name == "" || o.Name() == name) {
			b, _ := json.Marshal(o.Doc)
			if err := json.Unmarshal(b, into); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no %s %s among %d objects", kind, name, len(objs))
}

func podOf(t *testing.T, objs []manifest.Object) corev1.PodSpec {
	t.Helper()
	var d appsv1.Deployment
	find(t, objs, "Deployment", "web", &d)
	return d.Spec.Template.Spec
}

// wantErr checks that err wraps ErrInvalid and mentions each of the given parts.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", parts)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error does not wrap ErrInvalid: %v", err)
	}
	if strings.HasSuffix(err.Error(), ErrInvalid.Error()) {
		t.Errorf("error ends with the sentinel's text instead of the fix: %v", err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error lacks %q:\n%v", p, err)
		}
	}
}

func TestVariables(t *testing.T) {
	outputs := map[string]map[string]any{"db": {"host": "pg.internal", "port": int64(5432), "password": pgPassword, "username": pgUser,
		"tags": map[string]any{"b": "2", "a": "1"}}}
	tests := []struct {
		name  string
		value string
		want  []corev1.EnvVar
		err   []string
	}{
		{name: "plain", value: "hello", want: []corev1.EnvVar{{Name: "V", Value: "hello"}}},
		{name: "output", value: "${resources.db.host}:${resources.db.port}", want: []corev1.EnvVar{{Name: "V", Value: "pg.internal:5432"}}},
		{name: "metadata", value: "${metadata.name}", want: []corev1.EnvVar{{Name: "V", Value: "web"}}},
		{name: "structured output is JSON with sorted keys", value: "${resources.db.tags}", want: []corev1.EnvVar{{Name: "V", Value: `{"a":"1","b":"2"}`}}},
		{name: "score escape", value: "$${NOT} $$x", want: []corev1.EnvVar{{Name: "V", Value: "${NOT} $x"}}},
		{name: "kubernetes escape", value: "a $(B) c", want: []corev1.EnvVar{{Name: "V", Value: "a $$(B) c"}}},
		{name: "whole secret", value: "${resources.db.password}", want: []corev1.EnvVar{{Name: "V", ValueFrom: secretKeyRef(secretref.Ref{Name: "pg-creds", Key: "password"})}}},
		{
			name:  "mixed secret",
			value: "postgres://${resources.db.username}:${resources.db.password}@${resources.db.host}/$(x)?p=${resources.db.password}",
			want: []corev1.EnvVar{
				{Name: "V_SCOREBOT_1", ValueFrom: secretKeyRef(secretref.Ref{Name: "pg-creds", Key: "username"})},
				{Name: "V_SCOREBOT_2", ValueFrom: secretKeyRef(secretref.Ref{Name: "pg-creds", Key: "password"})},
				{Name: "V", Value: "postgres://$(V_SCOREBOT_1):$(V_SCOREBOT_2)@pg.internal/$$(x)?p=$(V_SCOREBOT_2)"},
			},
		},
		{name: "two secrets, no text", value: "${resources.db.username}${resources.db.password}", want: []corev1.EnvVar{
			{Name: "V_SCOREBOT_1", ValueFrom: secretKeyRef(secretref.Ref{Name: "pg-creds", Key: "username"})},
			{Name: "V_SCOREBOT_2", ValueFrom: secretKeyRef(secretref.Ref{Name: "pg-creds", Key: "password"})},
			{Name: "V", Value: "$(V_SCOREBOT_1)$(V_SCOREBOT_2)"},
		}},
		{name: "unknown output", value: "${resources.db.hots}", err: []string{"apps/web/score.yaml", "containers.app.variables.V", `no output "hots"`, "host, password", "$$"}},
		{name: "unknown metadata", value: "${metadata.team}", err: []string{"containers.app.variables.V", `no "team"`}},
		{name: "resource without output", value: "${resources.db}", err: []string{"names the resource", "${resources.db.<output>}"}},
		{name: "hand-written marker", value: "🔐💬broken", err: []string{"containers.app.variables.V", "unterminated"}},
		{name: "invalid secret name", value: secretref.Encode("Bad!", "k"), err: []string{"not a valid name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "containers:\n  app:\n    image: nginx\n    variables:\n      V: '" + strings.ReplaceAll(tt.value, "'", "''") + "'\nresources:\n  db:\n    type: postgres\n"
			in := input(t, doc, outputs)
			if tt.err != nil {
				_, err := Workload(in)
				wantErr(t, err, tt.err...)
				return
			}
			pod := podOf(t, convertOK(t, in))
			if got := pod.Containers[0].Env; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("env =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestVariablesOrderAndHelperClash(t *testing.T) {
	outputs := map[string]map[string]any{"db": {"password": pgPassword}}
	doc := "containers:\n  app:\n    image: nginx\n    variables:\n      Z: z\n      DSN: 'u:${resources.db.password}'\n      A: a\nresources:\n  db:\n    type: postgres\n"
	pod := podOf(t, convertOK(t, input(t, doc, outputs)))
	var names []string
	for _, e := range pod.Containers[0].Env {
		names = append(names, e.Name)
	}
	if got := strings.Join(names, " "); got != "A DSN_SCOREBOT_1 DSN Z" {
		t.Errorf("order = %s", got)
	}
	clash := "containers:\n  app:\n    image: nginx\n    variables:\n      DSN: 'u:${resources.db.password}'\n      DSN_SCOREBOT_1: x\nresources:\n  db:\n    type: postgres\n"
	_, err := Workload(input(t, clash, outputs))
	wantErr(t, err, "DSN_SCOREBOT_1", "rename")
}

func TestCommandLine(t *testing.T) {
	outputs := map[string]map[string]any{"db": {"host": "h", "password": pgPassword}}
	doc := "containers:\n  app:\n    image: nginx\n    command: [sh, -c]\n    args: ['echo ${resources.db.host} $$HOME $(date)']\nresources:\n  db:\n    type: postgres\n"
	pod := podOf(t, convertOK(t, input(t, doc, outputs)))
	if got := pod.Containers[0].Args; !reflect.DeepEqual(got, []string{"echo h $$HOME $$(date)"}) {
		t.Errorf("args = %q", got)
	}
	bad := "containers:\n  app:\n    image: nginx\n    args: ['--password=${resources.db.password}']\nresources:\n  db:\n    type: postgres\n"
	_, err := Workload(input(t, bad, outputs))
	wantErr(t, err, "containers.app.args[0]", "variable")
}

func TestFiles(t *testing.T) {
	outputs := map[string]map[string]any{"db": {"host": "pg", "password": pgPassword, "cert": secretref.Encode("tls", "ca.crt")}}
	t.Run("content, noExpand, binary, mode", func(t *testing.T) {
		doc := `containers:
  app:
    image: nginx
    files:
      /etc/app/a.conf:
        content: "host=${resources.db.host}"
        mode: "0600"
      /etc/app/raw.conf:
        content: "keep ${resources.db.host}"
        noExpand: true
      /bin/blob:
        binaryContent: aGVsbG8=
resources:
  db:
    type: postgres
`
		objs := convertOK(t, input(t, doc, outputs))
		contents := map[string]string{}
		for _, o := range objs {
			if o.Kind() != "ConfigMap" {
				continue
			}
			var cm corev1.ConfigMap
			find(t, objs, "ConfigMap", o.Name(), &cm)
			if !strings.HasPrefix(cm.Name, "web-app-file-") {
				t.Errorf("ConfigMap name %s", cm.Name)
			}
			if v, ok := cm.Data[fileKey]; ok {
				contents[cm.Name] = v
			} else {
				contents[cm.Name] = "binary:" + string(cm.BinaryData[fileKey])
			}
		}
		var got []string
		for _, k := range sortedKeys(contents) {
			got = append(got, contents[k])
		}
		want := []string{"binary:hello", "host=pg", "keep ${resources.db.host}"}
		if !sameSet(got, want) {
			t.Errorf("contents = %q, want %q", got, want)
		}
		pod := podOf(t, objs)
		mounts := pod.Containers[0].VolumeMounts
		if len(mounts) != 3 || mounts[0].MountPath != "/bin/blob" || mounts[0].SubPath != "blob" || !mounts[0].ReadOnly {
			t.Errorf("mounts = %+v", mounts)
		}
		var mode int32
		for _, v := range pod.Volumes {
			if v.ConfigMap != nil && v.ConfigMap.Items[0].Path == "a.conf" && v.ConfigMap.Items[0].Mode != nil {
				mode = *v.ConfigMap.Items[0].Mode
			}
		}
		if mode != 0o600 {
			t.Errorf("mode = %o, want 600", mode)
		}
	})
	t.Run("whole secret is a secret volume", func(t *testing.T) {
		doc := "containers:\n  app:\n    image: nginx\n    files:\n      /etc/tls/ca.crt:\n        content: ${resources.db.cert}\nresources:\n  db:\n    type: postgres\n"
		objs := convertOK(t, input(t, doc, outputs))
		for _, o := range objs {
			if o.Kind() == "ConfigMap" {
				t.Errorf("a secret file produced ConfigMap %s", o.Name())
			}
		}
		pod := podOf(t, objs)
		if len(pod.Volumes) != 1 || pod.Volumes[0].Secret == nil {
			t.Fatalf("volumes = %+v", pod.Volumes)
		}
		want := &corev1.SecretVolumeSource{SecretName: "tls", Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}
		if !reflect.DeepEqual(pod.Volumes[0].Secret, want) {
			t.Errorf("secret volume = %+v", pod.Volumes[0].Secret)
		}
	})
	for _, tt := range []struct{ name, file string }{
		{"mixed secret", "content: 'password=${resources.db.password}'"},
		{"bad base64", "binaryContent: '!!!'"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc := "containers:\n  app:\n    image: nginx\n    files:\n      /etc/app.conf:\n        " + tt.file + "\nresources:\n  db:\n    type: postgres\n"
			_, err := Workload(input(t, doc, outputs))
			wantErr(t, err, "apps/web/score.yaml", "containers.app.files./etc/app.conf")
		})
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestVolumes(t *testing.T) {
	doc := func(kind string) string {
		s := "containers:\n  app:\n    image: nginx\n    volumes:\n      /data:\n        source: ${resources.vol}\n        path: sub\n        readOnly: true\n" +
			"  side:\n    image: busybox\n    volumes:\n      /shared:\n        source: ${resources.vol}\nresources:\n  vol:\n    type: volume\n"
		if kind != "" {
			s = "  annotations:\n    k8s.score.dev/kind: " + kind + "\n" + s
		}
		return s
	}
	t.Run("source shared by two containers", func(t *testing.T) {
		pvc := map[string]map[string]any{"vol": {"source": map[string]any{"persistentVolumeClaim": map[string]any{"claimName": "data"}}}}
		pod := podOf(t, convertOK(t, input(t, doc(""), pvc)))
		if len(pod.Volumes) != 1 || pod.Volumes[0].Name != "vol-vol" || pod.Volumes[0].PersistentVolumeClaim.ClaimName != "data" {
			t.Fatalf("volumes = %+v", pod.Volumes)
		}
		want := corev1.VolumeMount{Name: "vol-vol", MountPath: "/data", SubPath: "sub", ReadOnly: true}
		if !reflect.DeepEqual(pod.Containers[0].VolumeMounts[0], want) {
			t.Errorf("mount = %+v", pod.Containers[0].VolumeMounts[0])
		}
	})
	t.Run("claimSpec in a StatefulSet", func(t *testing.T) {
		claim := map[string]map[string]any{"vol": {"claimSpec": map[string]any{"accessModes": []any{"ReadWriteOnce"},
			"resources": map[string]any{"requests": map[string]any{"storage": "1Gi"}}}}}
		objs := convertOK(t, input(t, doc("StatefulSet"), claim))
		var s appsv1.StatefulSet
		find(t, objs, "StatefulSet", "web", &s)
		if len(s.Spec.VolumeClaimTemplates) != 1 || s.Spec.VolumeClaimTemplates[0].Name != "vol-vol" || len(s.Spec.Template.Spec.Volumes) != 0 {
			t.Errorf("claims = %+v volumes = %+v", s.Spec.VolumeClaimTemplates, s.Spec.Template.Spec.Volumes)
		}
	})
	for _, tt := range []struct {
		name    string
		kind    string
		outputs map[string]any
		err     string
	}{
		{"unknown field in source", "", map[string]any{"source": map[string]any{"emptyDri": map[string]any{}}}, "emptyDri"},
		{"no source output", "", map[string]any{"path": "/x"}, "no `source` output"},
		{"claimSpec in a Deployment", "", map[string]any{"claimSpec": map[string]any{}}, "StatefulSet"},
		{"both", "StatefulSet", map[string]any{"claimSpec": map[string]any{}, "source": map[string]any{"emptyDir": map[string]any{}}}, "both"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Workload(input(t, doc(tt.kind), map[string]map[string]any{"vol": tt.outputs}))
			wantErr(t, err, "containers.app.volumes./data.source", tt.err)
		})
	}
	t.Run("literal source", func(t *testing.T) {
		d := "containers:\n  app:\n    image: nginx\n    volumes:\n      /data:\n        source: data\n"
		_, err := Workload(input(t, d, nil))
		wantErr(t, err, "not a volume reference", "${resources.<name>}")
	})
}

func TestProbesAndResources(t *testing.T) {
	doc := `containers:
  app:
    image: nginx
    resources:
      requests: {cpu: 250m, memory: 64Mi}
      limits: {cpu: "1", memory: 128M}
    livenessProbe:
      httpGet: {path: /livez, port: 8080, scheme: HTTPS, host: localhost, httpHeaders: [{name: X, value: y}]}
    readinessProbe:
      exec: {command: [cat, /ready]}
`
	pod := podOf(t, convertOK(t, input(t, doc, nil)))
	c := pod.Containers[0]
	if g := c.LivenessProbe.HTTPGet; g == nil || g.Path != "/livez" || g.Port.IntValue() != 8080 || g.Scheme != "HTTPS" || g.Host != "localhost" || len(g.HTTPHeaders) != 1 {
		t.Errorf("liveness = %+v", c.LivenessProbe)
	}
	if e := c.ReadinessProbe.Exec; e == nil || !reflect.DeepEqual(e.Command, []string{"cat", "/ready"}) {
		t.Errorf("readiness = %+v", c.ReadinessProbe)
	}
	if c.Resources.Requests.Cpu().String() != "250m" || c.Resources.Limits.Memory().String() != "128M" {
		t.Errorf("resources = %+v", c.Resources)
	}
	// The schema already refuses such a value; the converter must still not trust it.
	in := input(t, "containers:\n  app:\n    image: nginx\n    resources:\n      limits: {memory: 1Gi}\n", nil)
	lots := "lots"
	in.Spec.Containers["app"].Resources.Limits.Memory = &lots
	_, err := Workload(in)
	wantErr(t, err, "containers.app.resources.limits.memory", "128Mi")
}

func TestServicePorts(t *testing.T) {
	doc := "service:\n  ports:\n    web:\n      port: 80\n      targetPort: 8080\n    dns:\n      port: 53\n      protocol: UDP\ncontainers:\n  app:\n    image: nginx\n"
	objs := convertOK(t, input(t, doc, nil))
	var s corev1.Service
	find(t, objs, "Service", "web", &s)
	if len(s.Spec.Ports) != 2 || s.Spec.Ports[0].Name != "dns" || s.Spec.Ports[0].Protocol != "UDP" ||
		s.Spec.Ports[1].Port != 80 || s.Spec.Ports[1].TargetPort.IntValue() != 8080 {
		t.Errorf("ports = %+v", s.Spec.Ports)
	}
	if !reflect.DeepEqual(s.Spec.Selector, map[string]string{LabelName: "web", LabelPartOf: "shop"}) {
		t.Errorf("selector = %v", s.Spec.Selector)
	}
	var d appsv1.Deployment
	find(t, objs, "Deployment", "web", &d)
	if !reflect.DeepEqual(d.Spec.Selector.MatchLabels, s.Spec.Selector) {
		t.Errorf("deployment selector %v ≠ service selector %v", d.Spec.Selector.MatchLabels, s.Spec.Selector)
	}
	if d.Labels[LabelManagedBy] != ManagedBy {
		t.Errorf("labels = %v", d.Labels)
	}
	if none := convertOK(t, input(t, "containers:\n  app:\n    image: nginx\n", nil)); len(none) != 1 {
		t.Errorf("a workload without ports gave %d objects", len(none))
	}
}

func TestStatefulSet(t *testing.T) {
	doc := "  annotations:\n    k8s.score.dev/kind: StatefulSet\n    team: blue\nservice:\n  ports:\n    web:\n      port: 80\ncontainers:\n  app:\n    image: nginx\n"
	objs := convertOK(t, input(t, doc, nil))
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.Kind()+"/"+o.Name())
	}
	if got := strings.Join(kinds, " "); got != "Service/web Service/web-headless StatefulSet/web" {
		t.Errorf("objects = %s", got)
	}
	var s appsv1.StatefulSet
	find(t, objs, "StatefulSet", "web", &s)
	if s.Spec.ServiceName != "web-headless" {
		t.Errorf("serviceName = %q", s.Spec.ServiceName)
	}
	if !reflect.DeepEqual(s.Spec.Template.Annotations, map[string]string{"team": "blue"}) {
		t.Errorf("pod annotations = %v (the kind annotation must not reach the pod)", s.Spec.Template.Annotations)
	}
	var h corev1.Service
	find(t, objs, "Service", "web-headless", &h)
	if h.Spec.ClusterIP != "None" {
		t.Errorf("headless clusterIP = %q", h.Spec.ClusterIP)
	}
	_, err := Workload(input(t, "  annotations:\n    k8s.score.dev/kind: DaemonSet\ncontainers:\n  app:\n    image: nginx\n", nil))
	wantErr(t, err, "metadata.annotations.k8s.score.dev/kind", "Deployment or StatefulSet")
}

func TestAdjustments(t *testing.T) {
	three, five := int32(3), int32(5)
	base := &rules.WorkloadDefinition{ID: "base", File: "workloads/base.yaml", Labels: map[string]string{"tier": "web", "cost": "a"},
		Annotations: map[string]string{"a": "1"}, ServiceAccountName: "default-sa", Replicas: &three,
		PodSecurityContext: map[string]any{"runAsNonRoot": true, "runAsUser": int64(1000)},
		SecurityContext:    map[string]any{"allowPrivilegeEscalation": false}}
	prod := &rules.WorkloadDefinition{ID: "prod", File: "workloads/prod.yaml", Labels: map[string]string{"cost": "b"}, Replicas: &five,
		PodSecurityContext: map[string]any{"runAsUser": int64(2000)},
		SecurityContext:    map[string]any{"readOnlyRootFilesystem": true, "capabilities": map[string]any{"drop": []any{"ALL"}}}}
	objs := convertOK(t, input(t, "containers:\n  app:\n    image: nginx\n", nil, base, prod))
	var d appsv1.Deployment
	find(t, objs, "Deployment", "web", &d)
	if *d.Spec.Replicas != 5 || d.Labels["cost"] != "b" || d.Labels["tier"] != "web" || d.Spec.Template.Labels["cost"] != "b" || d.Annotations["a"] != "1" {
		t.Errorf("replicas %d labels %v annotations %v", *d.Spec.Replicas, d.Labels, d.Annotations)
	}
	pod := d.Spec.Template.Spec
	if pod.ServiceAccountName != "default-sa" || *pod.SecurityContext.RunAsUser != 2000 || !*pod.SecurityContext.RunAsNonRoot {
		t.Errorf("pod = sa %q sc %+v", pod.ServiceAccountName, pod.SecurityContext)
	}
	sc := pod.Containers[0].SecurityContext
	if sc == nil || *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("container securityContext = %+v", sc)
	}
	if !reflect.DeepEqual(d.Spec.Selector.MatchLabels, map[string]string{LabelName: "web", LabelPartOf: "shop"}) {
		t.Errorf("adjustments changed the selector: %v", d.Spec.Selector.MatchLabels)
	}

	for _, tt := range []struct {
		name string
		def  *rules.WorkloadDefinition
		err  []string
	}{
		{"unknown pod field", &rules.WorkloadDefinition{ID: "x", File: "w.yaml", PodSecurityContext: map[string]any{"runAsUsr": 1}}, []string{"w.yaml", "definition x", "podSecurityContext", "runAsUsr"}},
		{"wrong type", &rules.WorkloadDefinition{ID: "x", File: "w.yaml", SecurityContext: map[string]any{"privileged": "no"}}, []string{"securityContext"}},
		{"reserved label", &rules.WorkloadDefinition{ID: "x", File: "w.yaml", Labels: map[string]string{LabelName: "other"}}, []string{"w.yaml", "labels." + LabelName, "remove"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Workload(input(t, "containers:\n  app:\n    image: nginx\n", nil, tt.def))
			wantErr(t, err, tt.err...)
		})
	}
}

func TestBefore(t *testing.T) {
	doc := `containers:
  app:
    image: app
  migrate:
    image: app
    before:
      app: {ready: complete}
  proxy:
    image: envoy
    readinessProbe:
      httpGet: {path: /ready, port: 9901}
    before:
      app: {ready: healthy}
      migrate: {ready: healthy}
  logs:
    image: fluent
    before:
      app: {ready: started}
`
	pod := podOf(t, convertOK(t, input(t, doc, nil)))
	var inits []string
	for _, c := range pod.InitContainers {
		inits = append(inits, c.Name)
	}
	if got := strings.Join(inits, " "); got != "logs proxy migrate" {
		t.Errorf("init order = %s, want logs proxy migrate", got)
	}
	if len(pod.Containers) != 1 || pod.Containers[0].Name != "app" {
		t.Errorf("containers = %+v", pod.Containers)
	}
	always := corev1.ContainerRestartPolicyAlways
	if p := pod.InitContainers[0].RestartPolicy; p == nil || *p != always {
		t.Error("started: want a sidecar")
	}
	if pr := pod.InitContainers[1]; pr.StartupProbe == nil || pr.RestartPolicy == nil {
		t.Error("healthy: want a sidecar with a startup probe")
	}
	if pod.InitContainers[2].RestartPolicy != nil {
		t.Error("complete: want a plain init container")
	}
	for _, tt := range []struct{ name, doc, err string }{
		{"healthy without probe", "containers:\n  aa:\n    image: x\n    before:\n      bb: {ready: healthy}\n  bb:\n    image: y\n", "readinessProbe"},
		{"complete with probe", "containers:\n  aa:\n    image: x\n    livenessProbe:\n      exec: {command: [x]}\n    before:\n      bb: {ready: complete}\n  bb:\n    image: y\n", "cannot have probes"},
		{"mixed ready", "containers:\n  aa:\n    image: x\n    before:\n      bb: {ready: complete}\n      cc: {ready: started}\n  bb:\n    image: y\n  cc:\n    image: z\n", "same ready state"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Workload(input(t, tt.doc, nil))
			wantErr(t, err, tt.err)
		})
	}
}

func TestStableNames(t *testing.T) {
	long := strings.Repeat("a", 60)
	n := stableName(long+"-"+long, "-file", "x", 253)
	if n != long+"-"+long+"-file-"+shortHash("x") {
		t.Errorf("name = %s", n)
	}
	h := HeadlessServiceName(long)
	if len(h) > 63 || !strings.HasSuffix(h, "-headless-"+shortHash(long+"\x00-headless\x00")) {
		t.Errorf("headless = %s (%d)", h, len(h))
	}
	if HeadlessServiceName(long) == HeadlessServiceName(long+"b") {
		t.Error("distinct long names collide")
	}
}

func TestDeterministic(t *testing.T) {
	outputs := map[string]map[string]any{"db": {"host": "h", "password": pgPassword, "username": pgUser}}
	doc := `service:
  ports: {bb: {port: 2}, aa: {port: 1}, cc: {port: 3}}
containers:
  zz: {image: z, variables: {B: "${resources.db.password}", A: "u=${resources.db.username};p=${resources.db.password}", C: c}}
  yy:
    image: y
    files:
      /b: {content: b}
      /a: {content: "${resources.db.host}"}
resources:
  db: {type: postgres}
`
	first, _, err := render(t, input(t, doc, outputs))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		again, _, err := render(t, input(t, doc, outputs))
		if err != nil || string(again) != string(first) {
			t.Fatalf("run %d differs:\n%s\nvs\n%s", i, again, first)
		}
	}
}
