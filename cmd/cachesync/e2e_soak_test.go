package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/cachesync/cachesync/internal/testenv"
)

// Faults one after another under a steady stream of cache fills and
// writes — kill -9 and SIGTERM of cachesync, Redis restarted, MariaDB
// frozen past the read timeout — and no invalidation is lost. Each write
// caches a key of its own first — user:name:s<n>, then UPDATE the row's
// name to s<n> — so a key still cached at the end is one committed change
// that cachesync never invalidated, whenever it happened during the soak
// (keys cached before a Redis restart vanish with it and prove nothing).
// Bounded: eight faults, about half a minute.
func TestSoakFaultsLoseNothing(t *testing.T) {
	t.Parallel()
	db := testenv.StartMariaDB(t, testenv.MariaDBOptions{}) // frozen below
	e := newEnv(t, db, []string{usersSchema}, "  - table: DB.users\n    keys: [\"user:name:{name}\"]\n    watch: [name]\n", "")
	const rows = 200
	e.seedUsers(rows)
	p := e.start()

	conn, err := client.Connect(db.Addr, "root", "", e.name)
	if err != nil {
		t.Fatal(err)
	}
	conn.ReadTimeout, conn.WriteTimeout = 30*time.Second, 30*time.Second
	defer conn.Close()
	var (
		mu      sync.Mutex
		tracked []string // keys cached before the committed change that names them
		updates int
		werr    error
	)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		ctx := context.Background()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			id, key := 1+n%rows, fmt.Sprintf("user:name:s%d", n)
			if err := e.rdb.Set(ctx, key, "cached", 0).Err(); err != nil {
				time.Sleep(50 * time.Millisecond) // Redis is down: nothing cached, nothing to check
				continue
			}
			if _, err := conn.Execute(fmt.Sprintf("UPDATE users SET name = 's%d' WHERE id = %d", n, id)); err != nil {
				mu.Lock()
				werr = fmt.Errorf("update %d: %w", n, err) // its commit is unknown: stop tracking
				mu.Unlock()
				return
			}
			mu.Lock()
			tracked = append(tracked, key)
			updates++
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()

	restart := func(kill bool) {
		if kill {
			p.kill9(t)
		} else if code := p.stop(t); code != 0 {
			t.Fatalf("exit code %d after SIGTERM:\n%s", code, p.out.String())
		}
		p = e.start()
	}
	faults := []struct {
		name string
		do   func()
	}{
		{"kill -9 of cachesync", func() { restart(true) }},
		{"Redis restarted (empty)", func() { e.redis.Stop(t); time.Sleep(time.Second); e.redis.Start(t) }},
		{"MariaDB frozen for 2.5 s", func() { db.Pause(t); time.Sleep(2500 * time.Millisecond); db.Resume(t) }},
		{"SIGTERM of cachesync", func() { restart(false) }},
	}
	for i := range 8 {
		time.Sleep(time.Second)
		f := faults[i%len(faults)]
		t.Logf("fault %d: %s", i+1, f.name)
		f.do()
	}
	time.Sleep(time.Second)
	close(stop)
	<-done
	mu.Lock()
	defer mu.Unlock()
	if werr != nil {
		t.Fatal(werr)
	}
	t.Logf("%d updates, each with its own key cached before it", updates)
	if updates < 100 {
		t.Fatalf("only %d updates ran: the soak tested too little", updates)
	}
	e.waitGone(60*time.Second, tracked...)
	p.alive(t)
}
