package reliability

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scorebot/scorebot/internal/envrepo"
	"github.com/scorebot/scorebot/internal/githost"
	"github.com/scorebot/scorebot/internal/pipeline"
	"github.com/scorebot/scorebot/internal/server"
)

// The disk-full cases run on a real, small file system: a tmpfs mounted in a mount namespace
// of their own, so nothing is mounted on the host and the mount vanishes with the process.
// The test re-executes its own binary for each case (diskFullChildEnv marks the child) in new
// user and mount namespaces (mount alone when already root); the child mounts the tmpfs,
// fills it with a ballast file, and runs the case against one in-process pipeline.

// diskFullChildEnv, set in the environment, marks the re-executed child that runs a case.
const diskFullChildEnv = "SCOREBOT_DISKFULL_CHILD"

func TestDiskFull(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, small string)
	}{
		{"data_dir", diskFullDataDir},
		{"git_server", diskFullGitServer},
		{"nats_store", diskFullNATSStore},
	} {
		t.Run(tc.name, func(t *testing.T) { inSmallFS(t, "16m", tc.run) })
	}
}

// inSmallFS runs body in a child process with a tmpfs of size mounted at small. In the
// parent it starts the child and reports its result; in the child it mounts and runs.
func inSmallFS(t *testing.T, size string, body func(t *testing.T, small string)) {
	if os.Getenv(diskFullChildEnv) == "" {
		runDiskFullChild(t)
		return
	}
	if err := syscall.Mount("", "/", "", syscall.MS_PRIVATE|syscall.MS_REC, ""); err != nil {
		t.Skipf("disk-full test: cannot make the mounts of its namespace private: %v", err)
	}
	small := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(small, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", small, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("disk-full test: cannot mount a tmpfs in its own mount namespace: %v", err)
	}
	// Before the temp dir is removed (cleanups run last registered first).
	t.Cleanup(func() { _ = syscall.Unmount(small, syscall.MNT_DETACH) })
	body(t, small)
}

// runDiskFullChild re-executes the test binary for t alone in new namespaces, bounded, and
// passes, skips or fails as the child did.
func runDiskFullChild(t *testing.T) {
	t.Helper()
	top, sub, _ := strings.Cut(t.Name(), "/")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+top+"$/^"+sub+"$", "-test.v=true", "-test.count=1", "-test.timeout=110s")
	cmd.Env = append(os.Environ(), diskFullChildEnv+"=1")
	attr := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() != 0 {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
	}
	cmd.SysProcAttr = attr
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Skipf("disk-full test needs new user and mount namespaces (or root for a mount namespace): %v", err)
	}
	err := cmd.Wait()
	text := out.String()
	if testing.Verbose() || err != nil {
		// Prefixed, so go test's output parser does not take the child's lines for ours.
		t.Logf("child process:\n%s", prefixLines(text, "child| "))
	}
	switch {
	case ctx.Err() != nil:
		t.Fatalf("child process timed out: %v", ctx.Err())
	case strings.Contains(text, "--- SKIP: "+t.Name()):
		t.Skipf("skipped in the child: %s", skipReason(text))
	case err != nil:
		t.Fatalf("child process: %v", err)
	case !strings.Contains(text, "--- PASS: "+t.Name()):
		t.Fatalf("child process ran no test %s", t.Name())
	}
}

func prefixLines(s, p string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = p + lines[i]
	}
	return strings.Join(lines, "\n")
}

// skipReason is the line of the child's output that says why it skipped.
func skipReason(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "disk-full test") {
			return strings.TrimSpace(l)
		}
	}
	return "(no reason given)"
}

// envPushes counts the pushes that moved a ref of the env repo, as the git host saw them.
type envPushes struct {
	mu sync.Mutex
	n  int
}

func (p *envPushes) record(repo string, ups []githost.RefUpdate) {
	if repo != "env" {
		return
	}
	p.mu.Lock()
	p.n += len(ups)
	p.mu.Unlock()
}

