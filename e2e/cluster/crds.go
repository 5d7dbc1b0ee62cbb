package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CRDSource is a folder of CRD YAML inside a pinned Go module.
type CRDSource struct {
	Module, Version, Dir string
}

// CRDSources are the CRDs the tier installs: Flux's own (the kinds the bootstrap and the
// per-app Kustomizations use) and those of the example rules' definitions (external-secrets'
// ExternalSecret and Password generator, Gateway API's HTTPRoute), each from the module and
// version named here, so the objects Scorebot writes are validated by the real schemas.
var CRDSources = []CRDSource{
	{Module: "github.com/fluxcd/source-controller", Version: "v1.9.6", Dir: "config/crd/bases"},
	{Module: "github.com/fluxcd/kustomize-controller", Version: "v1.9.6", Dir: "config/crd/bases"},
	{Module: "github.com/external-secrets/external-secrets", Version: "v1.3.2", Dir: "config/crds/bases"},
	// v1.7.0 needs Go 1.27.
	{Module: "sigs.k8s.io/gateway-api", Version: "v1.6.3", Dir: "config/crd/standard"},
}

// CRDFiles returns the YAML files of srcs, read from the Go module cache (`go mod download`
// fetches a module that is not there yet; offline, the cache must already hold it).
func CRDFiles(ctx context.Context, srcs []CRDSource) ([]string, error) {
	var files []string
	for _, s := range srcs {
		dir, err := ModuleDir(ctx, s.Module, s.Version)
		if err != nil {
			return nil, err
		}
		matches, err := filepath.Glob(filepath.Join(dir, filepath.FromSlash(s.Dir), "*.yaml"))
		if err != nil {
			return nil, err
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("CRDs: no YAML in %s@%s/%s", s.Module, s.Version, s.Dir)
		}
		for _, m := range matches {
			if filepath.Base(m) == "kustomization.yaml" {
				continue
			}
			files = append(files, m)
		}
	}
	return files, nil
}

// ModuleDir returns the module cache folder of mod@version, downloading it when missing. It
// runs outside any module so no go.mod is touched.
func ModuleDir(ctx context.Context, mod, version string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", mod+"@"+version)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GO111MODULE=on", "GOFLAGS=-mod=mod")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", mod, version, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w: %s", mod, version, err, strings.TrimSpace(stderr.String()))
	}
	if info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: no module folder in %q", mod, version, out)
	}
	return info.Dir, nil
}

// DecodeYAML splits a multi-document YAML stream into objects, skipping empty documents.
func DecodeYAML(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// installCRDs creates every CustomResourceDefinition in files and waits until each is
// Established (its API is served).
func (c *Cluster) installCRDs(ctx context.Context, files []string) error {
	var names []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("CRDs: %w", err)
		}
		objs, err := DecodeYAML(data)
		if err != nil {
			return fmt.Errorf("CRDs: %s: %w", f, err)
		}
		for _, o := range objs {
			if o.GetKind() != "CustomResourceDefinition" {
				continue
			}
			if err := c.Client.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("CRDs: create %s from %s: %w", o.GetName(), f, err)
			}
			names = append(names, o.GetName())
		}
	}
	return Poll(ctx, time.Minute, 100*time.Millisecond, "CRDs established", func(ctx context.Context) (bool, string, error) {
		for _, n := range names {
			crd := &unstructured.Unstructured{}
			crd.SetAPIVersion("apiextensions.k8s.io/v1")
			crd.SetKind("CustomResourceDefinition")
			if err := c.Client.Get(ctx, client.ObjectKey{Name: n}, crd); err != nil {
				return false, err.Error(), nil
			}
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			established := false
			for _, ci := range conds {
				cm, _ := ci.(map[string]any)
				if cm["type"] == "Established" && cm["status"] == "True" {
					established = true
				}
			}
			if !established {
				return false, "CRD " + n + " not established", nil
			}
		}
		return true, "", nil
	})
}

// Apply creates or updates every object of a YAML stream, the way `kubectl apply
// --server-side` does (field manager "scorebot-e2e").
func (c *Cluster) Apply(ctx context.Context, data []byte) error {
	objs, err := DecodeYAML(data)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := c.Client.Patch(ctx, o, client.Apply, client.FieldOwner("scorebot-e2e"), client.ForceOwnership); err != nil {
			return fmt.Errorf("apply %s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	return nil
}
