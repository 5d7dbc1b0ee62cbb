// Module kustomize-controller builds Flux's kustomize-controller v1.9.6 for the e2e tier:
//
//	go build -mod=mod -o ../../bin/kustomize-controller github.com/fluxcd/kustomize-controller
module github.com/scorebot/scorebot/e2e/tools/kustomize-controller

go 1.26.0

require github.com/fluxcd/kustomize-controller v1.9.6

tool github.com/fluxcd/kustomize-controller

// The replaces of kustomize-controller's own go.mod (a dependency's replaces do not apply).
replace (
	github.com/opencontainers/go-digest => github.com/opencontainers/go-digest v1.0.1-0.20220411205349-bde1400a84be
	gopkg.in/yaml.v3 => gopkg.in/yaml.v3 v3.0.1
	sigs.k8s.io/kustomize/api => sigs.k8s.io/kustomize/api v0.21.1
	sigs.k8s.io/kustomize/kyaml => sigs.k8s.io/kustomize/kyaml v0.21.1
)
