package manifest

import (
	"cmp"
	"slices"
)

// kindOrder is the order objects are applied and listed in: what others depend on comes
// first (namespaces, then policy and identity, then configuration and storage, then
// networking, then workloads, then the Flux objects that deploy other folders). Kinds not
// listed come after all listed ones, ordered by kind name.
var kindOrder = [...]string{
	"Namespace",
	"NetworkPolicy",
	"ResourceQuota",
	"LimitRange",
	"PodDisruptionBudget",
	"ServiceAccount",
	"Secret",
	"SecretStore",
	"ClusterSecretStore",
	"ExternalSecret",
	"ConfigMap",
	"StorageClass",
	"PersistentVolume",
	"PersistentVolumeClaim",
	"CustomResourceDefinition",
	"ClusterRole",
	"ClusterRoleBinding",
	"Role",
	"RoleBinding",
	"Service",
	"DaemonSet",
	"Pod",
	"ReplicaSet",
	"Deployment",
	"HorizontalPodAutoscaler",
	"StatefulSet",
	"Job",
	"CronJob",
	"Ingress",
	"Gateway",
	"HTTPRoute",
	"GitRepository",
	"Kustomization",
}

func kindRank(kind string) int {
	if r := slices.Index(kindOrder[:], kind); r >= 0 {
		return r
	}
	return len(kindOrder)
}

// Sort orders objects stably by kind (see kindOrder), then kind name, namespace, name and
// apiVersion.
func Sort(objs []Object) {
	slices.SortStableFunc(objs, func(a, b Object) int {
		return cmp.Or(
			cmp.Compare(kindRank(a.Kind()), kindRank(b.Kind())),
			cmp.Compare(a.Kind(), b.Kind()),
			cmp.Compare(a.Namespace(), b.Namespace()),
			cmp.Compare(a.Name(), b.Name()),
			cmp.Compare(a.APIVersion(), b.APIVersion()),
		)
	})
}
