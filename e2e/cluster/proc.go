package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// stopGrace is how long a process gets to exit after SIGTERM before its group is killed.
const stopGrace = 10 * time.Second

// Process is one server the tier started: its own process group, its output in a log file.
// Stop ends the whole group by PID.
type Process struct {
	Name string
	Log  string // path of the combined stdout/stderr

	cmd   *exec.Cmd
	grace time.Duration // between SIGTERM and SIGKILL
	done  chan struct{} // closed when the process has exited and been reaped
	err   error         // the exit status, valid after done
}

// startProcess starts bin with args and env (added to a minimal base environment) in its own
// process group, writing its output to <logDir>/<name>.log. The child is killed if the test
// binary dies (Pdeathsig), so no server outlives a crashed test.
func startProcess(name, bin string, args, env []string, logDir string) (*Process, error) {
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &Process{Name: name, Log: logPath, cmd: cmd, grace: stopGrace, done: make(chan struct{})}
	go func() { // owned by p: Stop waits for done
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM to the process group, waits up to its grace (stopGrace), then SIGKILLs
// the group. It
// returns once the process has been reaped. Safe to call more than once.
func (p *Process) Stop() {
	if p == nil {
		return
	}
	pgid := p.cmd.Process.Pid
	if exited, _ := p.Exited(); !exited {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(p.grace):
		}
	}
	// Anything left in the group (a child the server forked) goes too.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
}

// Tail returns the last n bytes of the process's log, for failure reports.
func (p *Process) Tail(n int) string {
	b, err := os.ReadFile(p.Log)
	if err != nil {
		return fmt.Sprintf("(%s log unreadable: %v)", p.Name, err)
	}
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// freePorts returns n distinct free TCP ports on 127.0.0.1. The listeners are held until all n
// are chosen, so the ports differ; a race with another process taking one before the server
// binds it is possible but shows up as a clear start failure.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// ErrTimeout is returned (wrapped) when a condition did not hold before its deadline.
var ErrTimeout = errors.New("timed out")

// Poll checks cond every interval until it returns true, returns an error, or timeout passes.
// The last "not yet" reason cond gave is part of the timeout error, so a failure says what was
// still missing. Polling a condition with a deadline is the tier's only way of waiting.
func Poll(ctx context.Context, timeout, interval time.Duration, what string, cond func(ctx context.Context) (done bool, reason string, err error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	last := "not checked yet"
	for {
		done, reason, err := cond(ctx)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if done {
			return nil
		}
		if reason != "" {
			last = reason
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w after %s: %s", what, ErrTimeout, timeout, last)
		case <-tick.C:
		}
	}
}
