package convert

import (
	"fmt"
	"slices"
	"strings"

	"github.com/score-spec/score-go/types"
	corev1 "k8s.io/api/core/v1"
)

// orderContainers splits containers into init and main containers from Score's `before`:
// a container listing others in `before` must reach its ready state before they start, so
// it becomes an init container, ordered so that it precedes every init container it is
// before.
//   - ready: complete → a plain init container (runs to completion);
//   - ready: started  → a sidecar (init container with restartPolicy Always);
//   - ready: healthy  → a sidecar whose readinessProbe is also its startupProbe, so the
//     kubelet waits for it to be healthy before starting the next container.
func (c *converter) orderContainers(built map[string]corev1.Container) (initCs, mainCs []corev1.Container, err error) {
	spec := c.in.Spec.Containers
	ready := map[string]types.ContainerBeforeReady{}
	for _, name := range sortedKeys(spec) {
		before := spec[name].Before
		for _, other := range sortedKeys(before) {
			field := fmt.Sprintf("containers.%s.before.%s", name, other)
			if _, ok := spec[other]; !ok || other == name {
				return nil, nil, c.errorf(field, "%q is not another container of this workload; name one of %s", other, list(sortedKeys(spec)))
			}
			r := before[other].Ready
			if prev, ok := ready[name]; ok && prev != r {
				return nil, nil, c.errorf(field+".ready", "%q differs from %q given for another container; Kubernetes starts a container one way, so use the same ready state in every before entry of %s", r, prev, name)
			}
			ready[name] = r
		}
	}
	for _, name := range sortedKeys(spec) {
		if _, isInit := ready[name]; !isInit {
			mainCs = append(mainCs, built[name])
		}
	}
	if len(mainCs) == 0 {
		return nil, nil, c.errorf("containers", "every container is `before` another, so none would run as the workload; remove `before` from the main container")
	}
	// Order init containers: repeatedly take the first (by name) one that no remaining init
	// container must precede.
	remaining := sortedKeys(ready)
	for len(remaining) > 0 {
		next := -1
		for i, cand := range remaining {
			blocked := false
			for _, other := range remaining {
				if _, ok := spec[other].Before[cand]; ok && other != cand {
					blocked = true
					break
				}
			}
			if !blocked {
				next = i
				break
			}
		}
		if next < 0 {
			return nil, nil, c.errorf("containers.*.before", "the before entries form a cycle among %s; remove one of them", strings.Join(remaining, ", "))
		}
		name := remaining[next]
		remaining = slices.Delete(remaining, next, next+1)
		ctr := built[name]
		field := "containers." + name
		switch ready[name] {
		case types.ContainerBeforeReadyComplete:
			if ctr.LivenessProbe != nil || ctr.ReadinessProbe != nil {
				return nil, nil, c.errorf(field, "a container that must complete before others runs as an init container, which cannot have probes; remove livenessProbe and readinessProbe, or use ready: started")
			}
		case types.ContainerBeforeReadyStarted:
			ctr.RestartPolicy = ptr(corev1.ContainerRestartPolicyAlways)
		case types.ContainerBeforeReadyHealthy:
			if ctr.ReadinessProbe == nil {
				return nil, nil, c.errorf(field+".readinessProbe", "ready: healthy needs a readinessProbe to tell when the container is healthy; add one, or use ready: started")
			}
			ctr.RestartPolicy = ptr(corev1.ContainerRestartPolicyAlways)
			ctr.StartupProbe = ctr.ReadinessProbe.DeepCopy()
		default:
			return nil, nil, c.errorf(field+".before", "unknown ready state %q; use started, healthy or complete", ready[name])
		}
		initCs = append(initCs, ctr)
	}
	return initCs, mainCs, nil
}

func ptr[T any](v T) *T { return &v }
