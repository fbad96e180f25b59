package main

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/cachesync/cachesync/internal/testenv"
)

// Network faults on each link of cachesync — to MariaDB, to Redis, to the
// Kafka broker — made by toxiproxy running in this process on loopback,
// under a steady stream of writes. For every fault: while it lasts /readyz
// and a metric say what is wrong, the checkpoint never passes a change whose
// keys are still cached, and once it clears every key the writes touched is
// gone and the checkpoint is past the last write ("lost 0, stale 0").

// netFault is one fault: a toxic held on the link for hold.
type netFault struct {
	name  string
	toxic string        // toxiproxy's JSON for the toxic
	hold  time.Duration // how long it stays on the link
	ready string        // a pattern /readyz (503) must match while it lasts; "" if the link stays usable
	grows string        // a metric that must grow while it lasts; "" if none must
}

// faultLink starts a toxiproxy proxy on loopback in front of upstream.
func faultLink(t testing.TB, upstream string) *toxiproxy.Proxy {
	t.Helper()
	return faultLinkAt(t, "127.0.0.1:0", upstream)
}

// faultLinkAt is faultLink listening on listen.
func faultLinkAt(t testing.TB, listen, upstream string) *toxiproxy.Proxy {
	t.Helper()
	// toxiproxy's toxics log through zerolog's global logger at trace level
	// (a line per chunk cut by a bandwidth toxic); only warnings are of use.
	zerolog.SetGlobalLevel(zerolog.WarnLevel)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "link", listen, upstream)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// inject puts the fault's toxic on the link; the returned func takes it off.
func inject(t testing.TB, p *toxiproxy.Proxy, f netFault) (clear func()) {
	t.Helper()
	if _, err := p.Toxics.AddToxicJson(strings.NewReader(f.toxic)); err != nil {
		t.Fatalf("toxic %s: %v", f.toxic, err)
	}
	return func() { p.Toxics.ResetToxics(context.Background()) }
}

// faultRun drives one fault through a running cachesync: steady renames of
// n rows, the fault held in the middle, then every key must go and the
// checkpoint pass every write. With the direct transport (direct) the
// checkpoint means "deleted" and is checked against the cache all along; on
// the Kafka transport it means "acknowledged by Kafka", so only the end
// state is checked. It returns how long the first not-ready
// answer took after the fault began (0 if none was wanted).
func faultRun(t *testing.T, e *env, link *toxiproxy.Proxy, f netFault, direct bool) time.Duration {
	t.Helper()
	const n = 150
	e.enableMetrics()
	e.editConfig(`http: {addr: "127.0.0.1:`, `http: {stall_after: 1s, addr: "127.0.0.1:`)
	e.seedUsers(n)
	ids := seq(1, n)
	e.setKeys(userKeysOf(ids...)...)
	p := e.start()
	e.waitReadyz(p, 20*time.Second, 200, "ready")
	w := startWriter(t, e.db, e.renames("f", ids...), func(int) { time.Sleep(20 * time.Millisecond) })
	w.waitExecuted(t, 30*time.Second, 30)

	before := 0.0
	if f.grows != "" {
		before = e.metricSum(p, f.grows)
	}
	began := time.Now()
	clear := inject(t, link, f)
	var noticed time.Duration
	var saw []string
	for time.Since(began) < f.hold {
		code, body := e.readyz(p)
		if code != 200 && noticed == 0 {
			noticed = time.Since(began)
		}
		if code != 200 && !contains(saw, body) {
			saw = append(saw, body)
		}
		if direct && !t.Failed() { // one report, not one per look
			cp, _ := e.readCheckpoint()
			_, after := w.positions()
			checkCovered(t, e, cp, after, ids)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if f.ready != "" && !regexp.MustCompile(f.ready).MatchString(strings.Join(saw, "\n")) {
		t.Errorf("%s: /readyz never said %q while the fault lasted %v (it said %q)", f.name, f.ready, f.hold, saw)
	}
	if f.grows != "" {
		if got := e.metricSum(p, f.grows); got <= before {
			t.Errorf("%s: %s stayed at %v while the fault lasted", f.name, f.grows, got)
		}
	}
	clear()
	t.Logf("%s: /readyz not ready after %v: %q", f.name, noticed, saw)

	w.wait(t, 60*time.Second)
	e.waitGone(30*time.Second, userKeysOf(ids...)...)
	_, after := w.positions()
	last := after[len(after)-1]
	e.waitCheckpoint(30*time.Second, last)
	e.waitReadyz(p, 30*time.Second, 200, "ready")
	if code := p.stop(t); code != 0 {
		t.Fatalf("%s: exit %d after SIGTERM:\n%s", f.name, code, p.out.String())
	}
	cp, _ := e.readCheckpoint()
	checkCovered(t, e, cp, after, ids)
	if cp.cmp(last) < 0 {
		t.Errorf("%s: the checkpoint %v stopped before the last write %v", f.name, cp, last)
	}
	t.Logf("%s: lost 0, stale 0 (%d writes, checkpoint %v)", f.name, n, cp)
	return noticed
}

// metricSum is the sum of every sample of the metric name, whatever its labels.
func (e *env) metricSum(p *proc, name string) float64 {
	e.t.Helper()
	_, body := e.get(p, "/metrics")
	sum := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(rest[strings.LastIndexByte(rest, ' ')+1:], &v); err != nil {
			e.t.Fatalf("metric %s: %v", line, err)
		}
		sum += v
	}
	return sum
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The faults every link is put through; per link only what it must show
// differs.
func linkFaults(stallReady, stallMetric, resetMetric string) []netFault {
	return []netFault{
		{name: "latency", toxic: `{"name":"f","type":"latency","stream":"downstream","attributes":{"latency":400,"jitter":200}}`, hold: 2 * time.Second},
		{name: "half_open", toxic: `{"name":"f","type":"timeout","stream":"downstream","attributes":{"timeout":0}}`,
			hold: 4 * time.Second, ready: stallReady, grows: stallMetric},
		{name: "reset_peer", toxic: `{"name":"f","type":"reset_peer","stream":"downstream","attributes":{"timeout":0}}`,
			hold: 2 * time.Second, grows: resetMetric},
		{name: "bandwidth", toxic: `{"name":"f","type":"bandwidth","stream":"downstream","attributes":{"rate":4}}`, hold: 2 * time.Second},
		{name: "timeout_close", toxic: `{"name":"f","type":"timeout","stream":"downstream","attributes":{"timeout":500}}`,
			hold: 2 * time.Second, grows: resetMetric},
	}
}

// Between cachesync and MariaDB. A link that stops passing bytes is found
// within source.read_timeout (1.5 × heartbeat_period: 1.5 s here) and
// reported as binlog not ready; the stream resumes from the last
// transaction boundary.
func TestNetFaultsSource(t *testing.T) {
	t.Parallel()
	// The read guard (not a TCP keepalive, not the server) ends the stall:
	// the stream breaks with an i/o timeout.
	for _, f := range linkFaults(`(?m)^binlog: stream broke, reconnecting .*: i/o timeout`,
		"cachesync_binlog_reconnects_total", "cachesync_binlog_reconnects_total") {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			db := testenv.SharedMariaDB(t)
			e := newEnv(t, db, []string{usersSchema}, usersRules, "")
			link := faultLink(t, db.Addr)
			e.editConfig("source: {addr: "+db.Addr, "source: {addr: "+link.Listen)
			noticed := faultRun(t, e, link, f, true)
			// Writes flow every 20 ms, so the last byte came just before the
			// fault: the stall is found read_timeout (1.5 × heartbeat_period =
			// 1.5 s) after it began. A second of slack for scheduling; 3 ×
			// heartbeat_period would be past it.
			if bound := 1500*time.Millisecond + time.Second; f.name == "half_open" && (noticed == 0 || noticed > bound) {
				t.Errorf("a half-open source link was reported after %v, want within %v", noticed, bound)
			}
		})
	}
}

