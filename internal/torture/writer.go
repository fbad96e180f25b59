package torture

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// writer bumps the version of random rows, one autocommitted UPDATE each.
// With del set (mode app-delete) it deletes the row's key after the commit,
// as application code does without a sidecar.
type writer struct {
	rows    int
	rng     *rand.Rand
	c       *client.Conn
	stmt    *client.Stmt
	del     redis.UniversalClient
	limiter *rate.Limiter // nil: as fast as the server takes them

	writes, errors int64
	firstErr       error
}

func (o *Options) newWriter(ctx context.Context, idx int, del redis.UniversalClient, lim *rate.Limiter) (*writer, error) {
	c, err := o.dial(ctx, o.Database)
	if err != nil {
		return nil, err
	}
	stmt, err := c.Prepare("UPDATE " + table + " SET version = version + 1 WHERE id = ?")
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("mysql: prepare the update: %w", err)
	}
	return &writer{rows: o.Rows, rng: rand.New(rand.NewPCG(o.Seed, uint64(1<<32+idx))), c: c, stmt: stmt,
		del: del, limiter: lim}, nil
}

// run writes until stop ends; ctx (the hard deadline) bounds the deletes.
func (w *writer) run(ctx, stop context.Context) {
	for stop.Err() == nil {
		if w.limiter != nil && w.limiter.Wait(stop) != nil {
			return
		}
		id := 1 + w.rng.IntN(w.rows)
		_, err := w.stmt.Execute(id)
		if err == nil {
			w.writes++
			if w.del != nil {
				err = w.del.Del(ctx, itemKey(id)).Err()
			}
		}
		if err != nil && ctx.Err() == nil {
			w.errors++
			if w.firstErr == nil {
				w.firstErr = fmt.Errorf("write row %d: %w", id, err)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

func (w *writer) close() { w.stmt.Close(); w.c.Close() }
