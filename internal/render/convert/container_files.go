package convert

import (
	"encoding/base64"
	"fmt"
	"path"
	"strconv"
	"unicode/utf8"

	"github.com/score-spec/score-go/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/scorebot/scorebot/internal/render/secretref"
)

// fileKey is the ConfigMap key holding a file's content.
const fileKey = "content"

// files converts a container's files, in target order. Plain content goes into a ConfigMap
// of its own, named from the workload, container and a hash of target and content (a new
// content gives a new name, so the pods roll). Content that is wholly a secret reference is
// mounted from that Secret's key. Each file is mounted alone (subPath), so it never hides
// the rest of its directory.
func (c *converter) files(container string, files map[string]types.ContainerFile, vols *volumeSet) ([]corev1.VolumeMount, error) {
	var mounts []corev1.VolumeMount
	for _, target := range sortedKeys(files) {
		f := files[target]
		field := fmt.Sprintf("containers.%s.files.%s", container, target)
		if !path.IsAbs(target) || path.Clean(target) != target || target == "/" {
			return nil, c.errorf(field, "the target must be a clean absolute file path, such as /etc/app/config.yaml")
		}
		mode, err := c.fileMode(field, f.Mode)
		if err != nil {
			return nil, err
		}
		base := path.Base(target)
		volName := "file-" + shortHash(container+"\x00"+target)
		item := corev1.KeyToPath{Key: fileKey, Path: base, Mode: mode}

		var text string
		var binary []byte
		switch {
		case f.BinaryContent != nil:
			if binary, err = base64.StdEncoding.DecodeString(*f.BinaryContent); err != nil {
				return nil, c.errorf(field+".binaryContent", "not valid standard base64 (%v); encode the file with `base64 -w0`", err)
			}
		case f.Content != nil:
			text = *f.Content
			if f.NoExpand == nil || !*f.NoExpand {
				if text, err = c.substitute(field+".content", text); err != nil {
					return nil, err
				}
			}
		case f.Source != nil:
			return nil, c.errorf(field+".source", "the file was not inlined; load the workload with score-go loader.Normalize first")
		default:
			return nil, c.errorf(field, "a file needs content, binaryContent or source")
		}

		parts, err := c.secretParts(field+".content", text)
		if err != nil {
			return nil, err
		}
		switch {
		case len(parts) == 1 && parts[0].Ref != nil:
			ref := parts[0].Ref
			item.Key = ref.Key
			vols.add(corev1.Volume{Name: volName, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: ref.Name, Items: []corev1.KeyToPath{item},
			}}})
		case hasRef(parts):
			return nil, c.errorf(field+".content", "the content mixes text with secret references, and a file can only be mounted from a whole Secret key; "+
				"make the content exactly one secret placeholder (a secret holding the whole file), or move the secret into a variable")
		default:
			if !utf8.ValidString(text) {
				return nil, c.errorf(field+".content", "content is not valid UTF-8; use binaryContent")
			}
			cm := &corev1.ConfigMap{
				TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			}
			hashInput := container + "\x00" + target + "\x00"
			if binary == nil && !yamlPrintable(text) {
				// YAML cannot carry some control characters; the bytes are the same either way.
				binary = []byte(text)
			}
			if binary != nil {
				cm.BinaryData = map[string][]byte{fileKey: binary}
				hashInput += "b\x00" + string(binary)
			} else {
				cm.Data = map[string]string{fileKey: text}
				hashInput += "t\x00" + text
			}
			cm.ObjectMeta = metav1.ObjectMeta{
				Name:      stableName(c.in.Name+"-"+container, "-file", hashInput, 253),
				Namespace: c.in.Namespace,
				Labels:    c.commonLabels(),
			}
			c.objs = append(c.objs, cm)
			vols.add(corev1.Volume{Name: volName, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: cm.Name}, Items: []corev1.KeyToPath{item},
			}}})
		}
		mounts = append(mounts, corev1.VolumeMount{Name: volName, MountPath: target, SubPath: base, ReadOnly: true})
	}
	return mounts, nil
}

func hasRef(parts []secretref.Part) bool {
	for _, p := range parts {
		if p.Ref != nil {
			return true
		}
	}
	return false
}

// fileMode parses an octal mode such as "0644".
func (c *converter) fileMode(field string, mode *string) (*int32, error) {
	if mode == nil {
		return nil, nil
	}
	m, err := strconv.ParseUint(*mode, 8, 32)
	if err != nil || m > 0o777 {
		return nil, c.errorf(field+".mode", "%q is not an octal file mode; write it like \"0644\"", *mode)
	}
	v := int32(m)
	return &v, nil
}

// yamlPrintable reports whether YAML can hold s as text: tab, newlines and printable
// Unicode, as the YAML 1.1 specification allows.
func yamlPrintable(s string) bool {
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r' || r == 0x85:
		case r >= 0x20 && r <= 0x7e:
		case r >= 0xa0 && r <= 0xd7ff:
		case r >= 0xe000 && r <= 0xfffd && r != 0xfeff:
		case r >= 0x10000 && r <= 0x10ffff:
		default:
			return false
		}
	}
	return true
}
