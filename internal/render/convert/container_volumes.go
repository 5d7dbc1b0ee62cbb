package convert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/score-spec/score-go/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// volumeSource matches the only form a volume source takes: ${resources.<name>}.
var volumeSource = regexp.MustCompile(`^\$\{resources\.([a-z0-9][a-z0-9-]*)\}$`)

// volumes converts a container's volumes, in target order. The volume resource's outputs
// say what to mount: `source`, a Kubernetes VolumeSource (decoded strictly), or, for a
// StatefulSet, `claimSpec`, a PersistentVolumeClaimSpec that becomes a claim template.
// Containers mounting the same resource share one pod volume.
func (c *converter) volumes(container string, in map[string]types.ContainerVolume, vols *volumeSet, kind string) ([]corev1.VolumeMount, []corev1.PersistentVolumeClaim, error) {
	var mounts []corev1.VolumeMount
	var claims []corev1.PersistentVolumeClaim
	for _, target := range sortedKeys(in) {
		v := in[target]
		field := fmt.Sprintf("containers.%s.volumes.%s", container, target)
		if !path.IsAbs(target) || path.Clean(target) != target {
			return nil, nil, c.errorf(field, "the target must be a clean absolute path, such as /data")
		}
		m := volumeSource.FindStringSubmatch(v.Source)
		if m == nil {
			return nil, nil, c.errorf(field+".source", "%q is not a volume reference; write ${resources.<name>} naming a resource of the workload", v.Source)
		}
		res := m[1]
		if _, ok := c.in.Spec.Resources[res]; !ok {
			return nil, nil, c.errorf(field+".source", "no resource %q is declared under resources (declared: %s)", res, list(sortedKeys(c.in.Spec.Resources)))
		}
		outputs := c.in.Outputs[res]
		name := stableName("vol-"+res, "", "", 63)
		var decoded struct {
			Source    *corev1.VolumeSource              `json:"source"`
			ClaimSpec *corev1.PersistentVolumeClaimSpec `json:"claimSpec"`
		}
		if err := decodeStrict(map[string]any{"source": outputs["source"], "claimSpec": outputs["claimSpec"]}, &decoded); err != nil {
			return nil, nil, c.errorf(field+".source", "the outputs of resource %q are not a Kubernetes volume: %v; fix its definition so that `source` is a VolumeSource (such as {persistentVolumeClaim: {claimName: x}})", res, err)
		}
		switch {
		case decoded.Source != nil && decoded.ClaimSpec != nil:
			return nil, nil, c.errorf(field+".source", "resource %q gives both source and claimSpec; its definition must give one", res)
		case decoded.Source != nil:
			if err := vols.add(corev1.Volume{Name: name, VolumeSource: *decoded.Source}); err != nil {
				return nil, nil, c.errorf(field+".source", "%v", err)
			}
		case decoded.ClaimSpec != nil:
			if kind != "StatefulSet" {
				return nil, nil, c.errorf(field+".source", "resource %q gives a claimSpec, which only a StatefulSet can use; set metadata.annotations.%s: StatefulSet, or have the resource give a source", res, KindAnnotation)
			}
			claims = append(claims, corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: *decoded.ClaimSpec})
		default:
			return nil, nil, c.errorf(field+".source", "resource %q has no `source` output (outputs: %s); its definition must give a Kubernetes VolumeSource as `source`", res, list(sortedKeys(outputs)))
		}
		mount := corev1.VolumeMount{Name: name, MountPath: target}
		if v.Path != nil {
			p := *v.Path
			if path.IsAbs(p) || strings.HasPrefix(path.Clean(p), "..") {
				return nil, nil, c.errorf(field+".path", "%q must be a relative path inside the volume", p)
			}
			mount.SubPath = p
		}
		if v.ReadOnly != nil {
			mount.ReadOnly = *v.ReadOnly
		}
		mounts = append(mounts, mount)
	}
	return mounts, claims, nil
}

// decodeStrict decodes a JSON-like value into a typed struct, refusing unknown fields.
func decodeStrict(v any, into any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}

// volumeSet collects a pod's volumes by name; the same name must mean the same volume.
type volumeSet struct{ byName map[string]corev1.Volume }

func newVolumeSet() *volumeSet { return &volumeSet{byName: map[string]corev1.Volume{}} }

func (s *volumeSet) add(v corev1.Volume) error {
	if old, ok := s.byName[v.Name]; ok {
		if !reflect.DeepEqual(old, v) {
			return fmt.Errorf("volume %s is defined twice, differently", v.Name)
		}
		return nil
	}
	s.byName[v.Name] = v
	return nil
}

func (s *volumeSet) list() []corev1.Volume {
	if len(s.byName) == 0 {
		return nil
	}
	out := make([]corev1.Volume, 0, len(s.byName))
	for _, k := range sortedKeys(s.byName) {
		out = append(out, s.byName[k])
	}
	return slices.Clip(out)
}
