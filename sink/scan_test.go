package sink

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/testenv"
)

// scanKeys are the keys a scan test starts with: the rule's (to go, in
// several SCAN pages), and look-alikes that must stay.
func scanKeys(n int) (gone, kept []string) {
	for i := range n {
		gone = append(gone, fmt.Sprintf("user:%d", i), fmt.Sprintf("ユーザー😀:%d:x", i))
	}
	gone = append(gone, "a*b[1]?:7", "user:", "ユーザー😀::x")
	kept = []string{"users:1", "user", "order:1", "ユーザー😀:1:y", "ユーザー:1:x", "aXb[1]?:7", "a*b1?:7", "xuser:1"}
	return gone, kept
}

func scanPatterns(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, raw := range []string{"user:{id}", "ユーザー😀:{id}:x", "a*b[1]?:{id}"} {
		tpl, err := config.ParseTemplate(raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tpl.MatchPattern())
	}
	return out
}

func checkScan(t *testing.T, rdb redis.UniversalClient, gone, kept []string) {
	t.Helper()
	ctx := context.Background()
	var left, lost []string
	for _, k := range gone {
		if rdb.Exists(ctx, k).Val() == 1 {
			left = append(left, k)
		}
	}
	for _, k := range kept {
		if rdb.Exists(ctx, k).Val() == 0 {
			lost = append(lost, k)
		}
	}
	if len(left) > 0 || len(lost) > 0 {
		t.Errorf("after the scan: %d keys of the rule left (e.g. %q), other keys deleted: %q", len(left), left[:min(5, len(left))], lost)
	}
}

func fill(t *testing.T, rdb redis.UniversalClient, keys ...[]string) {
	t.Helper()
	ctx := context.Background()
	for _, ks := range keys {
		for _, k := range ks {
			if err := rdb.Set(ctx, k, "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// One node: every key of the templates goes, in several SCAN pages,
// non-ASCII and glob characters in the literal matched as themselves.
func TestScannerSingle(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client(t)
	gone, kept := scanKeys(1500)
	fill(t, rdb, gone, kept)
	s := &Scanner{Client: rdb, Rate: 0, Count: 200, Log: zap.NewNop()}
	st, err := s.Delete(context.Background(), "shop.users", scanPatterns(t))
	if err != nil {
		t.Fatal(err)
	}
	checkScan(t, rdb, gone, kept)
	if st.Deleted != int64(len(gone)) || st.Masters != 1 {
		t.Errorf("stats %+v, want %d deleted on 1 master", st, len(gone))
	}
}

// A cluster: every master is scanned (keys live in all slots), and
// single-key deletes never cross slots.
func TestScannerCluster(t *testing.T) {
	c := testenv.StartRedisCluster(t, 3)
	rdb := c.Client(t)
	gone, kept := scanKeys(300)
	fill(t, rdb, gone, kept)
	s := &Scanner{Client: rdb, Rate: 100000, Log: zap.NewNop()}
	st, err := s.Delete(context.Background(), "shop.users", scanPatterns(t))
	if err != nil {
		t.Fatal(err)
	}
	checkScan(t, rdb, gone, kept)
	if st.Deleted != int64(len(gone)) || st.Masters != 3 {
		t.Errorf("stats %+v, want %d deleted on 3 masters", st, len(gone))
	}
}

// A Redis that is gone is an error, never a scan reported done.
func TestScannerUnreachable(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	r.Stop(t)
	_, err := (&Scanner{Client: rdb}).Delete(context.Background(), "shop.users", []string{"user:*"})
	if err == nil || !strings.Contains(err.Error(), r.Addr) {
		t.Fatalf("scan of a stopped Redis: err %v", err)
	}
}