func (p *envPushes) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// settled waits until the git host has reported every push of the env repo's history (the
// host reports a push after its refs moved, so a reader can see the commit first) and
// returns the head and the count. Every commit but the seed was pushed.
func (s *single) settled(t *testing.T, p *envPushes) (envCommit, int) {
	t.Helper()
	var hist []envCommit
	waitFor(t, "the git host to report the env repo's pushes", 30*time.Second, func() bool {
		hist = s.envHistory(t)
		return p.count() >= len(hist)-1
	})
	if n := p.count(); n != len(hist)-1 {
		t.Fatalf("the env repo's main moved %d times for %d commits", n, len(hist)-1)
	}
	return hist[0], p.count()
}

// leave makes the file system at dir have about free bytes left: the ballast takes the rest.
func leave(t *testing.T, dir string, free int64) string {
	t.Helper()
	ballast := fill(t, dir)
	if free > 0 {
		fi, err := os.Stat(ballast)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(ballast, max(0, fi.Size()-free)); err != nil {
			t.Fatal(err)
		}
	}
	return ballast
}

// statusWith waits for a commit status on app@sha in state whose description holds want.
func (s *single) statusWith(t *testing.T, app, sha, state, want string, after int) string {
	t.Helper()
	var desc string
	waitFor(t, fmt.Sprintf("a %q status on %s holding %q", state, app, want), time.Minute, func() bool {
		st := s.gh.Statuses(owner, app, sha)
		for _, x := range st[min(after, len(st)):] {
			if x.State == state && strings.Contains(x.Description, want) {
				desc = x.Description
				return true
			}
		}
		return false
	})
	return desc
}

// noFailureStatus fails when a status on app@sha says the failure is permanent.
func (s *single) noFailureStatus(t *testing.T, app, sha string) {
	t.Helper()
	for _, x := range s.gh.Statuses(owner, app, sha) {
		if x.State == "failure" {
			t.Fatalf("status %q on %s: the fault was reported as permanent", x.Description, short(sha))
		}
	}
}

// envHead is the env repo's main, read from the bare repo.
func (s *single) envHead(t *testing.T) string {
	t.Helper()
	h := s.envHistory(t)
	if len(h) == 0 {
		t.Fatal("the env repo has no commit")
	}
	return h[0].Hash
}

// oneNewCommit checks that the env repo's head is one commit on top of before, deploying
// app@sha, with a linear, unduplicated history, and that the git host saw that one push.
func (s *single) oneNewCommit(t *testing.T, before envCommit, pushesBefore int, p *envPushes, app, sha string) envCommit {
	t.Helper()
	head, pushesNow := s.settled(t, p)
	hist := s.envHistory(t)
	if len(head.Parents) != 1 || head.Parents[0] != before.Hash {
		t.Fatalf("env head %s has parents %v, want exactly %s", short(head.Hash), head.Parents, short(before.Hash))
	}
	if got := head.Trailers[pipeline.TrailerSourceCommit]; got != sha {
		t.Fatalf("env head deploys %s, want %s", got, sha)
	}
	if c := checkHistory(hist); c.Duplicated != 0 || len(c.NonLinear) != 0 {
		t.Fatalf("env history: %+v", c)
	}
	if pushesNow != pushesBefore+1 {
		t.Fatalf("the env repo's main was moved %d times, want once", pushesNow-pushesBefore)
	}
	return head
}

// noDeadLetters checks that nothing was dead-lettered and the queue is drained.
func (s *single) noDeadLetters(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var q queueState
	waitFor(t, "the queue to drain", 30*time.Second, func() bool {
		var err error
		q, err = readQueue(ctx, s.js)
		return err == nil && q.Pending == 0 && q.AckPending == 0
	})
	if q.DLQMsgs != 0 {
		t.Fatalf("%d events dead-lettered", q.DLQMsgs)
	}
}

