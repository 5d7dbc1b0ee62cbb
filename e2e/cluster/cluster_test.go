package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
	// Stop only once the shell ignores SIGTERM and its child runs.
	err = Poll(context.Background(), 30*time.Second, 10*time.Millisecond, "child started", func(context.Context) (bool, string, error) {
		return strings.TrimSpace(p.Tail(100)) != "", "", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p.grace = 100 * time.Millisecond
	start := time.Now()
	p.Stop()
	t.Logf("stopped in %s (SIGTERM ignored, group SIGKILLed)", time.Since(start))
	if exited, _ := p.Exited(); !exited {
		t.Fatal("process not reaped after Stop")
	}
	// SIGKILL is delivered asynchronously and an orphan is reaped by init: wait (bounded) until
	// no member of the group is alive; a zombie is dead.
	err = Poll(context.Background(), 30*time.Second, 10*time.Millisecond, "process group gone", func(context.Context) (bool, string, error) {
		alive := groupAlive(t, pgid)
		return len(alive) == 0, fmt.Sprintf("still alive: %v", alive), nil
	})
	if err != nil {
		t.Error(err)
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

// groupAlive lists the live (not zombie) processes whose process group is pgid, from /proc.
func groupAlive(t *testing.T, pgid int) []string {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var alive []string
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces, so split after the last ')'.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(b[i+1:]))
		if len(fields) < 3 || fields[0] == "Z" {
			continue
		}
		if pg, _ := strconv.Atoi(fields[2]); pg == pgid {
			alive = append(alive, strings.TrimSpace(string(b[:i+1])))
		}
	}
	return alive
}
