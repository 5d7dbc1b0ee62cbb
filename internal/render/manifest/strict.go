package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "sigs.k8s.io/json"
)

// ErrStrict is returned (wrapped) when an object does not decode strictly into its type.
var ErrStrict = errors.New("object does not match its Kubernetes type")

// typedScheme knows the built-in and Flux types objects are checked against. It is built
// once and only read afterwards.
var typedScheme = sync.OnceValue(func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme,
		autoscalingv1.AddToScheme, autoscalingv2.AddToScheme, networkingv1.AddToScheme,
		policyv1.AddToScheme, rbacv1.AddToScheme, schedulingv1.AddToScheme,
		storagev1.AddToScheme, kustomizev1.AddToScheme, sourcev1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(fmt.Sprintf("manifest: building the type scheme: %v", err)) // programming error
		}
	}
	return s
})

// DecodeStrict checks that the object decodes, with no unknown or duplicate fields, into its
// k8s.io/api or Flux type, chosen by apiVersion and kind. Kinds of groups it does not know
// (ExternalSecret, HTTPRoute, any CRD) are kept as given: they only need apiVersion, kind and
// metadata.name. A kind it does not know in a group it knows (a typo such as apps/v1
// Deploymnet) is an error.
//
// The JSON the typed decoder reads is written by appendJSON, byte for byte what
// json.Marshal would write (errors quote it), without reflection.
func DecodeStrict(o Object) error {
	if err := checkIdentity(o); err != nil {
		return err
	}
	gv, err := schema.ParseGroupVersion(o.APIVersion())
	if err != nil {
		return fmt.Errorf("%s: %s %s: apiVersion %q: %v: %w", o.Source, o.Kind(), o.Name(), o.APIVersion(), err, ErrStrict)
	}
	gvk := gv.WithKind(o.Kind())
	s := typedScheme()
	if !s.Recognizes(gvk) {
		if s.IsVersionRegistered(gv) {
			return fmt.Errorf("%s: %s %s: kind %q is not a kind of %s; check the spelling of kind and apiVersion: %w",
				o.Source, o.Kind(), o.Name(), o.Kind(), o.APIVersion(), ErrStrict)
		}
		if s.IsGroupRegistered(gv.Group) {
			return fmt.Errorf("%s: %s %s: apiVersion %q is not a version this tool checks; use one of %s: %w",
				o.Source, o.Kind(), o.Name(), o.APIVersion(), versionsOf(s, gv.Group), ErrStrict)
		}
		return nil
	}
	typed, err := s.New(gvk)
	if err != nil {
		return fmt.Errorf("%s: %s %s: %w", o.Source, o.Kind(), o.Name(), err)
	}
	raw, ok := appendJSON(make([]byte, 0, 2048), o.Doc, 0)
	if !ok {
		if raw, err = json.Marshal(o.Doc); err != nil {
			return fmt.Errorf("%s: %s %s: encode: %w", o.Source, o.Kind(), o.Name(), err)
		}
	}
	strictErrs, err := kjson.UnmarshalStrict(raw, typed)
	if err != nil {
		return fmt.Errorf("%s: %s %s: %v: %w", o.Source, o.Kind(), o.Name(), err, ErrStrict)
	}
	if len(strictErrs) > 0 {
		msgs := make([]string, len(strictErrs))
		for i, e := range strictErrs {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("%s: %s %s: %s; remove or correct the field (see `kubectl explain %s`): %w",
			o.Source, o.Kind(), o.Name(), strings.Join(msgs, "; "), strings.ToLower(o.Kind()), ErrStrict)
	}
	return nil
}

func versionsOf(s *runtime.Scheme, group string) string {
	var vs []string
	for _, gv := range s.PrioritizedVersionsForGroup(group) {
		vs = append(vs, gv.String())
	}
	return strings.Join(vs, ", ")
}
