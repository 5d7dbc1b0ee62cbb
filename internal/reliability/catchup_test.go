package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// NATS node faults of the suite, cycled through in this order from a seeded offset.
const (
	natsSigterm   = "stop-nats"      // SIGTERM: a clean shutdown, store kept
	natsSigkill   = "kill-nats"      // SIGKILL: a crash, store kept as the crash left it
	natsLostStore = "kill-nats-wipe" // SIGKILL, then the store directory deleted: a lost disk
)

var natsFaults = []string{natsSigterm, natsSigkill, natsLostStore}

// fault takes node i down the way kind says: SIGTERM, SIGKILL, or SIGKILL and its whole
// JetStream store deleted before it comes back.
func (c *natsCluster) fault(t testing.TB, i int, kind string) {
	t.Helper()
	switch kind {
	case natsSigterm:
		c.nodes[i].signal(t, syscall.SIGTERM)
	case natsSigkill:
		c.nodes[i].signal(t, syscall.SIGKILL)
	case natsLostStore:
		c.nodes[i].signal(t, syscall.SIGKILL)
		if err := os.RemoveAll(c.store[i]); err != nil {
			t.Fatalf("%s: delete store %s: %v", c.nodes[i].name, c.store[i], err)
		}
	default:
		t.Fatalf("unknown NATS fault %q", kind)
	}
}

// jsz is the part of a node's /jsz?accounts=true&streams=true&consumers=true read here:
// the streams and consumers the node holds locally, with its own copy's state.
type jsz struct {
	Accounts []struct {
		Name    string `json:"name"`
		Streams []struct {
			Name  string `json:"name"`
			State struct {
				Msgs     uint64 `json:"messages"`
				FirstSeq uint64 `json:"first_seq"`
				LastSeq  uint64 `json:"last_seq"`
			} `json:"state"`
			Consumers []struct {
				Name string `json:"name"`
			} `json:"consumer_detail"`
		} `json:"stream_detail"`
	} `json:"account_details"`
}

// localStream is what a node holds of one stream: its copy's state, and consumers.
type localStream struct {
	msgs, firstSeq, lastSeq uint64
	consumers               map[string]bool
}

// local reads what node i holds, per stream, from its /jsz.
func (c *natsCluster) local(ctx context.Context, i int) (map[string]localStream, error) {
	url := fmt.Sprintf("http://127.0.0.1:%d/jsz?accounts=true&streams=true&consumers=true", c.monitor[i])
	var j jsz
	if err := getJSON(ctx, url, &j); err != nil {
		return nil, err
	}
	out := map[string]localStream{}
	for _, a := range j.Accounts {
		for _, s := range a.Streams {
			ls := localStream{msgs: s.State.Msgs, firstSeq: s.State.FirstSeq, lastSeq: s.State.LastSeq, consumers: map[string]bool{}}
			for _, c := range s.Consumers {
				ls.consumers[c.Name] = true
			}
			out[s.Name] = ls
		}
	}
	return out, nil
}

// getJSON GETs url and decodes its 200 answer into v.
func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s %s", url, resp.Status, bytes.TrimSpace(body))
	}
	if v == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	return nil
}

// getOK GETs url and wants 200.
func getOK(ctx context.Context, url string) error { return getJSON(ctx, url, nil) }

// replicaState says whether node name is a member of a stream's or consumer's group (of
// replicas copies) and, if so, what keeps it from being current as the group's leader
// reports it ("" if nothing).
func replicaState(ci *jetstream.ClusterInfo, name string, replicas int) (member bool, problem string) {
	switch {
	case ci == nil:
		return true, "no cluster info"
	case ci.Leader == "":
		return true, "no leader"
	case ci.Leader == name:
		return true, ""
	}
	for _, r := range ci.Replicas {
		if r.Name != name {
			continue
		}
		switch {
		case r.Offline:
			return true, "offline"
		case !r.Current:
			return true, fmt.Sprintf("not current (lag %d)", r.Lag)
		case r.Lag != 0:
			return true, fmt.Sprintf("lag %d", r.Lag)
		}
		return true, ""
	}
	if replicas < 3 {
		return false, "" // not one of its peers: nothing to catch up on
	}
	return true, "not a replica"
}

