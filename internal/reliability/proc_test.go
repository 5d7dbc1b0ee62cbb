package reliability

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is one child process the test owns: started, killed or stopped, and waited for by
// the goroutine Start launches (done closes when it exited).
type proc struct {
	name string
	argv []string
	env  []string
	log  string // stdout and stderr, appended across restarts
	// restartOnExit restarts the process when it exits on its own, as Kubernetes restarts a
	// crashed container (a bot that gives up on a slow cluster at start-up, say).
	restartOnExit bool

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	gen     int // bumped by every start and signal: a stale watcher must not restart
	crashes int // exits nobody asked for
	wg      sync.WaitGroup
}

func (p *proc) start(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		t.Fatalf("%s: already running", p.name)
	}
	if err := p.startLocked(); err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
}

func (p *proc) startLocked() error {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = f, f
	// The kernel kills the child if the test process dies first: nothing outlives the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	done := make(chan struct{})
	p.gen++
	gen := p.gen
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = cmd.Wait()
		f.Close()
		close(done)
		p.exited(gen)
	}()
	p.cmd, p.done = cmd, done
	return nil
}

// exited handles an exit of generation gen: one nobody asked for is counted, and restarted
// after a pause when restartOnExit is set (unless a signal or start came in meanwhile).
func (p *proc) exited(gen int) {
	p.mu.Lock()
	if p.gen != gen {
		p.mu.Unlock()
		return // signalled: an exit we asked for
	}
	p.crashes++
	p.cmd, p.done = nil, nil
	restart := p.restartOnExit
	p.mu.Unlock()
	if !restart {
		return
	}
	time.Sleep(500 * time.Millisecond) // restart back-off, as a kubelet's
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen == gen && p.cmd == nil {
		_ = p.startLocked()
	}
}

// unexpectedExits is how many times the process exited on its own.
func (p *proc) unexpectedExits() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.crashes
}

// signal sends sig and waits (bounded) for the process to exit; SIGKILL follows when a
// gentler signal was not obeyed in time.
func (p *proc) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd, p.done = nil, nil
	p.gen++
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return
	case <-time.After(30 * time.Second):
	}
	t.Logf("%s: did not exit on %v within 30s: SIGKILL", p.name, sig)
	_ = cmd.Process.Kill()
	<-done
}

func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// freePorts returns n distinct free TCP ports on 127.0.0.1 (held until all are picked).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// waitHTTP polls url until it answers 200, failing the test after timeout.
func waitHTTP(t testing.TB, what, url string, timeout time.Duration) {
	t.Helper()
	if err := pollHTTP(url, timeout); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func pollHTTP(url string, timeout time.Duration) error {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond) // polling interval of a bounded wait
	}
	return fmt.Errorf("%s not ready after %v: %s", url, timeout, last)
}

// natsCluster is three nats-server processes forming one JetStream cluster on loopback.
type natsCluster struct {
	nodes     []*proc
	client    []int    // client ports
	monitor   []int    // http ports
	store     []string // JetStream store dirs
	URL       string
	serverBin string
}

// buildNATSServer builds the nats-server release go.mod pins (the one the bot embeds and
// deploy/nats runs) into dir: the cluster is tested on the server production uses, not on
// whatever the machine's package manager has (Debian's 2.9 loses KV replica agreement after
// restarts, nats-io/nats-server#4174).
func buildNATSServer(t testing.TB, dir string) string {
	t.Helper()
	return goBuild(t, filepath.Join(dir, "nats-server"), "github.com/nats-io/nats-server/v2")
}

func startNATSCluster(t testing.TB, dir string) *natsCluster {
	t.Helper()
	natsServerBin := buildNATSServer(t, dir)
	ports := freePorts(t, 9)
	c := &natsCluster{client: ports[0:3], monitor: ports[3:6], serverBin: natsServerBin}
	routes := ports[6:9]
	var urls, routeURLs []string
	for i := range 3 {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", c.client[i]))
		routeURLs = append(routeURLs, fmt.Sprintf("nats-route://127.0.0.1:%d", routes[i]))
	}
	c.URL = strings.Join(urls, ",")
	for i := range 3 {
		c.store = append(c.store, filepath.Join(dir, "nats-"+strconv.Itoa(i+1)))
		conf := fmt.Sprintf(`server_name: rel-nats-%d
host: 127.0.0.1
port: %d
http_port: %d
max_payload: 32MB
jetstream {
  store_dir: %q
  max_file_store: 1GB
  max_memory_store: 64MB
}
cluster {
  name: reliability
  host: 127.0.0.1
  port: %d
  routes: [%s]
}
`, i+1, c.client[i], c.monitor[i], c.store[i], routes[i], strings.Join(routeURLs, ", "))
		path := filepath.Join(dir, fmt.Sprintf("nats-%d.conf", i+1))
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, &proc{name: fmt.Sprintf("nats-%d", i+1), argv: []string{natsServerBin, "-c", path},
			log: filepath.Join(dir, fmt.Sprintf("nats-%d.log", i+1))})
	}
	for _, n := range c.nodes {
		n.start(t)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.signal(t, syscall.SIGTERM)
		}
	})
	for i := range 3 {
		c.waitHealthy(t, i, time.Minute)
	}
	return c
}

// waitHealthy waits until node i answers /healthz with JetStream current.
func (c *natsCluster) waitHealthy(t testing.TB, i int, timeout time.Duration) {
	t.Helper()
	waitHTTP(t, c.nodes[i].name, fmt.Sprintf("http://127.0.0.1:%d/healthz", c.monitor[i]), timeout)
}

// bots is the set of bot processes sharing the cluster.
type bots struct {
	procs  []*proc
	listen []string
}

func (b *bots) url(i int) string { return "http://" + b.listen[i] }

// ready waits until bot i answers /readyz.
func (b *bots) ready(t testing.TB, i int, timeout time.Duration) {
	t.Helper()
	waitHTTP(t, b.procs[i].name, b.url(i)+"/readyz", timeout)
}

// ctxDone is a helper for loops that must stop with the test's context.
func ctxDone(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	default:
		return false
	}
}
