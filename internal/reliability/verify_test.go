package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"sigs.k8s.io/yaml"

	"github.com/scorebot/scorebot/internal/events"
	"github.com/scorebot/scorebot/internal/pipeline"
	"github.com/scorebot/scorebot/internal/render/envtree"
)

// envCommit is one commit of the env repo, read from the bare repo on disk.
type envCommit struct {
	Hash     string
	Parents  []string
	Trailers map[string]string
}

// envHistory is the env repo's main, newest first, read with git from the bare repo (no
// HTTP, so injected faults cannot hit it).
func (w *world) envHistory(t testing.TB) []envCommit {
	t.Helper()
	out, err := exec.Command("git", "-C", w.host.Dir("env"), "log", "--format=%H%x00%P%x00%B%x1e", "main").Output()
	if err != nil {
		t.Fatalf("git log: %v", err)
	}
	var log []envCommit
	for _, rec := range strings.Split(string(out), "\x1e") {
		f := strings.SplitN(strings.TrimLeft(rec, "\n"), "\x00", 3)
		if len(f) < 3 {
			continue
		}
		c := envCommit{Hash: f[0], Parents: strings.Fields(f[1]), Trailers: map[string]string{}}
		for _, line := range strings.Split(f[2], "\n") {
			if k, v, ok := strings.Cut(line, ": "); ok && strings.HasPrefix(k, "Scorebot-") {
				c.Trailers[k] = strings.TrimSpace(v)
			}
		}
		log = append(log, c)
	}
	return log
}

// catFiles reads files at rev of a bare repo in one `git cat-file --batch`; a missing file
// is absent from the result.
func catFiles(t testing.TB, gitDir, rev string, paths []string) map[string][]byte {
	t.Helper()
	var in bytes.Buffer
	for _, p := range paths {
		fmt.Fprintf(&in, "%s:%s\n", rev, p)
	}
	cmd := exec.Command("git", "-C", gitDir, "cat-file", "--batch")
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git cat-file: %v", err)
	}
	res := map[string][]byte{}
	r := bufio.NewReader(bytes.NewReader(out))
	for _, p := range paths {
		header, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("git cat-file output ended early: %v", err)
		}
		f := strings.Fields(header)
		if len(f) == 2 && f[1] == "missing" {
			continue
		}
		size, err := strconv.Atoi(f[len(f)-1])
		if err != nil {
			t.Fatalf("git cat-file header %q", header)
		}
		b := make([]byte, size+1)
		if _, err := io.ReadFull(r, b); err != nil {
			t.Fatal(err)
		}
		res[p] = b[:size]
	}
	return res
}

// deployedSources returns, per app, the source commit its provenance record in env names.
func (w *world) deployedSources(t testing.TB, env string, apps []string) map[string]string {
	t.Helper()
	var paths []string
	for _, a := range apps {
		paths = append(paths, envtree.AppDir("", env, a)+"/"+envtree.ProvenanceFile)
	}
	files := catFiles(t, w.host.Dir("env"), "main", paths)
	out := map[string]string{}
	for i, a := range apps {
		b, ok := files[paths[i]]
		if !ok {
			continue
		}
		var rec struct {
			Source struct{ Commit string } `json:"source"`
		}
		if err := yaml.Unmarshal(b, &rec); err != nil {
			t.Fatalf("%s: %v", paths[i], err)
		}
		out[a] = rec.Source.Commit
	}
	return out
}

// stale lists the apps whose env folder does not hold their latest pushed commit.
func (w *world) stale(t testing.TB, env string) []string {
	w.mu.Lock()
	heads := make(map[string]string, len(w.heads))
	var apps []string
	for a, h := range w.heads {
		heads[a] = h
		apps = append(apps, a)
	}
	w.mu.Unlock()
	sort.Strings(apps)
	got := w.deployedSources(t, env, apps)
	var bad []string
	for _, a := range apps {
		if got[a] != heads[a] {
			bad = append(bad, a)
		}
	}
	return bad
}

// queueState is the consumer and streams as the cluster reports them.
type queueState struct {
	Pending, AckPending uint64
	StreamMsgs, DLQMsgs uint64
}

