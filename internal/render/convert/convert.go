// Package convert owns turning one Score workload, with the outputs of the resources it
// uses already resolved, into the workload's own Kubernetes objects: a Deployment (or a
// StatefulSet and its headless Service), a Service for its ports, ConfigMaps for its files,
// and the pod's volumes, probes, resources and environment. It applies the platform's
// workload adjustments (labels, annotations, service account, replicas, security contexts).
//
// Credentials never appear in plaintext: a value carrying a secret reference (package
// secretref) becomes a secretKeyRef, a $(VAR) interpolation of helper variables, or a
// secret volume; anything that cannot be expressed that way is an error that says how to fix
// it.
//
// Score values are literal: a "$(" or "$$" in a variable, command or argument is escaped so
// that Kubernetes' own $(VAR) expansion leaves it as written.
//
// It is pure: no I/O, no clock, no randomness; output order never depends on map iteration.
// It does not load Score files, match rules or provision resources (package render and its
// siblings do).
package convert

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/score-spec/score-go/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/scorebot/scorebot/internal/render/manifest"
	"github.com/scorebot/scorebot/internal/render/rules"
)

// Input is one workload to convert.
type Input struct {
	Name      string          // workload name
	File      string          // score file path, for errors
	Spec      *types.Workload // loaded, upgraded, validated and normalised (file sources inlined)
	AppID     string
	Env       string
	Namespace string
	// Outputs maps a resource name of the workload to its outputs: what
	// ${resources.<name>.<key>} reads.
	Outputs map[string]map[string]any
	// Adjust holds the matching workload definitions, least to most specific; later values
	// override earlier ones.
	Adjust []*rules.WorkloadDefinition
}

// Labels every object of a workload carries.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "scorebot"
)

// KindAnnotation is score-k8s's workload annotation choosing Deployment or StatefulSet.
const KindAnnotation = "k8s.score.dev/kind"

// scoreAnnotationPrefix marks workload annotations meant for the converter, not the pod.
const scoreAnnotationPrefix = "k8s.score.dev/"

// ErrInvalid is wrapped by every error caused by the workload or its inputs.
var ErrInvalid = errors.New("workload cannot be converted")

// converter carries one conversion's inputs and the objects it produces.
type converter struct {
	in     Input
	source string
	objs   []any // typed objects, converted to manifest.Object at the end
}

// errorf returns an error naming the score file and the field path, wrapping ErrInvalid.
func (c *converter) errorf(field, format string, args ...any) error {
	return invalid(fmt.Errorf("%s: %s: %s", c.in.File, field, fmt.Sprintf(format, args...)))
}

// invalidError is an error caused by the workload or its inputs: its message is err's alone
// (it names the file, the field and the fix) and errors.Is matches ErrInvalid and err's
// chain.
type invalidError struct{ err error }

func (e *invalidError) Error() string   { return e.err.Error() }
func (e *invalidError) Unwrap() []error { return []error{e.err, ErrInvalid} }

// invalid marks err as caused by the workload or its inputs.
func invalid(err error) error { return &invalidError{err: err} }

// Workload converts one workload into its Kubernetes objects, sorted with manifest.Sort.
// Every object's Source is "workload <name> (<file>)" and its namespace is in.Namespace.
func Workload(in Input) ([]manifest.Object, error) {
	if in.Spec == nil {
		return nil, invalid(fmt.Errorf("%s: workload %q has no spec", in.File, in.Name))
	}
	c := &converter{in: in, source: fmt.Sprintf("workload %s (%s)", in.Name, in.File)}
	if err := c.convert(); err != nil {
		return nil, err
	}
	out := make([]manifest.Object, 0, len(c.objs))
	for _, t := range c.objs {
		o, err := manifest.FromTyped(t, c.source)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	manifest.Sort(out)
	return out, nil
}

func (c *converter) convert() error {
	spec := c.in.Spec
	kind, err := c.workloadKind()
	if err != nil {
		return err
	}
	adj, err := mergeAdjustments(c.in.Adjust)
	if err != nil {
		return err
	}
	labels := c.commonLabels()
	for _, k := range sortedKeys(adj.labels) {
		if _, reserved := labels[k]; reserved {
			return invalid(fmt.Errorf("%s (workload definition %s): labels.%s: scorebot sets this label itself; remove it from the definition",
				adj.labelFrom[k].File, adj.labelFrom[k].ID, k))
		}
	}
	objLabels := mergeStrings(labels, adj.labels)
	podAnnotations, err := c.podAnnotations()
	if err != nil {
		return err
	}
	podAnnotations = mergeStrings(podAnnotations, adj.annotations)

	pod := corev1.PodSpec{ServiceAccountName: adj.serviceAccountName, SecurityContext: adj.podSecurityContext}
	vols := newVolumeSet()
	var claims []corev1.PersistentVolumeClaim
	built := map[string]corev1.Container{}
	for _, name := range sortedKeys(spec.Containers) {
		ctr, cl, err := c.container(name, spec.Containers[name], vols, kind)
		if err != nil {
			return err
		}
		if adj.securityContext != nil {
			ctr.SecurityContext = adj.securityContext.DeepCopy()
		}
		built[name] = ctr
		claims = append(claims, cl...)
	}
	pod.InitContainers, pod.Containers, err = c.orderContainers(built)
	if err != nil {
		return err
	}
	pod.Volumes = vols.list()
	slices.SortFunc(claims, func(a, b corev1.PersistentVolumeClaim) int { return cmp.Compare(a.Name, b.Name) })
	claims = slices.CompactFunc(claims, func(a, b corev1.PersistentVolumeClaim) bool { return a.Name == b.Name })

	ports, err := c.servicePorts()
	if err != nil {
		return err
	}
	selector := c.selector()
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: c.in.Namespace, Labels: objLabels, Annotations: adj.annotations}
	}
	if len(ports) > 0 {
		c.objs = append(c.objs, &corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: meta(c.in.Name),
			Spec:       corev1.ServiceSpec{Selector: selector, Ports: ports},
		})
	}
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: objLabels, Annotations: podAnnotations},
		Spec:       pod,
	}
	switch kind {
	case "Deployment":
		if len(claims) > 0 {
			return c.errorf("containers.*.volumes", "a volume resource gave a claimSpec, which only a StatefulSet can use; set metadata.annotations.%s: StatefulSet, or have the resource give a source", KindAnnotation)
		}
		c.objs = append(c.objs, &appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: meta(c.in.Name),
			Spec: appsv1.DeploymentSpec{
				Replicas: adj.replicas,
				Selector: &metav1.LabelSelector{MatchLabels: selector},
				Template: template,
			},
		})
	case "StatefulSet":
		headless := HeadlessServiceName(c.in.Name)
		hs := &corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: meta(headless),
			Spec:       corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: selector, Ports: ports},
		}
		c.objs = append(c.objs, hs, &appsv1.StatefulSet{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
			ObjectMeta: meta(c.in.Name),
			Spec: appsv1.StatefulSetSpec{
				Replicas:             adj.replicas,
				Selector:             &metav1.LabelSelector{MatchLabels: selector},
				ServiceName:          headless,
				Template:             template,
				VolumeClaimTemplates: claims,
			},
		})
	}
	return nil
}

