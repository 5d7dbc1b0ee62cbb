# Targets beyond `go test ./...`. See docs/flux-contract.md for the e2e tier.
.PHONY: e2e e2e-tools

# The Flux end-to-end tier: builds its servers into e2e/bin/ when missing (first time: about 20
# minutes on 2 cores), then runs real etcd, kube-apiserver and Flux controllers on 127.0.0.1.
e2e: e2e-tools
	cd e2e && go test -count=1 -timeout 60m ./...

e2e-tools:
	e2e/tools/build.sh
