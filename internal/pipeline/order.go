package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Ordering has two guards:
//   - the app repo itself: a push whose commit is no longer the branch head is superseded
//     (a newer push exists, in the stream or on its way), which also stops an older commit
//     delivered late from overwriting a newer one, whatever order the events arrived in;
//   - the KV record of the event last deployed per repo, branch and environment, shared by
//     every bot process: an event older than that is never deployed.
// Both are checked under the repo's lease, so no other job moves them meanwhile.

func branchKey(repo, branch string) string { return kvToken(repo) + "." + kvToken(branch) }

// kvToken makes s a readable KV key token: ASCII letters, digits and '-' stay, every other
// byte becomes _XX, so distinct names stay distinct.
func kvToken(s string) string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
			b = append(b, c)
		default:
			b = append(b, '_', hex[c>>4], hex[c&0xF])
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

// DeployedRecord is what scorebot-deployed holds per repo, branch and environment.
type DeployedRecord struct {
	Seq       uint64    `json:"seq"`        // stream sequence of the event deployed
	Commit    string    `json:"commit"`     // the app commit
	EnvCommit string    `json:"env_commit"` // the env-repo commit holding it (or the head then)
	Delivery  string    `json:"delivery"`
	At        time.Time `json:"at"` // when it was deployed
}

// errDefer asks for the job to be delivered again after a delay (not a failure).
type errDefer struct{ delay time.Duration }

func (e errDefer) Error() string { return fmt.Sprintf("deferred for %s", e.delay) }

// settle tells how long to defer a push of a busy branch so that a burst of pushes
// deploys once (0: deploy now).
func (p *Pipeline) settle(job *Job, last DeployedRecord) time.Duration {
	if p.cfg.Settle <= 0 || job.Stored.IsZero() || job.Delivered >= uint64(p.cfg.MaxDeliver) {
		return 0
	}
	if last.At.IsZero() || time.Since(last.At) > p.cfg.BurstWindow {
		return 0
	}
	if age := time.Since(job.Stored); age < p.cfg.Settle {
		return p.cfg.Settle - age
	}
	return 0
}

func deployedKey(repo, branch, env string) string {
	return branchKey(repo, branch) + "." + kvToken(env)
}

func (p *Pipeline) lastDeployed(ctx context.Context, key string) (DeployedRecord, error) {
	var rec DeployedRecord
	e, err := p.deployed.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return rec, nil
	}
	if err != nil {
		return rec, transient(fmt.Errorf("read %s/%s: %w", BucketDeployed, key, err))
	}
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		p.log.Warn("unreadable deployed record ignored", "key", key, "err", err)
		return DeployedRecord{}, nil
	}
	return rec, nil
}

// recordDeployed stores rec unless a record of a later event is already there.
func (p *Pipeline) recordDeployed(ctx context.Context, key string, rec DeployedRecord) error {
	val, _ := json.Marshal(rec)
	for range 5 {
		e, err := p.deployed.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			if _, err = p.deployed.Create(ctx, key, val); err == nil || !errors.Is(err, jetstream.ErrKeyExists) {
				return err
			}
			continue
		case err != nil:
			return err
		}
		var old DeployedRecord
		if json.Unmarshal(e.Value(), &old) == nil && old.Seq > rec.Seq {
			return nil
		}
		if _, err = p.deployed.Update(ctx, key, val, e.Revision()); err == nil {
			return nil
		}
	}
	return fmt.Errorf("record %s/%s: too many concurrent updates", BucketDeployed, key)
}

// lease is a short-TTL claim on a KV key, renewed until released.
type lease struct {
	kv   jetstream.KeyValue
	key  string
	stop chan struct{}
	done chan struct{}
	rev  uint64
}

// acquire claims the lease of every key (sorted, to avoid deadlocks between jobs that need
// several) or none: errBusy when another job holds one.
func (p *Pipeline) acquire(ctx context.Context, job *Job, keys ...string) (release func(), err error) {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var held []*lease
	releaseAll := func() {
		for _, l := range held {
			l.release()
		}
	}
	owner := fmt.Appendf(nil, "%s seq=%d", p.owner, job.Seq)
	for _, k := range keys {
		rev, err := p.locks.Create(ctx, k, owner)
		if err != nil {
			releaseAll()
			if errors.Is(err, jetstream.ErrKeyExists) {
				return nil, fmt.Errorf("lease %s: %w", k, errBusy)
			}
			return nil, transient(fmt.Errorf("lease %s in %s: %w", k, BucketLocks, err))
		}
		l := &lease{kv: p.locks, key: k, rev: rev, stop: make(chan struct{}), done: make(chan struct{})}
		go l.renew(owner, p.cfg.LeaseTTL/3, p.log)
		held = append(held, l)
	}
	return releaseAll, nil
}

func (l *lease) renew(owner []byte, every time.Duration, log interface{ Warn(string, ...any) }) {
	defer close(l.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), every)
			rev, err := l.kv.Update(ctx, l.key, owner, l.rev)
			cancel()
			if err != nil {
				log.Warn("lease renewal failed", "key", l.key, "err", err)
				continue
			}
			l.rev = rev
		}
	}
}

func (l *lease) release() {
	close(l.stop)
	<-l.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev))
}