func readQueue(ctx context.Context, js jetstream.JetStream) (queueState, error) {
	var q queueState
	cons, err := js.Consumer(ctx, events.StreamEvents, pipeline.ConsumerName)
	if err != nil {
		return q, err
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		return q, err
	}
	q.Pending, q.AckPending = ci.NumPending, uint64(ci.NumAckPending)
	for name, n := range map[string]*uint64{events.StreamEvents: &q.StreamMsgs, events.StreamDLQ: &q.DLQMsgs} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return q, err
		}
		si, err := s.Info(ctx)
		if err != nil {
			return q, err
		}
		*n = si.State.Msgs
	}
	return q, nil
}

// storedDeliveries reads every message of SCOREBOT_EVENTS by sequence (each read retried a
// few times: a node may still be catching up) and returns the delivery ids.
func storedDeliveries(ctx context.Context, js jetstream.JetStream) (map[string]bool, error) {
	s, err := js.Stream(ctx, events.StreamEvents)
	if err != nil {
		return nil, err
	}
	si, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for seq := si.State.FirstSeq; seq <= si.State.LastSeq && seq > 0; seq++ {
		var m *jetstream.RawStreamMsg
		for attempt := 0; ; attempt++ {
			m, err = s.GetMsg(ctx, seq)
			if err == nil || errors.Is(err, jetstream.ErrMsgNotFound) || attempt == 5 {
				break
			}
			time.Sleep(200 * time.Millisecond) // pacing of a bounded retry
		}
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read message %d: %w", seq, err)
		}
		ids[m.Header.Get(nats.MsgIdHdr)] = true
	}
	return ids, nil
}

// envChecks are the verdicts on the env repo's history.
type envChecks struct {
	Commits    int
	Duplicated int      // env commits whose (source repo, source commit) another commit has too
	NonLinear  []string // commits with more than one parent
	Roots      int
}

func checkHistory(log []envCommit) envChecks {
	var c envChecks
	seen := map[string]int{}
	for _, e := range log {
		c.Commits++
		switch len(e.Parents) {
		case 0:
			c.Roots++
		case 1:
		default:
			c.NonLinear = append(c.NonLinear, e.Hash)
		}
		if src := e.Trailers[pipeline.TrailerSourceCommit]; src != "" {
			key := e.Trailers[pipeline.TrailerSourceRepo] + "@" + src
			seen[key]++
			if seen[key] > 1 {
				c.Duplicated++
			}
		}
	}
	return c
}

// credentialLeaks scans every object of the env repo (all blobs and commit messages, in
// every commit) for plaintext credentials: the harness's own secrets (raw or base64), a
// private key, or a Kubernetes Secret carrying data or stringData.
func credentialLeaks(t testing.TB, gitDir string, known ...string) []string {
	t.Helper()
	out, err := exec.Command("git", "-C", gitDir, "cat-file", "--batch-all-objects", "--batch").Output()
	if err != nil {
		t.Fatalf("git cat-file --batch-all-objects: %v", err)
	}
	secretKind := regexp.MustCompile(`(?m)^kind:\s*["']?Secret["']?\s*$`)
	secretData := regexp.MustCompile(`(?m)^(data|stringData):`)
	privateKey := regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`)
	var needles [][]byte
	for _, k := range known {
		needles = append(needles, []byte(k), []byte(b64(k)))
	}
	var leaks []string
	r := bufio.NewReader(bytes.NewReader(out))
	objects := 0
	for {
		header, err := r.ReadString('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(header)
		if len(f) != 3 {
			t.Fatalf("git cat-file header %q", header)
		}
		size, _ := strconv.Atoi(f[2])
		b := make([]byte, size+1)
		if _, err := io.ReadFull(r, b); err != nil {
			t.Fatal(err)
		}
		b = b[:size]
		objects++
		if f[1] == "tree" {
			continue
		}
		for _, n := range needles {
			if bytes.Contains(b, n) {
				leaks = append(leaks, fmt.Sprintf("%s %s holds a harness credential", f[1], f[0]))
			}
		}
		if privateKey.Match(b) {
			leaks = append(leaks, fmt.Sprintf("%s %s holds a private key", f[1], f[0]))
		}
		if f[1] == "blob" && secretKind.Match(b) && secretData.Match(b) {
			leaks = append(leaks, fmt.Sprintf("blob %s is a Secret with data or stringData", f[0]))
		}
	}
	if objects == 0 {
		t.Fatal("credential scan read no object")
	}
	return leaks
}

func b64(s string) string {
	b, _ := json.Marshal([]byte(s)) // base64, quoted
	return strings.Trim(string(b), `"`)
}
