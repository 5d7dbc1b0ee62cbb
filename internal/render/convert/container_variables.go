package convert

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/scorebot/scorebot/internal/render/secretref"
)

// helperSuffix marks the helper variables that carry the secret parts of a mixed variable.
const helperSuffix = "_SCOREBOT_"

// variables converts a container's variables, in name order. A value that is wholly one
// secret reference becomes valueFrom.secretKeyRef. A value mixing text and references gets
// one helper variable per distinct reference (<VAR>_SCOREBOT_<n>, a secretKeyRef), defined
// just before it, and refers to them with $(...), which Kubernetes expands because they come
// earlier in the list.
func (c *converter) variables(container string, vars map[string]string) ([]corev1.EnvVar, error) {
	var out []corev1.EnvVar
	names := sortedKeys(vars)
	for _, name := range names {
		field := fmt.Sprintf("containers.%s.variables.%s", container, name)
		resolved, err := c.substitute(field, vars[name])
		if err != nil {
			return nil, err
		}
		env, err := c.variable(field, name, resolved, vars)
		if err != nil {
			return nil, err
		}
		out = append(out, env...)
	}
	return out, nil
}

// variable converts one resolved value; others is the container's variables, to refuse a
// helper name that collides with one of them.
func (c *converter) variable(field, name, value string, others map[string]string) ([]corev1.EnvVar, error) {
	parts, err := c.secretParts(field, value)
	if err != nil {
		return nil, err
	}
	refs := 0
	for _, p := range parts {
		if p.Ref != nil {
			refs++
		}
	}
	if !yamlPrintable(value) {
		return nil, c.errorf(field, "the value holds a control character, which a manifest cannot carry; remove it, or put the data in a file with binaryContent")
	}
	switch {
	case refs == 0:
		return []corev1.EnvVar{{Name: name, Value: escapeK8s(value)}}, nil
	case len(parts) == 1:
		return []corev1.EnvVar{{Name: name, ValueFrom: secretKeyRef(*parts[0].Ref)}}, nil
	}
	var helpers []corev1.EnvVar
	index := map[secretref.Ref]string{}
	var value2 strings.Builder
	for _, p := range parts {
		if p.Ref == nil {
			value2.WriteString(strings.ReplaceAll(p.Text, "$", "$$"))
			continue
		}
		h, seen := index[*p.Ref]
		if !seen {
			h = fmt.Sprintf("%s%s%d", name, helperSuffix, len(helpers)+1)
			if _, clash := others[h]; clash {
				return nil, c.errorf(field, "scorebot needs the name %s for a helper variable carrying a secret; rename the variable %s", h, h)
			}
			index[*p.Ref] = h
			helpers = append(helpers, corev1.EnvVar{Name: h, ValueFrom: secretKeyRef(*p.Ref)})
		}
		value2.WriteString("$(" + h + ")")
	}
	return append(helpers, corev1.EnvVar{Name: name, Value: value2.String()}), nil
}

// secretParts splits a resolved value into text and secret references, checking that each
// reference names a valid Secret and key.
func (c *converter) secretParts(field, value string) ([]secretref.Part, error) {
	parts, err := secretref.Split(value)
	if err != nil {
		return nil, c.errorf(field, "%v; secret references come from resource outputs and must not be written by hand", err)
	}
	for _, p := range parts {
		if p.Ref == nil {
			continue
		}
		if errs := validation.IsDNS1123Subdomain(p.Ref.Name); len(errs) > 0 {
			return nil, c.errorf(field, "secret reference names Secret %q, which is not a valid name (%s); fix the resource definition that produced it", p.Ref.Name, strings.Join(errs, "; "))
		}
		if errs := validation.IsConfigMapKey(p.Ref.Key); len(errs) > 0 {
			return nil, c.errorf(field, "secret reference names key %q of Secret %q, which is not a valid key (%s); fix the resource definition that produced it", p.Ref.Key, p.Ref.Name, strings.Join(errs, "; "))
		}
	}
	return parts, nil
}

func secretKeyRef(r secretref.Ref) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: r.Name},
		Key:                  r.Key,
	}}
}

// commandLine resolves placeholders in a command or its arguments. A secret there would be
// visible in the pod spec and process list, so it is refused with a fix.
func (c *converter) commandLine(field string, in []string) ([]string, error) {
	if in == nil {
		return nil, nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		r, err := c.substitute(f, s)
		if err != nil {
			return nil, err
		}
		if secretref.Contains(r) {
			return nil, c.errorf(f, "a secret cannot be passed on the command line; put the placeholder in a variable (variables.X: ${...}) and read $X in the program or a shell")
		}
		if !yamlPrintable(r) {
			return nil, c.errorf(f, "the value holds a control character, which a manifest cannot carry; remove it")
		}
		out[i] = escapeK8s(r)
	}
	return out, nil
}
