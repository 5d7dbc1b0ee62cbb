package convert

import (
	"fmt"

	"github.com/score-spec/score-go/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// container converts one Score container. Its pod volumes go into vols; claim templates
// (StatefulSet only) are returned.
func (c *converter) container(name string, in types.Container, vols *volumeSet, kind string) (corev1.Container, []corev1.PersistentVolumeClaim, error) {
	field := "containers." + name
	out := corev1.Container{Name: name, Image: in.Image}
	if !checkImage(in.Image) {
		return out, nil, c.errorf(field+".image", "%q is not an image reference; write NAME[:TAG][@DIGEST], e.g. nginx:1.27", in.Image)
	}
	var err error
	if out.Command, err = c.commandLine(field+".command", in.Command); err != nil {
		return out, nil, err
	}
	if out.Args, err = c.commandLine(field+".args", in.Args); err != nil {
		return out, nil, err
	}
	if out.Env, err = c.variables(name, in.Variables); err != nil {
		return out, nil, err
	}
	if out.Resources, err = c.resources(field+".resources", in.Resources); err != nil {
		return out, nil, err
	}
	if in.LivenessProbe != nil {
		if out.LivenessProbe, err = c.probe(field+".livenessProbe", in.LivenessProbe); err != nil {
			return out, nil, err
		}
	}
	if in.ReadinessProbe != nil {
		if out.ReadinessProbe, err = c.probe(field+".readinessProbe", in.ReadinessProbe); err != nil {
			return out, nil, err
		}
	}
	fileMounts, err := c.files(name, in.Files, vols)
	if err != nil {
		return out, nil, err
	}
	volMounts, claims, err := c.volumes(name, in.Volumes, vols, kind)
	if err != nil {
		return out, nil, err
	}
	out.VolumeMounts = append(volMounts, fileMounts...)
	if err := checkMountTargets(out.VolumeMounts); err != nil {
		return out, nil, c.errorf(field, "%v; give each file and volume its own target path", err)
	}
	return out, claims, nil
}

func checkMountTargets(mounts []corev1.VolumeMount) error {
	seen := map[string]bool{}
	for _, m := range mounts {
		if seen[m.MountPath] {
			return fmt.Errorf("two mounts at %s", m.MountPath)
		}
		seen[m.MountPath] = true
	}
	return nil
}

// resources converts requests and limits; quantities keep Kubernetes' canonical form.
func (c *converter) resources(field string, in *types.ContainerResources) (corev1.ResourceRequirements, error) {
	var out corev1.ResourceRequirements
	if in == nil {
		return out, nil
	}
	var err error
	if out.Requests, err = c.resourceList(field+".requests", in.Requests); err != nil {
		return out, err
	}
	if out.Limits, err = c.resourceList(field+".limits", in.Limits); err != nil {
		return out, err
	}
	return out, nil
}

func (c *converter) resourceList(field string, in *types.ResourcesLimits) (corev1.ResourceList, error) {
	if in == nil || (in.Cpu == nil && in.Memory == nil) {
		return nil, nil
	}
	out := corev1.ResourceList{}
	for _, r := range []struct {
		name  corev1.ResourceName
		value *string
		eg    string
	}{{corev1.ResourceCPU, in.Cpu, "500m or 2"}, {corev1.ResourceMemory, in.Memory, "128Mi or 1G"}} {
		if r.value == nil {
			continue
		}
		q, err := resource.ParseQuantity(*r.value)
		if err != nil {
			return nil, c.errorf(field+"."+string(r.name), "%q is not a quantity; write it like %s", *r.value, r.eg)
		}
		out[r.name] = q
	}
	return out, nil
}

// probe converts an httpGet or exec probe; exec wins when both are given, as the Score
// specification prefers it.
func (c *converter) probe(field string, in *types.ContainerProbe) (*corev1.Probe, error) {
	if in.Exec != nil {
		if len(in.Exec.Command) == 0 {
			return nil, c.errorf(field+".exec.command", "an exec probe needs a command")
		}
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: in.Exec.Command}}}, nil
	}
	if h := in.HttpGet; h != nil {
		if h.Port < 1 || h.Port > 65535 {
			return nil, c.errorf(field+".httpGet.port", "port %d is out of range; use 1-65535", h.Port)
		}
		a := &corev1.HTTPGetAction{Path: h.Path, Port: intstr.FromInt32(int32(h.Port))}
		if h.Host != nil {
			a.Host = *h.Host
		}
		if h.Scheme != nil {
			a.Scheme = corev1.URIScheme(*h.Scheme)
		}
		for _, hd := range h.HttpHeaders {
			a.HTTPHeaders = append(a.HTTPHeaders, corev1.HTTPHeader{Name: hd.Name, Value: hd.Value})
		}
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: a}}, nil
	}
	return nil, c.errorf(field, "a probe needs httpGet or exec")
}
