package sink

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/testenv"
)

// newRedis is NewRedis for a config that must build, closed when the test ends.
func newRedis(t testing.TB, rc config.RedisConfig) redis.UniversalClient {
	t.Helper()
	rdb, err := NewRedis(rc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// A redis-server that speaks only TLS: redis.tls reaches it (CA alone,
// client certificate, skip-verify); without it, or with the wrong CA or
// name, CheckRedis says what to change.
func TestRedisTLS(t *testing.T) {
	pki := testenv.NewPKI(t)
	srv := testenv.StartRedis(t, testenv.RedisOptions{TLS: pki})
	ctx := context.Background()
	rc := config.Default().Redis
	rc.Addrs = []string{srv.Addr}

	ok := []struct {
		name string
		tls  config.TLSConfig
	}{
		{"ca_file", config.TLSConfig{CAFile: pki.CAFile}},
		{"client certificate", config.TLSConfig{CAFile: pki.CAFile, CertFile: pki.CertFile, KeyFile: pki.KeyFile}},
		{"server_name localhost", config.TLSConfig{CAFile: pki.CAFile, ServerName: "localhost"}},
		{"insecure_skip_verify", config.TLSConfig{InsecureSkipVerify: true}},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			rc := rc
			rc.TLS = c.tls
			rdb := newRedis(t, rc)
			if err := CheckRedis(ctx, rdb, rc); err != nil {
				t.Fatal(err)
			}
			if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if n, err := rdb.Unlink(ctx, "k").Result(); n != 1 || err != nil {
				t.Fatalf("UNLINK over TLS = %d, %v", n, err)
			}
		})
	}

	other := testenv.NewPKI(t)
	bad := []struct {
		name   string
		tls    config.TLSConfig
		unreac bool // still ErrRedisUnreachable (waiting might help)
		want   string
	}{
		{"no tls", config.TLSConfig{}, true, "then set redis.tls"},
		{"another CA", config.TLSConfig{CAFile: other.CAFile}, false, "not trusted"},
		{"wrong name", config.TLSConfig{CAFile: pki.CAFile, ServerName: "redis.internal"}, false, "set redis.tls.server_name"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			rc := rc
			rc.TLS = c.tls
			rc.DialTimeout = config.Duration(500 * time.Millisecond)
			err := CheckRedis(ctx, newRedis(t, rc), rc)
			if err == nil || !strings.Contains(err.Error(), c.want) || errors.Is(err, ErrRedisUnreachable) != c.unreac {
				t.Fatalf("err = %v, want %q (unreachable %v)", err, c.want, c.unreac)
			}
		})
	}

	if _, err := NewRedis(config.RedisConfig{Addrs: rc.Addrs, TLS: config.TLSConfig{CAFile: pki.Dir + "/missing.pem"}}); err == nil ||
		!strings.Contains(err.Error(), `redis.tls.ca_file: cannot read "`+pki.Dir+`/missing.pem"`) {
		t.Errorf("missing ca_file: %v", err)
	}
}

// TLS on against a plain server: the server waits for a command line that
// never comes, so it looks unreachable; the error points at the TLS port.
func TestRedisTLSAgainstPlainServer(t *testing.T) {
	pki := testenv.NewPKI(t)
	srv := testenv.StartRedis(t)
	rc := config.Default().Redis
	rc.Addrs = []string{srv.Addr}
	rc.TLS = config.TLSConfig{CAFile: pki.CAFile}
	rc.DialTimeout = config.Duration(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := CheckRedis(ctx, newRedis(t, rc), rc)
	if !errors.Is(err, ErrRedisUnreachable) || !strings.Contains(err.Error(), "redis.tls is on: check that these are the servers' TLS ports") {
		t.Fatalf("err = %v", err)
	}
}
