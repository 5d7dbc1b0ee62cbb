package server

import (
	"context"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/scorebot/scorebot/internal/events"
)

// maxStoreRestartWait bounds the pause between two restarts of JetStream on a store that
// keeps failing.
const maxStoreRestartWait = 30 * time.Second

// storeRoom is the free space the store's file system must have before JetStream is
// restarted on it.
const storeRoom = 1 << 20

// watchStore checks the embedded server's health every StoreCheckInterval until ctx ends.
// When its store cannot write (nats-server keeps a stream's write error, e.g. from a full
// disk, and refuses every later publish to that stream until the stream is recovered; on
// some paths it disables JetStream instead), webhooks are answered 503 and nothing is
// stored: /readyz then fails, naming the cause, and once the store's file system has room
// (storeRoom) JetStream is restarted on the same store, which recovers the streams from
// disk. A restart can still meet a full disk again, so the pause between restarts doubles up to maxStoreRestartWait, and
// starts again from StoreCheckInterval once the store has stayed healthy that long.
func (s *Server) watchStore(ctx context.Context, ns *server.Server) {
	started := ns.JetStreamConfig() // its limits, kept across restarts
	interval := s.cfg.StoreCheckInterval
	wait := interval
	var restarted time.Time
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h := ns.Healthz(nil)
		if h.Error == "" && len(h.Errors) == 0 {
			if s.storeErr.Swap(nil) != nil {
				s.log.Info("embedded NATS store writes again: webhooks accepted")
			}
			if !restarted.IsZero() && time.Since(restarted) >= maxStoreRestartWait {
				wait, restarted = interval, time.Time{}
			}
			continue
		}
		why := h.Error
		if why == "" {
			why = h.Errors[0].Error
		}
		if s.storeErr.Swap(&why) == nil {
			s.log.Error("embedded NATS store cannot store events: webhooks are answered 503 and /readyz fails until JetStream is restarted on it",
				"err", why, "store", events.StoreDir(s.cfg.DataDir))
		}
		if !restarted.IsZero() && time.Since(restarted) < wait {
			continue
		}
		if !restarted.IsZero() {
			wait = min(2*wait, maxStoreRestartWait)
		}
		if err := events.HasRoom(events.StoreDir(s.cfg.DataDir), storeRoom); err != nil {
			continue // the disk is still full: restarting now would fail again at once
		}
		restarted = time.Now()
		if err := events.RestartJetStream(ns, s.cfg.DataDir, started); err != nil {
			s.log.Error("restart JetStream on the embedded store", "err", err, "next_in", wait.String())
			continue
		}
		s.log.Warn("JetStream restarted on the embedded store", "next_restart_not_before", wait.String())
	}
}

// storeProblem is why the embedded store cannot write now, "" while it can (or without an
// embedded server): /readyz's answer and the intake's StoreProblem.
func (s *Server) storeProblem() string {
	if e := s.storeErr.Load(); e != nil {
		return *e
	}
	return ""
}