// HeadlessServiceName is the governing Service of a StatefulSet workload.
func HeadlessServiceName(workload string) string {
	return stableName(workload, "-headless", "", 63)
}

func (c *converter) workloadKind() (string, error) {
	v, ok := c.annotation(KindAnnotation)
	if !ok {
		return "Deployment", nil
	}
	switch v {
	case "Deployment", "StatefulSet":
		return v, nil
	}
	return "", c.errorf("metadata.annotations."+KindAnnotation, "unsupported workload kind %q; use Deployment or StatefulSet", v)
}

func (c *converter) annotation(key string) (string, bool) {
	a, _ := c.in.Spec.Metadata["annotations"].(map[string]any)
	v, ok := a[key].(string)
	return v, ok
}

func (c *converter) commonLabels() map[string]string {
	return map[string]string{LabelName: c.in.Name, LabelPartOf: c.in.AppID, LabelManagedBy: ManagedBy}
}

// selector picks the workload's pods; it never changes for a workload of an app, since a
// Deployment's selector is immutable.
func (c *converter) selector() map[string]string {
	return map[string]string{LabelName: c.in.Name, LabelPartOf: c.in.AppID}
}

// podAnnotations copies the workload's annotations onto the pod, except the converter's own.
func (c *converter) podAnnotations() (map[string]string, error) {
	a, _ := c.in.Spec.Metadata["annotations"].(map[string]any)
	out := map[string]string{}
	for _, k := range sortedKeys(a) {
		if strings.HasPrefix(k, scoreAnnotationPrefix) {
			continue
		}
		s, ok := a[k].(string)
		if !ok {
			return nil, c.errorf("metadata.annotations."+k, "annotation values must be strings; quote the value")
		}
		out[k] = s
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func (c *converter) servicePorts() ([]corev1.ServicePort, error) {
	if c.in.Spec.Service == nil {
		return nil, nil
	}
	var out []corev1.ServicePort
	for _, name := range sortedKeys(c.in.Spec.Service.Ports) {
		p := c.in.Spec.Service.Ports[name]
		field := "service.ports." + name
		if p.Port < 1 || p.Port > 65535 {
			return nil, c.errorf(field+".port", "port %d is out of range; use 1-65535", p.Port)
		}
		target := p.Port
		if p.TargetPort != nil && *p.TargetPort > 0 {
			target = *p.TargetPort
		}
		if target > 65535 {
			return nil, c.errorf(field+".targetPort", "port %d is out of range; use 1-65535", target)
		}
		proto := corev1.ProtocolTCP
		if p.Protocol != nil && *p.Protocol != "" {
			proto = corev1.Protocol(strings.ToUpper(string(*p.Protocol)))
		}
		out = append(out, corev1.ServicePort{Name: name, Port: int32(p.Port), TargetPort: intstr.FromInt32(int32(target)), Protocol: proto})
	}
	return out, nil
}

// stableName joins prefix and suffix into a valid name of at most max characters; when a
// hashInput is given, a short hash of it is appended so distinct inputs never collide. Too
// long a prefix is cut, and a hash of the whole keeps it unique.
func stableName(prefix, suffix, hashInput string, max int) string {
	name := prefix + suffix
	if hashInput != "" {
		name += "-" + shortHash(hashInput)
	}
	if len(name) <= max {
		return name
	}
	tail := suffix + "-" + shortHash(prefix+"\x00"+suffix+"\x00"+hashInput)
	cut := strings.TrimRight(prefix[:max-len(tail)], "-.")
	return cut + tail
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:10]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func mergeStrings(base, over map[string]string) map[string]string {
	if len(base) == 0 && len(over) == 0 {
		return nil
	}
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}