// caughtUp reports whether node i is current: it answers /healthz (meta group and its
// assets current, by the server's own measure); for every stream and consumer of the
// cluster, the leader (which answers the JetStream API) lists the node as a current replica
// with no lag; and the node's own copy, read from its /jsz afterwards, holds every stream up
// to at least the last sequence the leader reported, and every consumer. It returns what
// is still behind ("" when caught up), and apart from it the KV buckets whose copy on the
// node is at a lower sequence than the leader's.
func (c *natsCluster) caughtUp(ctx context.Context, js jetstream.JetStream, i int) (behind, kvLag string) {
	name := "rel-nats-" + fmt.Sprint(i+1)
	if err := getOK(ctx, fmt.Sprintf("http://127.0.0.1:%d/healthz", c.monitor[i])); err != nil {
		return err.Error(), ""
	}
	type want struct {
		lastSeq   uint64
		consumers []string
	}
	wants := map[string]want{}
	var late, lag []string
	lister := js.ListStreams(ctx)
	for si := range lister.Info() {
		n := si.Config.Name
		member, s := replicaState(si.Cluster, name, si.Config.Replicas)
		if s != "" {
			late = append(late, fmt.Sprintf("stream %s: %s", n, s))
		}
		if !member {
			continue
		}
		w := want{lastSeq: si.State.LastSeq}
		stream, err := js.Stream(ctx, n)
		if err != nil {
			return fmt.Sprintf("stream %s: %v", n, err), ""
		}
		cl := stream.ListConsumers(ctx)
		for ci := range cl.Info() {
			replicas := ci.Config.Replicas
			if replicas == 0 {
				replicas = si.Config.Replicas // a consumer's default: its stream's
			}
			if _, s := replicaState(ci.Cluster, name, replicas); s != "" {
				late = append(late, fmt.Sprintf("consumer %s/%s: %s", n, ci.Name, s))
			}
			w.consumers = append(w.consumers, ci.Name)
		}
		if err := cl.Err(); err != nil {
			return fmt.Sprintf("consumers of %s: %v", n, err), ""
		}
		wants[n] = w
	}
	if err := lister.Err(); err != nil {
		return "list streams: " + err.Error(), ""
	}
	if len(wants) == 0 {
		return "no stream listed", ""
	}
	have, err := c.local(ctx, i)
	if err != nil {
		return err.Error(), ""
	}
	var names []string
	for n := range wants {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w := wants[n]
		h, ok := have[n]
		if !ok {
			late = append(late, fmt.Sprintf("stream %s: not on the node", n))
			continue
		}
		if h.lastSeq < w.lastSeq {
			msg := fmt.Sprintf("stream %s: node at seq %d, leader at %d", n, h.lastSeq, w.lastSeq)
			if strings.HasPrefix(n, "KV_") {
				lag = append(lag, msg) // see waitCaughtUp
			} else {
				late = append(late, msg)
			}
		}
		for _, cn := range w.consumers {
			if !h.consumers[cn] {
				late = append(late, fmt.Sprintf("consumer %s/%s: not on the node", n, cn))
			}
		}
	}
	return strings.Join(late, "; "), strings.Join(lag, "; ")
}

// kvSettle is how long a KV bucket's copy may stay at a lower sequence than its leader's,
// once everything else is caught up, before it counts as diverged rather than late.
const kvSettle = 15 * time.Second

// waitCaughtUp waits (bounded) until node i is caught up (see caughtUp) and returns how
// long that took; on timeout it fails the test with what was behind along the way.
//
// A KV bucket's copy that stays behind its leader by a constant number of sequences while
// the leader lists the node as a current replica is not late but diverged (nats-server
// 2.9.10 did this after a restart; see copiesCheck): after kvSettle it is returned in
// diverged, the wait ends, and the suite fails.
func (c *natsCluster) waitCaughtUp(t testing.TB, js jetstream.JetStream, i int, timeout time.Duration) (took time.Duration, diverged string) {
	t.Helper()
	start := time.Now()
	var last string
	var trail []string   // each change of what was behind, with when
	var onlyKV time.Time // since when only KV copies have been behind
	deadline := start.Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r, kv := c.caughtUp(ctx, js, i)
		cancel()
		switch {
		case r == "" && kv == "":
			return time.Since(start), ""
		case r == "":
			if onlyKV.IsZero() {
				onlyKV = time.Now()
			}
			if time.Since(onlyKV) > kvSettle {
				return onlyKV.Sub(start), kv
			}
			r = kv
		default:
			onlyKV = time.Time{}
		}
		if r != last && len(trail) < 40 {
			trail = append(trail, fmt.Sprintf("%.1fs: %s", time.Since(start).Seconds(), r))
		}
		last = r
		if time.Now().After(deadline) {
			break
		}
		// Polling interval of a bounded wait; each poll asks every stream's and consumer's
		// leader, and the node logs every failed health check.
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("%s not caught up after %v: %s\nwhat was behind, as it changed:\n%s",
		c.nodes[i].name, timeout, last, strings.Join(trail, "\n"))
	return time.Since(start), ""
}

// copyDiff is one stream whose copies differ between the nodes.
type copyDiff struct {
	Stream string
	States string // each node's copy
}

// copiesAgree compares every node's copy of every stream (message count and last
// sequence, and the first sequence of a stream holding messages, from each node's /jsz) and
// returns the streams whose copies differ. With no writes in flight, a copy that differs
// lost something, or holds what the others never agreed to.
func (c *natsCluster) copiesAgree(ctx context.Context) ([]copyDiff, error) {
	var copies []map[string]localStream
	names := map[string]bool{}
	for i := range c.nodes {
		l, err := c.local(ctx, i)
		if err != nil {
			return nil, err
		}
		copies = append(copies, l)
		for n := range l {
			names[n] = true
		}
	}
	var sorted []string
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	same := func(a, b localStream) bool {
		return a.msgs == b.msgs && a.lastSeq == b.lastSeq && (a.msgs == 0 || a.firstSeq == b.firstSeq)
	}
	var diffs []copyDiff
	for _, n := range sorted {
		var states []string
		agree := true
		for i, l := range copies {
			s, ok := l[n]
			if !ok {
				states = append(states, c.nodes[i].name+": none")
				agree = false
				continue
			}
			states = append(states, fmt.Sprintf("%s: %d msgs, seq %d..%d", c.nodes[i].name, s.msgs, s.firstSeq, s.lastSeq))
			if first, ok := copies[0][n]; ok && !same(first, s) {
				agree = false
			}
		}
		if !agree {
			diffs = append(diffs, copyDiff{Stream: n, States: strings.Join(states, ", ")})
		}
	}
	return diffs, nil
}
