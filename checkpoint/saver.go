package checkpoint

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/retry"
)

// Saver writes the tracker's safe position to the store whenever it moves,
// at most once per MinInterval. It only ever saves positions the tracker has
// released, so spacing the writes out never saves unfinished work.
type Saver struct {
	Tracker     *Tracker
	Store       Store
	MinInterval time.Duration
	Backoff     retry.Backoff
	Log         *zap.Logger
	// OnSaved, if set, sees every saved position (metrics, tests).
	OnSaved func(event.Position)
	// OnFailed, if set, sees every failed save (retried): the checkpoint
	// does not advance until a save succeeds (health).
	OnFailed func(error)

	mu    sync.Mutex
	saved event.Position
}

// Run saves until ctx ends. The final save at shutdown is Flush's job, once
// the pipeline has drained.
func (s *Saver) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.Tracker.Changed():
		}
		if err := s.saveLatest(ctx); err != nil && ctx.Err() == nil {
			return err
		}
		if s.MinInterval > 0 {
			if err := retry.SleepCtx(ctx, s.MinInterval); err != nil {
				return nil
			}
		}
	}
}

// flushRetryFor bounds Flush's retries: at a stop, a save that keeps
// failing (a missing directory, Redis down) is reported at once instead of
// holding the exit; the position is replayed from the last save after a
// restart, which is harmless.
const flushRetryFor = time.Second

// Flush saves the current safe position if it is newer than the last save,
// retrying for about a second at most; its error is the save's own.
func (s *Saver) Flush(ctx context.Context) error {
	b := s.Backoff
	b.MaxElapsed = flushRetryFor
	return s.save(ctx, b)
}

// Saved returns the last position written to the store.
func (s *Saver) Saved() event.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saved
}

func (s *Saver) saveLatest(ctx context.Context) error { return s.save(ctx, s.Backoff) }

func (s *Saver) save(ctx context.Context, backoff retry.Backoff) error {
	pos, ok := s.Tracker.Safe()
	if !ok || pos == s.Saved() {
		return nil
	}
	err := backoff.Do(ctx, func(ctx context.Context) error { return s.Store.Save(ctx, pos) },
		func(attempt int, err error, wait time.Duration) {
			if s.OnFailed != nil {
				s.OnFailed(err)
			}
			if attempt == 0 || attempt%20 == 0 {
				s.Log.Warn("checkpoint save failed; retrying (work goes on; a restart now would replay from the last saved position)",
					zap.Stringer("position", pos), zap.Int("attempt", attempt+1), zap.Duration("wait", wait), zap.Error(err))
			}
		})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.saved = pos
	s.mu.Unlock()
	if s.OnSaved != nil {
		s.OnSaved(pos)
	}
	return nil
}
