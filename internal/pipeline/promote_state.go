package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/scorebot/scorebot/internal/envrepo"
	"github.com/scorebot/scorebot/internal/promotion"
	"github.com/scorebot/scorebot/internal/render/envtree"
	"github.com/scorebot/scorebot/internal/render/rules"
)

// BucketPromotions holds one promotion.Record per app and environment ("<app>.<env>"): what
// runs there, the open promotion into it, the last rejected one. It is a record derived from
// the env repo, never the truth: RebuildPromotionState writes it again from Git alone.
const BucketPromotions = "scorebot-promotions"

// PromotionState returns the records in BucketPromotions, sorted by app and environment
// order; when the bucket is empty (a new NATS, a wiped bucket), it rebuilds them from Git.
func (p *Pipeline) PromotionState(ctx context.Context) ([]promotion.Record, error) {
	kv, err := p.promoKV(ctx)
	if err != nil {
		return nil, err
	}
	if kv == nil {
		return p.RebuildPromotionState(ctx)
	}
	vals, err := promoRead(ctx, kv, jetstream.AllKeys)
	if err != nil {
		return nil, err
	}
	var out []promotion.Record
	for k, v := range vals {
		var r promotion.Record
		if err := json.Unmarshal(v, &r); err != nil {
			p.log.Warn("unreadable promotion record ignored", "key", k, "err", err)
			continue
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return p.RebuildPromotionState(ctx)
	}
	lr, err := p.Rules(ctx)
	if err != nil {
		return nil, err
	}
	promoSortRecords(out, lr.Rules.Platform.Environments)
	return out, nil
}

// RebuildPromotionState derives every app's records from the env repo (provenance records
// on the env branch, the bot's promote and rejected branches; PR numbers from GitHub when a
// client is configured), replaces BucketPromotions' contents with them and returns them.
func (p *Pipeline) RebuildPromotionState(ctx context.Context) ([]promotion.Record, error) {
	lr, err := p.Rules(ctx)
	if err != nil {
		return nil, err
	}
	er, err := p.EnvRepo(ctx, lr.Rules.Platform.EnvRepo)
	if err != nil {
		return nil, err
	}
	recs, err := p.promoDerive(ctx, lr, er, "")
	if err != nil {
		return nil, err
	}
	if err := p.promoStore(ctx, recs, ""); err != nil {
		return nil, err
	}
	return recs, nil
}

// promoDeployed records in BucketPromotions that env now runs repo@commit of app, rendered
// with rulesCommit (the deploy path, after its push): the one record changes, and an open
// promotion of that very commit into env is no longer pending. A bucket never filled is left
// so: the next read rebuilds every record from Git, where a lone record would hide the
// others. Failures are logged only (the record is derived; a rebuild writes it again).
func (p *Pipeline) promoDeployed(ctx context.Context, app, env, repo, commit, rulesCommit string) {
	err := func() error {
		kv, err := p.promoKV(ctx)
		if err != nil || kv == nil {
			return err
		}
		k := promoKey(app, env)
		r := promotion.Record{App: app, Env: env}
		var old []byte
		switch e, err := kv.Get(ctx, k); {
		case err == nil:
			old = e.Value()
			if err := json.Unmarshal(old, &r); err != nil {
				r = promotion.Record{App: app, Env: env}
			}
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return err
		default: // the app's first record in env: is the bucket filled at all?
			st, err := kv.Status(ctx)
			if err != nil {
				return err
			}
			if st.Values() == 0 {
				return nil
			}
		}
		r.SourceRepo, r.SourceCommit, r.RulesCommit = repo, commit, rulesCommit
		if r.Pending != nil && r.Pending.SourceCommit == commit {
			r.Pending = nil
		}
		val, _ := json.Marshal(r)
		if string(val) == string(old) {
			return nil // a redelivery, or a deploy that changed nothing
		}
		_, err = kv.Put(ctx, k, val)
		return err
	}()
	if err != nil {
		p.log.Warn("promotion state not recorded", "app", app, "env", env, "err", err)
	}
}

// promoSyncApp re-derives one app's records ("" = every app's) and stores them; failures are
// logged only (the record is derived, the next action or a rebuild writes it again).
func (p *Pipeline) promoSyncApp(ctx context.Context, lr *LoadedRules, er *envrepo.Repo, app string) {
	recs, err := p.promoDerive(ctx, lr, er, app)
	if err == nil {
		err = p.promoStore(ctx, recs, app)
	}
	if err != nil {
		p.log.Warn("promotion state not recorded", "app", app, "err", err)
	}
}

// promoDerive reads the state of app ("" = every app) from the env repo.
func (p *Pipeline) promoDerive(ctx context.Context, lr *LoadedRules, er *envrepo.Repo, app string) ([]promotion.Record, error) {
	envs := lr.Rules.Platform.Environments
	base := lr.Rules.Platform.EnvRepo.Path
	recs := map[[2]string]*promotion.Record{}
	get := func(a, e string) *promotion.Record {
		k := [2]string{a, e}
		if recs[k] == nil {
			recs[k] = &promotion.Record{App: a, Env: e}
		}
		return recs[k]
	}
	// One read for every environment: the app's records, or all of them.
	var prefixes []string
	for _, env := range envs {
		if app != "" {
			prefixes = append(prefixes, promoProvenancePaths(base, env.Name, app)...)
		} else {
			prefixes = append(prefixes, envtree.AppsDir(base, env.Name))
		}
	}
	files, err := er.ReadTree(ctx, prefixes...)
	if err != nil {
		return nil, fmt.Errorf("read the env repo's provenance records: %w", err)
	}
	for _, env := range envs {
		for _, d := range deployedIn(files, base, env.Name) {
			r := get(d.App, env.Name)
			r.SourceRepo, r.SourceCommit, r.RulesCommit = d.SourceRepo, d.SourceCommit, d.RulesCommit
		}
	}

	branches, err := er.Branches(ctx, "scorebot/")
	if err != nil {
		return nil, err
	}
	rejected := map[[2]string]promotion.Rejection{}
	for _, b := range branches {
		kind, a, e, ok := promotion.ParseBranch(b.Name)
		if !ok || kind != promotion.KindRejected || (app != "" && a != app) {
			continue
		}
		rej, found, err := p.promoRejection(ctx, er, a, e)
		if err != nil {
			return nil, err
		}
		if found {
			rejected[[2]string{a, e}] = rej
			get(a, e).Rejected = &promotion.Rejected{SourceCommit: rej.SourceCommit, BranchCommit: rej.BranchCommit, PR: rej.PR}
		}
	}
	repo, repoErr := p.promoEnvRepoName(lr.Rules)
	for _, b := range branches {
		kind, a, e, ok := promotion.ParseBranch(b.Name)
		if !ok || kind != promotion.KindPromote || (app != "" && a != app) {
			continue
		}
		if _, known := lr.Rules.Environment(e); !known {
			continue
		}
		prov, found, err := p.promoProvenance(ctx, er, b.Name, base, e, a)
		if err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		r := get(a, e)
		if prov.Source.Commit == r.SourceCommit && prov.Source.Repo == r.SourceRepo {
			continue // merged, or deployed another way: nothing pending
		}
		if rej, ok := rejected[[2]string{a, e}]; ok && rej.BranchCommit == b.Head {
			continue // closed unmerged, not updated since
		}
		pend := &promotion.Pending{SourceCommit: prov.Source.Commit, Branch: b.Name, BranchCommit: b.Head}
		if fc := p.cfg.Forge; fc != nil && repoErr == nil {
			prs, err := fc.ListPRs(ctx, repo, "open", repo.Owner+":"+b.Name, promoEnvBranch(lr.Rules))
			if err != nil {
				return nil, fmt.Errorf("list PRs of %s from %s: %w", repo, b.Name, err)
			}
			if len(prs) > 0 {
				pend.PR = prs[0].GetNumber()
			}
		}
		r.Pending = pend
	}
	out := make([]promotion.Record, 0, len(recs))
	for _, r := range recs {
		out = append(out, *r)
	}
	promoSortRecords(out, envs)
	return out, nil
}

// promoStore writes recs into BucketPromotions and deletes the keys of app ("" = all) that
// recs no longer has. Without JetStream (the CLI) it does nothing.
func (p *Pipeline) promoStore(ctx context.Context, recs []promotion.Record, app string) error {
	kv, err := p.promoKV(ctx)
	if err != nil || kv == nil {
		return err
	}
	pattern := jetstream.AllKeys
	if app != "" {
		pattern = kvToken(app) + ".*"
	}
	stored, err := promoRead(ctx, kv, pattern)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, r := range recs {
		k := promoKey(r.App, r.Env)
		keep[k] = true
		val, _ := json.Marshal(r)
		if old, ok := stored[k]; ok && string(old) == string(val) {
			continue
		}
		if _, err := kv.Put(ctx, k, val); err != nil {
			return fmt.Errorf("write %s/%s: %w", BucketPromotions, k, err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(stored)) {
		if keep[k] {
			continue
		}
		if err := kv.Delete(ctx, k); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("delete %s/%s: %w", BucketPromotions, k, err)
		}
	}
	return nil
}

// promoRead returns the current value of every key of kv matching pattern, with one watch
// (it delivers every current value, then a nil marker) instead of a Get per key: 30,000 of
// them for 10,000 apps in three environments.
func promoRead(ctx context.Context, kv jetstream.KeyValue, pattern string) (map[string][]byte, error) {
	w, err := kv.Watch(ctx, pattern, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", BucketPromotions, err)
	}
	defer func() { _ = w.Stop() }()
	out := map[string][]byte{}
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("read %s: %w", BucketPromotions, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("read %s: the watch ended early", BucketPromotions)
			}
			if e == nil {
				return out, nil // every current value has been delivered
			}
			out[e.Key()] = e.Value()
		}
	}
}

func promoKey(app, env string) string { return kvToken(app) + "." + kvToken(env) }

// promoKV opens (creating when missing) BucketPromotions; nil without JetStream.
func (p *Pipeline) promoKV(ctx context.Context) (jetstream.KeyValue, error) {
	if p.js == nil {
		return nil, nil
	}
	kv, err := p.js.KeyValue(ctx, BucketPromotions)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = p.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      BucketPromotions,
			Description: "per app and environment: what runs there, open and rejected promotions (derived from the env repo)",
			History:     5,
			Replicas:    p.cfg.Replicas,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("KV bucket %s: %w", BucketPromotions, err)
	}
	return kv, nil
}

func promoSortRecords(recs []promotion.Record, envs []rules.Environment) {
	order := map[string]int{}
	for i, e := range envs {
		order[e.Name] = i
	}
	slices.SortFunc(recs, func(a, b promotion.Record) int {
		if c := strings.Compare(a.App, b.App); c != 0 {
			return c
		}
		if c := order[a.Env] - order[b.Env]; c != 0 {
			return c
		}
		return strings.Compare(a.Env, b.Env)
	})
}