// jobs sums scorebot_pipeline_jobs_total for outcome.
func jobs(t *testing.T, reg *prometheus.Registry, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "scorebot_pipeline_jobs_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// fsckAll runs git fsck on every bare repo under dir: a cache left damaged fails it.
func fsckAll(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if _, err := os.Stat(filepath.Join(p, "HEAD")); err != nil || filepath.Base(p) == "objects" {
			return nil
		}
		n++
		if out, err := exec.Command("git", "-C", p, "fsck", "--no-dangling", "--no-progress").CombinedOutput(); err != nil {
			t.Errorf("git fsck %s: %v\n%s", p, err, out)
		}
		return filepath.SkipDir
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// leftovers lists temporary and lock files under dir: what a write cut short leaves.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b := d.Name()
		if strings.HasPrefix(b, "tmp_") || strings.HasSuffix(b, ".lock") || strings.HasPrefix(b, "incoming-") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// cleanBotAgrees stops the pipeline, starts a fresh one on an empty data dir, redelivers
// app@sha and expects it to find the env repo already holding what it renders: the tree the
// recovered deploy committed is the tree a bot that never saw the fault commits.
func (s *single) cleanBotAgrees(t *testing.T, stop func(), app, sha string) {
	t.Helper()
	stop()
	commits := len(s.envHistory(t))
	s.dataDir = filepath.Join(t.TempDir(), "clean-bot")
	s.start(t)
	after := len(s.gh.Statuses(owner, app, sha))
	s.publishRaw(t, app, githost.ZeroSHA, sha)
	s.statusWith(t, app, sha, "success", "already up to date", after)
	if n := len(s.envHistory(t)); n != commits {
		t.Fatalf("a bot with a clean data dir committed again (%d commits, was %d): the recovered tree is not what it renders", n, commits)
	}
}

// diskFullDataDir: the bot's data dir is on the small file system, filled while the bot runs
// (its caches warm), to several levels: nothing left, and a little left, so that the fault
// lands in the app fetch, the env-repo sync or the storing of the pushed objects. Each push
// must fail as transient (never as permanent, never dead-lettered) or deploy; nothing may be
// pushed while it fails; once the ballast is removed the redelivery deploys exactly one commit.
// Afterwards every cache passes git fsck, no temporary file is left, a restarted bot on the
// same data dir deploys the next push, and a bot with a clean data dir renders the same tree.
func diskFullDataDir(t *testing.T, small string) {
	pushes := &envPushes{}
	s := newSingle(t, filepath.Join(small, "bot"), githost.WithOnPush(pushes.record))
	reg := prometheus.NewRegistry()
	withReg := func(c *pipeline.Config) { c.Registerer = reg }
	stop := s.startCfg(t, withReg)
	first := s.push(t, "web")
	waitFor(t, "the first deploy", time.Minute, func() bool { return s.deployed(t, "web", first) })

	// Another writer of the env repo (as another bot replica would be), so that the bot's
	// clone is behind and its next deploy fetches into it.
	other, err := envrepo.Open(envrepo.Config{URL: s.gitURL("env"), Dir: filepath.Join(t.TempDir(), "other"), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	level := 0
	for _, free := range []int64{0, 4 << 10, 8 << 10, 12 << 10, 16 << 10, 20 << 10, 28 << 10, 40 << 10, 64 << 10} {
		for _, behind := range []bool{false, true} {
			level++
			name := fmt.Sprintf("%d KiB free, clone %s", free>>10, map[bool]string{false: "current", true: "behind"}[behind])
			if behind {
				dir := fmt.Sprintf("other/%d", level)
				if _, err := other.Apply(context.Background(), envrepo.Message{Subject: "another writer"},
					envrepo.Change{Owned: []string{dir}, Files: map[string][]byte{dir + "/README.md": []byte(name + "\n")}}); err != nil {
					t.Fatal(err)
				}
			}
			mark := len(s.logs.String())
			diskFullLevel(t, s, reg, pushes, small, free, name)
			for _, l := range strings.Split(s.logs.String()[mark:], "\n") {
				if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
					t.Logf("  %s: %s", name, logGist(l))
				}
			}
			// Nothing half-written is left, and every cache reads back whole.
			if l := leftovers(t, s.dataDir); len(l) != 0 {
				t.Fatalf("%s: files left half-written in the data dir:\n%s", name, strings.Join(l, "\n"))
			}
			fsckAll(t, s.dataDir)
			if t.Failed() {
				t.FailNow()
			}
		}
	}
	if r := jobs(t, reg, pipeline.OutcomeRetry); r == 0 {
		t.Fatal("no job was retried")
	}
	if f := jobs(t, reg, pipeline.OutcomeFailed); f != 0 {
		t.Fatalf("%v jobs failed permanently", f)
	}
	// A full disk damages no cache: none had to be fetched or cloned afresh.
	for _, healed := range []string{"fetching afresh", "cloning afresh"} {
		if s.logs.has(healed) {
			t.Errorf("a cache was found unreadable after the disk filled (%q in the log)", healed)
		}
	}
	logErrors(t, s.logs, "no space left on device")

	// The caches left behind are sound: git fsck, no temporary file, and a restarted bot on
	// the same data dir deploys from them.
	stop()
	if n := fsckAll(t, s.dataDir); n == 0 {
		t.Fatalf("no git repo under %s", s.dataDir)
	}
	if l := leftovers(t, s.dataDir); len(l) != 0 {
		t.Fatalf("files left half-written in the data dir:\n%s", strings.Join(l, "\n"))
	}
	stop = s.startCfg(t, withReg)
	before, pushed := s.settled(t, pushes)
	last := s.push(t, "web")
	waitFor(t, "the deploy after a restart on the same data dir", time.Minute, func() bool { return s.deployed(t, "web", last) })
	s.oneNewCommit(t, before, pushed, pushes, "web", last)
	s.cleanBotAgrees(t, stop, "web", last)
}

// diskFullLevel pushes the next version of web with about free bytes left on the data
// dir's file system; the deploy fails as transient or succeeds, and once the ballast is
// removed exactly one commit has landed.
func diskFullLevel(t *testing.T, s *single, reg *prometheus.Registry, pushes *envPushes, small string, free int64, name string) {
	t.Helper()
	before, pushed := s.settled(t, pushes)
	retries, enospc := jobs(t, reg, pipeline.OutcomeRetry), strings.Count(s.logs.String(), "no space left on device")
	ballast := leave(t, small, free)
	sha := s.push(t, "web")
	failed := false
	waitFor(t, fmt.Sprintf("the deploy or a disk-full failure of %s (%s)", short(sha), name), time.Minute, func() bool {
		failed = strings.Count(s.logs.String(), "no space left on device") > enospc && jobs(t, reg, pipeline.OutcomeRetry) > retries
		return failed || s.deployed(t, "web", sha)
	})
	if failed && !s.deployed(t, "web", sha) {
		if got := pushes.count(); got != pushed {
			t.Fatalf("%s: the env repo moved while the deploy was failing", name)
		}
		desc := s.statusWith(t, "web", sha, "error", "no space left on device", 0)
		t.Logf("%s: failed as transient, status %q", name, desc)
	} else {
		if free == 0 {
			t.Fatal("deployed with no byte free?")
		}
		t.Logf("%s: deployed", name)
	}
	s.noFailureStatus(t, "web", sha)
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deploy once space is free", time.Minute, func() bool { return s.deployed(t, "web", sha) })
	s.oneNewCommit(t, before, pushed, pushes, "web", sha)
	s.statusWith(t, "web", sha, "success", "deployed to development", 0)
	s.noDeadLetters(t)
}

// logGist is a log line's message and error, without the time and the job's attributes.
func logGist(l string) string {
	out := l
	if i := strings.Index(l, "msg="); i >= 0 {
		out = l[i:]
		if j := strings.Index(out, " component="); j >= 0 {
			if k := strings.Index(out, " err="); k > j {
				out = out[:j] + out[k:]
			} else {
				out = out[:j]
			}
		}
	}
	return out
}

// diskFullGitServer: the env repo's bare dir on the git server is on the small file system,
// filled before a push reaches it, so receive-pack cannot store the objects. The bot must
// treat that as transient, leave the env repo as it was (git fsck clean, main unmoved), and
// once the ballast is removed land exactly one commit.
func diskFullGitServer(t *testing.T, small string) {
	pushes := &envPushes{}
	s := newSingle(t, "", githost.WithOnPush(pushes.record))
	// Move the seeded env repo onto the small file system; the host serves it by a symlink.
	envDir := s.host.Dir("env")
	moved := filepath.Join(small, "env.git")
	if out, err := exec.Command("cp", "-a", envDir, moved).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	if err := os.RemoveAll(envDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(moved, envDir); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	stop := s.startCfg(t, func(c *pipeline.Config) { c.Registerer = reg; c.PushAttempts = 3 })
	first := s.push(t, "web")
	waitFor(t, "the first deploy", time.Minute, func() bool { return s.deployed(t, "web", first) })

	before, pushed := s.settled(t, pushes)
	ballast := leave(t, small, 0)
	sha := s.push(t, "web")
	desc := s.statusWith(t, "web", sha, "error", "", 0)
	t.Logf("status while the server's disk is full: %q", desc)
	waitFor(t, "a retried job", time.Minute, func() bool { return jobs(t, reg, pipeline.OutcomeRetry) > 0 })
	if s.envHead(t) != before.Hash || pushes.count() != pushed {
		t.Fatal("the env repo's main moved while its disk was full")
	}
	if out, err := exec.Command("git", "-C", moved, "fsck", "--no-dangling", "--no-progress").CombinedOutput(); err != nil {
		t.Fatalf("git fsck of the env repo on a full disk: %v\n%s", err, out)
	}
	s.noFailureStatus(t, "web", sha)
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deploy once the server has space", time.Minute, func() bool { return s.deployed(t, "web", sha) })
	s.oneNewCommit(t, before, pushed, pushes, "web", sha)
	s.noFailureStatus(t, "web", sha)
	s.noDeadLetters(t)
	if f := jobs(t, reg, pipeline.OutcomeFailed); f != 0 {
		t.Fatalf("%v jobs failed permanently", f)
	}
	if out, err := exec.Command("git", "-C", moved, "fsck", "--no-dangling", "--no-progress").CombinedOutput(); err != nil {
		t.Fatalf("git fsck of the env repo: %v\n%s", err, out)
	}
	if l := leftovers(t, moved); len(l) != 0 {
		t.Fatalf("files left half-written in the env repo on the server:\n%s", strings.Join(l, "\n"))
	}
	if s.logs.has("cloning afresh") {
		t.Fatal("the bot's env clone was removed and cloned afresh for the server's full disk")
	}
	for _, marker := range []string{"unpack", "no space left on device"} {
		logErrors(t, s.logs, marker)
	}
	s.cleanBotAgrees(t, stop, "web", sha)
}

// short is the first 7 characters of a sha.
func short(sha string) string { return sha[:min(7, len(sha))] }

// diskFullNATSStore: the bot process (internal/server: embedded nats-server, webhook intake,
// /readyz) with the embedded server's store on the small file system; webhooks signed and
// POSTed to its intake over HTTP; the pipeline beside it, stopped while the disk fills, so
// that events accepted before the fault are still on the stream. With the disk full a webhook
// is never answered 2xx (503, naming the store) and /readyz fails naming the cause; once the
// ballast is removed, without restarting the process, the refused deliveries redelivered and
// a new push are accepted, and every event accepted before, during or after is deployed.
func diskFullNATSStore(t *testing.T, small string) {
	logs := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			t.Logf("bot log, last lines:\n%s", strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	})
	dir := t.TempDir()
	w := newWorldWith(t, dir)
	w.seedRules("pg.db.svc")
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := server.New(server.Config{
		Listen: "127.0.0.1:0", Secret: []byte(webhookSecret), DataDir: filepath.Join(small, "bot"),
		Logger: log, PublishTimeout: 2 * time.Second, ShutdownTimeout: 10 * time.Second,
		StoreCheckInterval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server Run: %v", err)
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("server Run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the server was not ready within 30s")
	}
	base := "http://" + srv.Addr()
	// The pipeline on the server's JetStream, its data dir off the small file system.
	s := &single{world: w, js: srv.JetStream(), logs: logs, dataDir: filepath.Join(dir, "pipeline"), waits: &waitLog{}}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	post := func(delivery string, body []byte) (int, string) {
		t.Helper()
		rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer rcancel()
		req, err := webhookRequest(rctx, base, delivery, body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST webhook %s: %v", delivery, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	accepted := map[string]string{} // app → commit answered 202
	deliver := func(app string) (delivery, sha string, body []byte, code int, msg string) {
		t.Helper()
		s.n++
		sha, body, err := w.commit(context.Background(), app, s.n)
		if err != nil {
			t.Fatal(err)
		}
		delivery = fmt.Sprintf("natsstore-%d", s.n)
		code, msg = post(delivery, body)
		if code == http.StatusAccepted {
			accepted[app] = sha
		}
		return delivery, sha, body, code, msg
	}

	// Warm: one deploy through the intake, so that the consumer exists on the store.
	stop := s.start(t)
	if _, _, _, code, msg := deliver("web"); code != http.StatusAccepted {
		t.Fatalf("warm-up webhook: %d %s", code, msg)
	}
	waitFor(t, "the warm-up deploy", time.Minute, func() bool { return s.deployed(t, "web", accepted["web"]) })
	stop()

	// Accepted before the fault, not yet processed: the workers are stopped.
	for _, app := range []string{"app-001", "app-002", "app-003"} {
		if _, _, _, code, msg := deliver(app); code != http.StatusAccepted {
			t.Fatalf("webhook before the fault: %d %s", code, msg)
		}
	}

	ballast := fill(t, small)
	// A webhook the store cannot take is never answered 2xx: GitHub would count it
	// delivered. (One that still fits in the last free bytes may be stored and answered 202.)
	type refusal struct {
		app, delivery, sha string
		body               []byte
	}
	var refused []refusal
	for i := 1; i <= 8 && len(refused) < 2; i++ {
		app := fmt.Sprintf("app-%03d", 10+i)
		delivery, sha, body, code, msg := deliver(app)
		switch {
		case code == http.StatusAccepted:
			t.Logf("webhook %s with the disk full: accepted (it fitted)", delivery)
		case code >= 500:
			if !strings.Contains(msg, "event store unavailable") {
				t.Fatalf("webhook %s with the disk full: %d %s, want a body naming the event store", delivery, code, msg)
			}
			t.Logf("webhook %s with the disk full: %d %s", delivery, code, msg)
			refused = append(refused, refusal{app, delivery, sha, body})
		default:
			t.Fatalf("webhook %s with the disk full: %d %s, want 202 (stored) or 5xx", delivery, code, msg)
		}
	}
	if len(refused) == 0 {
		t.Fatal("every webhook was accepted with the store's disk full")
	}
	var ready string
	waitFor(t, "/readyz to fail while the store cannot write", 30*time.Second, func() bool {
		code, msg := get("/readyz")
		ready = msg
		return code == http.StatusServiceUnavailable && strings.Contains(msg, "no space left on device")
	})
	t.Logf("readyz with the disk full: 503 %s", ready)
	for _, marker := range []string{"webhook not stored", "Critical write error", "embedded NATS store cannot store events"} {
		if !logs.has(marker) {
			t.Errorf("no %q in the log", marker)
		}
		logErrors(t, logs, marker)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz %d with the disk full: a restart does not free the disk", code)
	}

	// Space again: the process recovers on its own (JetStream restarted on the store).
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	for _, r := range refused {
		var code int
		var msg string
		waitFor(t, "the redelivery of "+r.delivery+" to be accepted", 45*time.Second, func() bool {
			code, msg = post(r.delivery, r.body)
			return code == http.StatusAccepted
		})
		accepted[r.app] = r.sha
		t.Logf("redelivery of %s after the ballast is removed: %d %s", r.delivery, code, msg)
	}
	if _, _, _, code, msg := deliver("app-030"); code != http.StatusAccepted {
		t.Fatalf("new webhook after the ballast is removed: %d %s", code, msg)
	}
	waitFor(t, "/readyz to answer 200 again", 30*time.Second, func() bool {
		code, _ := get("/readyz")
		return code == http.StatusOK
	})
	logErrors(t, logs, "JetStream restarted on the embedded store")

	// Nothing accepted is lost: every event answered 202 is deployed.
	s.start(t)
	apps := make([]string, 0, len(accepted))
	for app := range accepted {
		apps = append(apps, app)
	}
	sort.Strings(apps)
	for _, app := range apps {
		waitFor(t, "the deploy of "+app, time.Minute, func() bool { return s.deployed(t, app, accepted[app]) })
	}
	s.noDeadLetters(t)
	if c := checkHistory(s.envHistory(t)); c.Duplicated != 0 || len(c.NonLinear) != 0 {
		t.Fatalf("env history: %+v", c)
	}

	// Again with the workers running: the disk fills and JetStream is restarted under them;
	// the same workers, not restarted, deploy what is accepted afterwards.
	restarts := strings.Count(logs.String(), "JetStream restarted on the embedded store")
	ballast = fill(t, small)
	var again *refusal
	for i := 1; i <= 8 && again == nil; i++ {
		app := fmt.Sprintf("app-%03d", 40+i)
		delivery, sha, body, code, msg := deliver(app)
		switch {
		case code >= 500:
			again = &refusal{app, delivery, sha, body}
		case code != http.StatusAccepted:
			t.Fatalf("webhook %s with the disk full again: %d %s", delivery, code, msg)
		}
	}
	if again == nil {
		t.Fatal("every webhook was accepted with the store's disk full again")
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "JetStream restarted again, under the running workers", 45*time.Second, func() bool {
		code, _ := get("/readyz")
		return code == http.StatusOK && strings.Count(logs.String(), "JetStream restarted on the embedded store") > restarts
	})
	restartedAt := time.Now()
	waitFor(t, "the redelivery of "+again.delivery+" to be accepted", 45*time.Second, func() bool {
		code, _ := post(again.delivery, again.body)
		return code == http.StatusAccepted
	})
	accepted[again.app] = again.sha
	if _, _, _, code, msg := deliver("app-060"); code != http.StatusAccepted {
		t.Fatalf("new webhook after the second restart: %d %s", code, msg)
	}
	for _, app := range []string{again.app, "app-060"} {
		waitFor(t, "the deploy of "+app+" by the workers that ran through the restart", time.Minute,
			func() bool { return s.deployed(t, app, accepted[app]) })
		t.Logf("%s deployed %v after the second restart", app, time.Since(restartedAt).Round(time.Second))
	}
	for app, sha := range accepted {
		if !s.deployed(t, app, sha) {
			t.Errorf("%s@%s accepted but not deployed", app, sha[:7])
		}
	}
	s.noDeadLetters(t)
	if c := checkHistory(s.envHistory(t)); c.Duplicated != 0 || len(c.NonLinear) != 0 {
		t.Fatalf("env history after the second restart: %+v", c)
	}
}
