package cluster

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestPoll(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	tests := []struct {
		name    string
		cond    func(n int) (bool, string, error)
		wantErr error
	}{
		{"done at once", func(int) (bool, string, error) { return true, "", nil }, nil},
		{"done on the third check", func(n int) (bool, string, error) { return n >= 3, "not yet", nil }, nil},
		{"error ends the wait", func(int) (bool, string, error) { return false, "", boom }, boom},
		{"never", func(int) (bool, string, error) { return false, "still missing", nil }, ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			err := Poll(ctx, 200*time.Millisecond, time.Millisecond, "x", func(context.Context) (bool, string, error) {
				n++
				return tt.cond(n)
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Poll: %v, want %v", err, tt.wantErr)
			}
			if errors.Is(err, ErrTimeout) && !strings.Contains(err.Error(), "still missing") {
				t.Errorf("timeout error %q does not say what was missing", err)
			}
		})
	}
}

// TestStopKillsGroup: Stop ends the process and every child it forked, by process group.
func TestStopKillsGroup(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	// The shell ignores SIGTERM and forks a child that outlives it unless the group is killed.
	p, err := startProcess("sh", sh, []string{"-c", `trap "" TERM; sleep 300 & echo $! > /dev/stderr; wait`}, nil, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pgid := p.cmd.Process.Pid
	p.Stop()
	if exited, _ := p.Exited(); !exited {
		t.Fatal("process not reaped after Stop")
	}
	if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still has members after Stop (kill 0: %v)", pgid, err)
	}
	p.Stop() // idempotent
}

// TestEtcd starts and stops a real etcd when one is installed.
func TestEtcd(t *testing.T) {
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("etcd not installed (apt-get install etcd-server)")
	}
	e, err := StartEtcd(context.Background(), Tools{Etcd: bin}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e.Stop()
	if exited, _ := e.proc.Exited(); !exited {
		t.Fatal("etcd still running after Stop")
	}
}
