package convert

import (
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"

	"github.com/scorebot/scorebot/internal/render/rules"
)

// adjustments is the merged effect of the matching workload definitions.
type adjustments struct {
	labels, annotations map[string]string
	labelFrom           map[string]*rules.WorkloadDefinition // which definition set a label, for errors
	serviceAccountName  string
	replicas            *int32
	podSecurityContext  *corev1.PodSecurityContext
	securityContext     *corev1.SecurityContext
}

// mergeAdjustments applies definitions from least to most specific: later values win, key
// by key for maps (labels, annotations and the security contexts' top-level fields).
func mergeAdjustments(defs []*rules.WorkloadDefinition) (adjustments, error) {
	var a adjustments
	podSC := map[string]any{}
	ctrSC := map[string]any{}
	for _, d := range defs {
		if d == nil {
			continue
		}
		for k, v := range d.Labels {
			if a.labels == nil {
				a.labels, a.labelFrom = map[string]string{}, map[string]*rules.WorkloadDefinition{}
			}
			a.labels[k], a.labelFrom[k] = v, d
		}
		if len(d.Annotations) > 0 {
			if a.annotations == nil {
				a.annotations = map[string]string{}
			}
			maps.Copy(a.annotations, d.Annotations)
		}
		if d.ServiceAccountName != "" {
			a.serviceAccountName = d.ServiceAccountName
		}
		if d.Replicas != nil {
			if *d.Replicas < 0 {
				return a, invalid(fmt.Errorf("%s (workload definition %s): replicas: %d is negative; use 0 or more", d.File, d.ID, *d.Replicas))
			}
			r := *d.Replicas
			a.replicas = &r
		}
		maps.Copy(podSC, d.PodSecurityContext)
		maps.Copy(ctrSC, d.SecurityContext)
		// Decode after each step so that an error names the definition that introduced it.
		if len(d.PodSecurityContext) > 0 {
			if err := decodeStrict(podSC, new(corev1.PodSecurityContext)); err != nil {
				return a, invalid(fmt.Errorf("%s (workload definition %s): podSecurityContext: %v; see `kubectl explain pod.spec.securityContext`", d.File, d.ID, err))
			}
		}
		if len(d.SecurityContext) > 0 {
			if err := decodeStrict(ctrSC, new(corev1.SecurityContext)); err != nil {
				return a, invalid(fmt.Errorf("%s (workload definition %s): securityContext: %v; see `kubectl explain pod.spec.containers.securityContext`", d.File, d.ID, err))
			}
		}
	}
	if len(podSC) > 0 {
		a.podSecurityContext = new(corev1.PodSecurityContext)
		_ = decodeStrict(podSC, a.podSecurityContext) // checked above
	}
	if len(ctrSC) > 0 {
		a.securityContext = new(corev1.SecurityContext)
		_ = decodeStrict(ctrSC, a.securityContext)
	}
	return a, nil
}
