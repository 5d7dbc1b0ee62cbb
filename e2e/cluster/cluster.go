// Package cluster runs a real, node-less Kubernetes control plane with Flux's source-controller
// and kustomize-controller on 127.0.0.1, for the e2e tier: etcd, kube-apiserver (with
// generated certificates and service-account keys), the real CRDs read from their Go modules,
// and the two controllers as processes pointed at the API server through a kubeconfig.
//
// It owns the processes it starts and the files under the directories it is given; every
// process is stopped by PID (its process group) by Stop, and is killed with the test binary
// if that dies. It must not know about Scorebot's render or env repo: the tests wire those.
// There is no kubelet, scheduler or controller-manager: objects are stored and validated, pods
// never run.
package cluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FluxNamespace is where the controllers look for their objects (RUNTIME_NAMESPACE) and where
// flux bootstrap puts flux-system.
const FluxNamespace = "flux-system"

// Tools are the server binaries.
type Tools struct {
	Etcd, APIServer, SourceController, KustomizeController string
}

// ErrNoTool is returned (wrapped) when a server binary is missing.
var ErrNoTool = errors.New("e2e server binary missing")

// FindTools finds the binaries `e2e/tools/build.sh` writes into binDir; etcd is E2E_ETCD,
// binDir/etcd, or etcd on PATH (Debian's etcd-server).
func FindTools(binDir string) (Tools, error) {
	t := Tools{
		APIServer:           filepath.Join(binDir, "kube-apiserver"),
		SourceController:    filepath.Join(binDir, "source-controller"),
		KustomizeController: filepath.Join(binDir, "kustomize-controller"),
	}
	switch {
	case os.Getenv("E2E_ETCD") != "":
		t.Etcd = os.Getenv("E2E_ETCD")
	case isExec(filepath.Join(binDir, "etcd")):
		t.Etcd = filepath.Join(binDir, "etcd")
	default:
		if p, err := exec.LookPath("etcd"); err == nil {
			t.Etcd = p
		}
	}
	var missing []string
	for name, p := range map[string]string{"etcd": t.Etcd, "kube-apiserver": t.APIServer, "source-controller": t.SourceController, "kustomize-controller": t.KustomizeController} {
		if p == "" || !isExec(p) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return t, fmt.Errorf("%w: %s in %s: run `make e2e` (it runs e2e/tools/build.sh) and install Debian's etcd-server (or set E2E_ETCD)", ErrNoTool, strings.Join(missing, ", "), binDir)
	}
	return t, nil
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Etcd is a single-member etcd on 127.0.0.1. Several clusters share one, each under its own
// key prefix.
type Etcd struct {
	URL  string
	proc *Process
}

// StartEtcd starts etcd with its data under dir and waits until it answers /health.
func StartEtcd(ctx context.Context, tools Tools, dir string) (*Etcd, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	client, peer := "http://"+hostPort(ports[0]), "http://"+hostPort(ports[1])
	p, err := startProcess("etcd", tools.Etcd, []string{
		"--name=e2e",
		"--data-dir=" + filepath.Join(dir, "data"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=e2e=" + peer,
		"--logger=zap",
		"--log-level=warn",
	}, nil, dir)
	if err != nil {
		return nil, err
	}
	e := &Etcd{URL: client, proc: p}
	hc := &http.Client{Timeout: 2 * time.Second}
	if err := waitReady(ctx, p, time.Minute, hc, client+"/health"); err != nil {
		e.Stop()
		return nil, err
	}
	return e, nil
}

// Stop stops etcd by PID.
func (e *Etcd) Stop() { e.proc.Stop() }

// Options configures one cluster.
type Options struct {
	Tools Tools
	Etcd  *Etcd
	// Name names the cluster in errors; its etcd key prefix is Name plus a random suffix, so
	// clusters on one Etcd never see each other's objects.
	Name string
	// Dir holds certificates, the kubeconfig, logs and the artifact storage.
	Dir string
	// CRDFiles are YAML files whose CustomResourceDefinitions are installed before the
	// controllers start (other kinds in them are ignored).
	CRDFiles []string
	// ControllerArgs are extra flags for both controllers (e.g. --requeue-dependency=5s).
	ControllerArgs []string
}

// Cluster is a running API server with Flux's controllers.
type Cluster struct {
	Name       string
	Kubeconfig string
	Config     *rest.Config
	Client     client.Client
	Scheme     *runtime.Scheme

	procs []*Process // in start order
}

// Start starts the API server, installs the CRDs and the flux-system namespace, starts
// source-controller and kustomize-controller, and waits until all are ready. On error
// everything started is stopped.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	c = &Cluster{Name: opts.Name}
	defer func() {
		if err != nil {
			err = fmt.Errorf("cluster %s: %w%s", opts.Name, err, c.tails())
			c.Stop()
			c = nil
		}
	}()
	pk, err := newPKI(filepath.Join(opts.Dir, "pki"))
	if err != nil {
		return c, err
	}
	ports, err := freePorts(6)
	if err != nil {
		return c, err
	}
	apiPort := ports[0]
	server := "https://" + hostPort(apiPort)
	logDir := filepath.Join(opts.Dir, "logs")

	api, err := startProcess("kube-apiserver", opts.Tools.APIServer, []string{
		"--etcd-servers=" + opts.Etcd.URL,
		"--etcd-prefix=/" + opts.Name + "-" + rand.Text(),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", apiPort),
		"--tls-cert-file=" + pk.ServingCert,
		"--tls-private-key-file=" + pk.ServingKey,
		"--client-ca-file=" + pk.CACert,
		"--cert-dir=" + filepath.Join(opts.Dir, "pki", "generated"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + pk.SAPub,
		"--service-account-signing-key-file=" + pk.SAKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--authorization-mode=RBAC",
		// No node runs the endpoints of the kubernetes Service on loopback.
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--v=0",
	}, nil, logDir)
	if err != nil {
		return c, err
	}
	c.procs = append(c.procs, api)

	kubeconfig := filepath.Join(opts.Dir, "kubeconfig")
	if err := writeKubeconfig(kubeconfig, server, pk); err != nil {
		return c, err
	}
	c.Kubeconfig = kubeconfig
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return c, fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	c.Config = cfg

	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return c, fmt.Errorf("tls config: %w", err)
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	defer hc.CloseIdleConnections()
	if err := waitReady(ctx, api, 3*time.Minute, hc, server+"/readyz"); err != nil {
		return c, err
	}

	c.Scheme = runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, sourcev1.AddToScheme, kustomizev1.AddToScheme} {
		if err := add(c.Scheme); err != nil {
			return c, fmt.Errorf("scheme: %w", err)
		}
	}
	c.Client, err = client.New(cfg, client.Options{Scheme: c.Scheme})
	if err != nil {
		return c, fmt.Errorf("client: %w", err)
	}
	if err := c.installCRDs(ctx, opts.CRDFiles); err != nil {
		return c, err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: FluxNamespace}}
	if err := c.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return c, fmt.Errorf("create namespace %s: %w", FluxNamespace, err)
	}

	env := []string{
		"KUBECONFIG=" + kubeconfig,
		"RUNTIME_NAMESPACE=" + FluxNamespace,
		"HOME=" + opts.Dir,
	}
	type ctrl struct {
		name, bin string
		args      []string
	}
	storage := hostPort(ports[1])
	if err := os.MkdirAll(filepath.Join(opts.Dir, "storage"), 0o755); err != nil {
		return c, err
	}
	ctrls := []ctrl{
		{"source-controller", opts.Tools.SourceController, []string{
			"--storage-path=" + filepath.Join(opts.Dir, "storage"),
			"--storage-addr=" + storage,
			"--storage-adv-addr=" + storage,
			"--metrics-addr=" + hostPort(ports[2]),
			"--health-addr=" + hostPort(ports[3]),
		}},
		{"kustomize-controller", opts.Tools.KustomizeController, []string{
			"--metrics-addr=" + hostPort(ports[4]),
			"--health-addr=" + hostPort(ports[5]),
		}},
	}
	health := []string{hostPort(ports[3]), hostPort(ports[5])}
	for i, k := range ctrls {
		tmp := filepath.Join(opts.Dir, k.name+"-tmp")
		if err := os.MkdirAll(tmp, 0o755); err != nil {
			return c, err
		}
		args := append(append([]string{"--log-level=info", "--enable-leader-election=false"}, k.args...), opts.ControllerArgs...)
		p, err := startProcess(k.name, k.bin, args, append(env, "TMPDIR="+tmp), logDir)
		if err != nil {
			return c, err
		}
		c.procs = append(c.procs, p)
		if err := waitReady(ctx, p, 2*time.Minute, hc, "http://"+health[i]+"/readyz"); err != nil {
			return c, err
		}
	}
	return c, nil
}

