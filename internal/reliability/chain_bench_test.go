package reliability

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scorebot/scorebot/internal/githost"
)

// Helpers of BenchmarkClusterPushRate: the commits are made before the timed phase, so the
// load generator only moves a ref and POSTs a webhook per event.

// chain is an app repo's prepared history: main points at base; commits[k] is version k+1,
// child of commits[k-1] (of base for k = 0). Nothing but the benchmark moves main.
type chain struct {
	repo    string
	base    string
	commits []string
}

// prepareChains seeds repos app repos at version 0 and writes a chain of n commits on top of
// each with one `git fast-import` per repo (on a scratch ref, deleted afterwards, so main
// stays at version 0 and the chain's objects are in the repo, unreferenced).
func (w *world) prepareChains(ctx context.Context, t testing.TB, repos, n int) []chain {
	t.Helper()
	out := make([]chain, repos)
	errs := make([]error, repos)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for r := range repos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[r], errs[r] = w.prepareChain(ctx, appName(r), n)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	w.mu.Lock()
	for _, c := range out {
		w.heads[c.repo] = c.base
	}
	w.mu.Unlock()
	return out
}

const chainRef = "refs/scorebot-bench/chain"

func (w *world) prepareChain(ctx context.Context, name string, n int) (chain, error) {
	base, err := w.host.Seed(name, appFiles(name, 0), "first")
	if err != nil {
		return chain{}, err
	}
	dir := w.host.Dir(name)
	marks := filepath.Join(w.dir, name+".marks")
	var b strings.Builder
	now := time.Now().Unix()
	for k := 1; k <= n; k++ {
		msg := fmt.Sprintf("version %d", k)
		fmt.Fprintf(&b, "commit %s\nmark :%d\n", chainRef, k)
		fmt.Fprintf(&b, "author Scorebot Bench <bench@localhost> %d +0000\n", now)
		fmt.Fprintf(&b, "committer Scorebot Bench <bench@localhost> %d +0000\n", now)
		fmt.Fprintf(&b, "data %d\n%s\n", len(msg), msg)
		if k == 1 {
			fmt.Fprintf(&b, "from %s\n", base)
		}
		data := appFiles(name, k)["score.yaml"]
		fmt.Fprintf(&b, "deleteall\nM 100644 inline score.yaml\ndata %d\n", len(data))
		b.Write(data)
		b.WriteString("\n")
	}
	b.WriteString("done\n")
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "fast-import", "--quiet", "--done", "--export-marks="+marks)
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return chain{}, fmt.Errorf("fast-import chain of %s: %v: %s", name, err, out)
	}
	if out, err := exec.CommandContext(ctx, "git", "-C", dir, "update-ref", "-d", chainRef).CombinedOutput(); err != nil {
		return chain{}, fmt.Errorf("drop %s of %s: %v: %s", chainRef, name, err, out)
	}
	f, err := os.Open(marks)
	if err != nil {
		return chain{}, err
	}
	defer f.Close()
	c := chain{repo: name, base: base, commits: make([]string, n)}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		mark, sha, ok := strings.Cut(sc.Text(), " ")
		k, err := strconv.Atoi(strings.TrimPrefix(mark, ":"))
		if !ok || err != nil || k < 1 || k > n {
			return chain{}, fmt.Errorf("marks of %s: bad line %q", name, sc.Text())
		}
		c.commits[k-1] = sha
	}
	if err := sc.Err(); err != nil {
		return chain{}, err
	}
	for k, sha := range c.commits {
		if sha == "" {
			return chain{}, fmt.Errorf("marks of %s: commit %d missing", name, k+1)
		}
	}
	return c, nil
}

// moveMain points main of app repo name at sha, as a push would, and records it as the
// head the env repo must reach. It writes the loose ref the way git does (a temporary file
// renamed over the old one), so a concurrent `git http-backend` reads the old or the new
// value, never a torn one; a `git update-ref` per event would cost a process per event on
// the generator's side.
func (w *world) moveMain(name, sha string) error {
	ref := filepath.Join(w.host.Dir(name), "refs", "heads", githost.DefaultBranch)
	tmp := ref + ".bench.lock"
	if err := os.WriteFile(tmp, []byte(sha+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, ref); err != nil {
		return err
	}
	w.mu.Lock()
	w.heads[name] = sha
	w.mu.Unlock()
	return nil
}

// botCounters sums the pipeline counters of every bot's /metrics. A bot that restarted
// starts its counters afresh; the caller reports restarts beside the deltas.
type botCounters struct {
	superseded float64
	jobs       map[string]float64 // outcome → jobs (push kind and others together)
}

func scrapeBots(ctx context.Context, c *http.Client, bs *bots) botCounters {
	out := botCounters{jobs: map[string]float64{}}
	for i := range bs.listen {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, bs.url(i)+"/metrics", nil)
		if err != nil {
			continue
		}
		resp, err := c.Do(req)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			name, val, ok := strings.Cut(line, " ")
			if !ok || strings.HasPrefix(line, "#") {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
			if err != nil {
				continue
			}
			switch {
			case name == "scorebot_pipeline_superseded_total":
				out.superseded += v
			case strings.HasPrefix(name, "scorebot_pipeline_jobs_total{"):
				if _, rest, ok := strings.Cut(name, `outcome="`); ok {
					o, _, _ := strings.Cut(rest, `"`)
					out.jobs[o] += v
				}
			}
		}
		resp.Body.Close()
	}
	return out
}