// Between cachesync and Redis: deletes wait and retry (redis.read_timeout),
// never drop; the invalidations are reported stalled after http.stall_after.
func TestNetFaultsRedis(t *testing.T) {
	t.Parallel()
	for _, f := range linkFaults(`(?m)^invalidations: \d+ waiting and nothing finished`, "cachesync_redis_errors_total", "cachesync_redis_errors_total") {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, "")
			link := faultLink(t, e.redis.Addr)
			e.editConfig("redis: {addrs: ["+e.redis.Addr, "redis: {read_timeout: 500ms, addrs: ["+link.Listen)
			faultRun(t, e, link, f, true)
		})
	}
}

// Between cachesync and the Kafka broker (tailer and consumer in one
// process). The broker advertises the proxy's address, so every connection,
// not only the bootstrap one, goes through the fault.
func TestNetFaultsKafka(t *testing.T) {
	t.Parallel()
	// A broker that takes bytes and answers nothing: the tailer's work waits
	// on Kafka's acknowledgements, and /readyz says so (not "Redis").
	for _, f := range linkFaults(`(?m)^invalidations: \d+ waiting and nothing finished for \d+s: Kafka acknowledges no publish`,
		"cachesync_kafka_publish_pending_messages", "") {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			// The proxy's address is chosen first, so the broker can
			// advertise it; the proxy starts once the broker listens.
			proxyAddr, upstream := freeAddr(t), ""
			c := testenv.StartKafkaCluster(t, kfake.ListenFn(func(network, addr string) (net.Listener, error) {
				l, err := net.Listen(network, "127.0.0.1:0")
				if err != nil {
					return nil, err
				}
				upstream = l.Addr().String()
				return advertised{Listener: l, addr: proxyAddr}, nil
			}))
			link := faultLinkAt(t, proxyAddr, upstream)
			transport := fmt.Sprintf(`transport:
  kind: kafka
  kafka: {brokers: [%s], topic: %s, group: cachesync, create_topic: true, partitions: 2, commit_interval: 50ms}
`, c.ListenAddrs()[0], kafkaTopic)
			e := newEnv(t, testenv.SharedMariaDB(t), []string{usersSchema}, usersRules, transport)
			faultRun(t, e, link, f, false)
		})
	}
}

// advertised is a listener that gives another address as its own: kfake
// advertises the proxy, and clients come through it.
type advertised struct {
	net.Listener
	addr string
}

func (a advertised) Addr() net.Addr {
	ap, err := net.ResolveTCPAddr("tcp", a.addr)
	if err != nil {
		return a.Listener.Addr()
	}
	return ap
}