// waitReady polls url until it answers 200, failing early, with the end of its output, when
// p exits.
func waitReady(ctx context.Context, p *Process, timeout time.Duration, hc *http.Client, url string) error {
	return Poll(ctx, timeout, 100*time.Millisecond, p.Name+" "+url, func(ctx context.Context) (bool, string, error) {
		if exited, err := p.Exited(); exited {
			return false, "", fmt.Errorf("%s exited (%v):\n%s", p.Name, err, p.Tail(4000))
		}
		return httpOK(ctx, hc, url)
	})
}

func httpOK(ctx context.Context, hc *http.Client, url string) (bool, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, err.Error(), nil
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, resp.Status, nil
	}
	return true, "", nil
}

func writeKubeconfig(path, server string, pk *pki) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: pk.caPEM}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificate: pk.ClientCert, ClientKey: pk.ClientKey}
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "admin"}
	cfg.CurrentContext = "e2e"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// Stop stops the controllers, then the API server, each by PID. Safe to call more than once
// and on a partly started cluster.
func (c *Cluster) Stop() {
	if c == nil {
		return
	}
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].Stop()
	}
}

// Logs returns the tail of every process's log, for a failing test's report.
func (c *Cluster) Logs(n int) string {
	if c == nil {
		return ""
	}
	var b strings.Builder
	for _, p := range c.procs {
		fmt.Fprintf(&b, "\n--- %s (%s), last %d bytes ---\n%s", p.Name, p.Log, n, p.Tail(n))
	}
	return b.String()
}

func (c *Cluster) tails() string { return c.Logs(3000) }
