package canal

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/testenv"
)

// cutQuery proxies to addr and cuts every connection that sends a query
// holding marker: that query meets a network failure while every other
// query to the source works.
func cutQuery(t *testing.T, addr, marker string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); defer c.Close(); _, _ = io.Copy(c, s) }()
			go func() {
				defer wg.Done()
				defer s.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 && bytes.Contains(buf[:n], []byte(marker)) {
						c.Close()
						return
					}
					if n > 0 {
						if _, werr := s.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// A statement that cannot be read back because the connection broke is
// not a statement that changed a mapped table: the tailer retries from the
// boundary (a plain error), instead of stopping for good (on_statement_dml:
// fail) or backfilling every mapped table (backfill) after a network blip.
func TestStatementReadBackNetworkErrorIsRetried(t *testing.T) {
	db := sharedMariaDB(t)
	db.Exec(t, "CREATE DATABASE IF NOT EXISTS readback")
	db.Exec(t, "CREATE TABLE IF NOT EXISTS readback.items (id INT PRIMARY KEY)")
	src := config.Default().Source
	src.Addr, src.User, src.Flavor = cutQuery(t, db.Addr, "SHOW BINLOG EVENTS"), "root", "mariadb"
	rule := testenv.Rule(t, "readback.items", nil, "item:{id}")
	h := newTestHandler(src, rule, zap.NewNop())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h.ctx = ctx
	defer h.closeSQL()

	hdr := &replication.EventHeader{EventType: replication.QUERY_EVENT, LogPos: 1000, EventSize: 100}
	err := h.checkStatement(hdr, "mysql-bin.000001")
	if err == nil {
		t.Fatal("a statement that could not be read back passed as harmless")
	}
	if isUnsafe(err) {
		t.Fatalf("a broken connection while reading a statement back stops the tailer for good: %v", err)
	}
}
