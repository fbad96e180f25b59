package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Validate checks the whole config and returns every problem at once as
// *Problems, each with its YAML line when the Config came from Load or Parse
// (line 0 for one built in Go). It has no side effects beyond filling the
// derived fields of each rule (DB, TableGlob, Templates): no I/O, no network,
// no directories created. It accepts transport.kind kafka and
// checkpoint.store redis even though this build cannot run them yet; the
// binary refuses those at startup, so `config check` still validates them.
func (c *Config) Validate() error {
	k := newChecker(c)
	c.Source.check(k)
	c.Checkpoint.check(k)
	c.Transport.check(k)
	c.Redis.check(k)
	c.Delete.check(k)
	c.checkReplicas(k)
	c.Retry.check(k)
	c.HTTP.check(k)
	k.positive("shutdown.timeout", c.Shutdown.Timeout, "30s")
	c.Observe.check(k)
	k.checkRules(c.Rules)
	file := ""
	if c.src != nil {
		file = c.src.file
	}
	return k.probs.asError(file)
}

// checker collects problems and knows the line of every path.
type checker struct {
	src   *sourceInfo
	lines map[string]int
	probs Problems
}

func newChecker(c *Config) *checker {
	k := &checker{src: c.src}
	if c.src != nil {
		k.lines = c.src.lines
		return k
	}
	// Built in Go: a rule may still carry the line it was read from.
	k.lines = map[string]int{}
	for i, r := range c.Rules {
		if r.Line > 0 {
			k.lines[indexPath("rules", i)] = r.Line
		}
	}
	return k
}

// line is the line of path, or of its nearest written parent (a missing key
// is reported at the section it is missing from).
func (k *checker) line(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := k.lines[p]; ok {
			return l
		}
	}
	return 0
}

func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

func (k *checker) addf(path, format string, args ...any) {
	k.probs = append(k.probs, Problem{Line: k.line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// show quotes a value; see shown for why values from the environment are not shown.
func (k *checker) show(path, value string) string { return shown(k.src, path, value) }

func (k *checker) showInt(path string, n int) string { return k.show(path, strconv.Itoa(n)) }

// written reports whether the file set path; always false for a Config built in Go.
func (k *checker) written(path string) bool {
	_, ok := k.lines[path]
	return ok && k.src != nil
}

// oneOf checks an enumerated value.
func (k *checker) oneOf(path, value string, allowed ...string) {
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	k.addf(path, "must be %s, got %s", strings.Join(allowed, " or "), k.show(path, value))
}

// addr checks host:port; hostOptional allows ":9180" (all interfaces).
func (k *checker) addr(path, value, example string, hostOptional bool) {
	if value == "" {
		k.addf(path, "is required: host:port such as %s", example)
		return
	}
	host, port, err := net.SplitHostPort(value)
	n, perr := strconv.Atoi(port)
	switch {
	case err != nil:
		k.addf(path, "must be host:port such as %s, got %s", example, k.show(path, value))
	case host == "" && !hostOptional:
		k.addf(path, "needs a host before the port, such as %s, got %s", example, k.show(path, value))
	case perr != nil || n < 1 || n > 65535:
		k.addf(path, "needs a port number from 1 to 65535, such as %s, got %s", example, k.show(path, value))
	}
}

func (k *checker) notNegative(path string, d Duration, meaning string) {
	if d < 0 {
		k.addf(path, "must be 0 (%s) or positive, got %s", meaning, k.show(path, d.String()))
	}
}

func (k *checker) notBoth(path string, password Secret, file string) {
	if password != "" && file != "" {
		k.addf(path+".password_file", "set either password or password_file, not both")
	}
}

func (s *SourceConfig) check(k *checker) {
	if !strings.HasPrefix(s.Addr, "/") { // a path is a unix socket
		k.addr("source.addr", s.Addr, "127.0.0.1:3306 (or a unix socket path starting with /)", false)
	}
	if s.User == "" {
		k.addf("source.user", "is required: the MySQL user cachesync connects as (it needs REPLICATION SLAVE, REPLICATION CLIENT and SELECT)")
	}
	k.notBoth("source", s.Password, s.PasswordFile)
	k.oneOf("source.flavor", s.Flavor, "mysql", "mariadb")
	k.oneOf("source.on_gap", s.OnGap, "fail", "backfill")
	k.oneOf("source.on_statement_dml", s.OnStatementDML, "fail", "backfill")
	k.oneOf("source.on_schema_doubt", s.OnSchemaDoubt, "backfill", "fail")
	if s.TimeZone != "" {
		if _, err := ParseTimeZone(s.TimeZone); err != nil {
			k.addf("source.time_zone", "%v", err)
		}
	}
	k.notNegative("source.lag_warning", s.LagWarning, "no lag warning")
	if s.ServerID == 0 {
		k.addf("source.server_id", "must be above 0: pick an id no other replica of this primary uses (default 4201)")
	}
	if s.Charset == "" {
		k.addf("source.charset", "must not be empty: write utf8mb4, or remove the key for that default")
	}
	k.positive("source.connect_timeout", s.ConnectTimeout, "5s")
	k.notNegative("source.heartbeat_period", s.HeartbeatPeriod, "no heartbeat")
	k.notNegative("source.read_timeout", s.ReadTimeout, "1.5 × heartbeat_period")
	if s.ReadTimeout > 0 && s.HeartbeatPeriod > 0 && s.ReadTimeout <= s.HeartbeatPeriod {
		k.addf("source.read_timeout", "must be longer than source.heartbeat_period (%s), or an idle connection is declared dead between two heartbeats; 0 means 1.5 × heartbeat_period",
			k.show("source.heartbeat_period", s.HeartbeatPeriod.String()))
	}
	s.TLS.check(k, "source.tls")
	if s.TLS.Active() && strings.HasPrefix(s.Addr, "/") && s.TLS.ServerName == "" && !s.TLS.InsecureSkipVerify {
		k.addf("source.tls.server_name", "is required with tls over a unix socket (source.addr %s): write the name in the server's certificate, or remove tls (a socket is local)",
			k.show("source.addr", s.Addr))
	}
}

func (c *CheckpointConfig) check(k *checker) {
	k.oneOf("checkpoint.store", c.Store, "file", "redis")
	if c.Store == "file" && c.Path == "" {
		k.addf("checkpoint.path", "is required with store: file (default ./cachesync.pos)")
	}
	if c.Store == "redis" && c.Key == "" {
		k.addf("checkpoint.key", "is required with store: redis (default cachesync:checkpoint)")
	}
	k.notNegative("checkpoint.min_interval", c.MinInterval, "save after every acknowledged transaction")
	k.positive("checkpoint.lease", c.Lease, "10s")
	if c.Lease > 0 && c.Lease < Duration(time.Second) {
		k.addf("checkpoint.lease", "must be at least 1s (default 10s): it is renewed every quarter of it, got %s", k.show("checkpoint.lease", c.Lease.String()))
	}
}

func (t *TransportConfig) check(k *checker) {
	k.oneOf("transport.kind", t.Kind, "direct", "kafka")
	// Every deleter queues this many batches: the direct transport's, and
	// with kafka each consumer's and the publisher's bypass.
	if t.QueueSize < 1 {
		k.addf("transport.queue_size", "must be at least 1 (default 256), got %s", k.showInt("transport.queue_size", t.QueueSize))
	}
	switch t.Kind {
	case "direct":
		if len(t.Kafka.Brokers) > 0 && !k.written("transport.kind") {
			k.addf("transport.kafka", "is configured but transport.kind is omitted, which means direct: write kind: kafka, or remove transport.kafka")
		}
	case "kafka":
		t.Kafka.check(k)
	}
}

func (c *KafkaConfig) check(k *checker) {
	if len(c.Brokers) == 0 {
		k.addf("transport.kafka.brokers", "needs at least one broker with kind: kafka, such as [127.0.0.1:9092]")
	}
	for i, b := range c.Brokers {
		k.addr(indexPath("transport.kafka.brokers", i), b, "127.0.0.1:9092", false)
	}
	k.topic("transport.kafka.topic", c.Topic, true)
	k.topic("transport.kafka.dlq_topic", c.DLQTopic, false)
	if c.DLQTopic != "" && c.DLQTopic == c.Topic {
		k.addf("transport.kafka.dlq_topic", "must differ from topic, or poison messages would be consumed again")
	}
	if c.Group == "" {
		k.addf("transport.kafka.group", "is required with kind: kafka: the consumer group the deleters share, such as cachesync")
	}
	if c.Partitions < 0 {
		k.addf("transport.kafka.partitions", "must be 0 (broker default) or more, got %s", k.showInt("transport.kafka.partitions", c.Partitions))
	}
	k.positive("transport.kafka.connect_timeout", c.ConnectTimeout, "5s")
	c.TLS.check(k, "transport.kafka.tls")
	c.SASL.check(k, "transport.kafka.sasl")
	c.checkTuning(k)
}

// checkTuning checks the producer and consumer settings. None has a "0 means
// default" reading: kafka-go would replace a 0 with its own default (a 1s
// batch timeout, batches of 100), which is not what the file says.
func (c *KafkaConfig) checkTuning(k *checker) {
	k.oneOf("transport.kafka.message", c.Message, "row", "batch")
	if c.ClientID == "" {
		k.addf("transport.kafka.client_id", "must not be empty: write cachesync, or remove the key for that default")
	}
	k.positive("transport.kafka.batch_timeout", c.BatchTimeout, "1ms")
	k.positive("transport.kafka.commit_interval", c.CommitInterval, "200ms")
	k.atLeastOne("transport.kafka.batch_size", c.BatchSize, "1000")
	k.atLeastOne("transport.kafka.max_message_bytes", c.MaxMessageBytes, "1048576")
	k.atLeastOne("transport.kafka.max_in_flight", c.MaxInFlight, "8000")
	k.atLeastOne("transport.kafka.consumer_max_in_flight", c.ConsumerMaxInFlight, "200000")
	if c.BatchSize > 0 && c.MaxInFlight > 0 && c.MaxInFlight < c.BatchSize {
		k.addf("transport.kafka.max_in_flight", "must be at least batch_size (%s), or no batch ever fills and every one waits batch_timeout; got %s",
			k.showInt("transport.kafka.batch_size", c.BatchSize), k.showInt("transport.kafka.max_in_flight", c.MaxInFlight))
	}
}

func (s *SASLConfig) check(k *checker, path string) {
	if !s.Active() {
		return
	}
	if s.Mechanism == "" {
		k.addf(path+".mechanism", "is required with sasl: plain, scram-sha-256 or scram-sha-512 (ask the Kafka operators which one the brokers enable)")
	} else {
		k.oneOf(path+".mechanism", s.Mechanism, "plain", "scram-sha-256", "scram-sha-512")
	}
	if s.Username == "" {
		k.addf(path+".username", "is required with sasl: the Kafka user cachesync authenticates as")
	}
	switch {
	case s.Password != "" && s.PasswordFile != "":
		k.notBoth(path, s.Password, s.PasswordFile)
	case s.Password == "" && s.PasswordFile == "":
		k.addf(path+".password", `is required with sasl: write password: "${KAFKA_PASSWORD}", or password_file`)
	}
}

// positive checks a duration that must be above 0.
func (k *checker) positive(path string, d Duration, def string) {
	if d <= 0 {
		k.addf(path, "must be above 0 (default %s), got %s", def, k.show(path, d.String()))
	}
}

// atLeastOne checks a count that must be 1 or more.
func (k *checker) atLeastOne(path string, n int, def string) {
	if n < 1 {
		k.addf(path, "must be at least 1 (default %s), got %s", def, k.showInt(path, n))
	}
}

// topic checks a Kafka topic name by the broker's own rules.
func (k *checker) topic(path, name string, required bool) {
	if name == "" {
		if required {
			k.addf(path, "is required with kind: kafka, such as cache-invalidation")
		}
		return
	}
	ok := len(name) <= 249 && name != "." && name != ".."
	for i := 0; i < len(name) && ok; i++ {
		c := name[i]
		ok = c == '.' || c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	if !ok {
		k.addf(path, "must be a Kafka topic name (letters, digits, '.', '_' and '-', at most 249), got %s", k.show(path, name))
	}
}

func (r *RedisConfig) check(k *checker) {
	r.checkFaults(k)
	if r.Mode == "ring" {
		r.checkRing(k)
	} else if len(r.Addrs) == 0 {
		k.addf("redis.addrs", "needs at least one address, such as [127.0.0.1:6379]")
	}
	for i, a := range r.Addrs {
		k.addr(indexPath("redis.addrs", i), a, "127.0.0.1:6379", false)
	}
	if r.DB < 0 {
		k.addf("redis.db", "must be 0 or more, got %s", k.showInt("redis.db", r.DB))
	}
	// Without master_name, several addrs make a cluster client; with it, addrs
	// are the sentinels and any number of them is fine.
	if r.DB != 0 && len(r.Addrs) > 1 && r.MasterName == "" {
		k.addf("redis.db", "must be 0 with several addrs: they make a Redis Cluster, which has only db 0 (set master_name if the addrs are sentinels)")
	}
	if r.MasterName != "" && strings.TrimSpace(r.MasterName) != r.MasterName {
		k.addf("redis.master_name", "has leading or trailing spaces: write the sentinel master name exactly, got %s", k.show("redis.master_name", r.MasterName))
	}
	k.notBoth("redis", r.Password, r.PasswordFile)
	if r.SentinelPassword != "" && r.SentinelPasswordFile != "" {
		k.addf("redis.sentinel_password_file", "set either sentinel_password or sentinel_password_file, not both")
	}
	if r.MasterName == "" && (r.SentinelUsername != "" || r.SentinelPassword != "" || r.SentinelPasswordFile != "") {
		k.addf("redis.sentinel_password", "is only used with master_name (the addrs are then sentinels): set master_name, or remove the sentinel_* keys")
	}
	if r.PoolSize < 1 {
		k.addf("redis.pool_size", "must be at least 1 (default 16), got %s", k.showInt("redis.pool_size", r.PoolSize))
	}
	k.notNegative("redis.dial_timeout", r.DialTimeout, "the client's default")
	k.notNegative("redis.read_timeout", r.ReadTimeout, "the client's default")
	r.TLS.check(k, "redis.tls")
}

func (d *DeleteConfig) check(k *checker) {
	k.notNegative("delete.second_delay", d.SecondDelay, "no second delete")
	k.oneOf("delete.command", d.Command, "unlink", "del")
	if d.BatchKeys < 1 || d.BatchKeys > 100000 {
		k.addf("delete.batch_keys", "must be from 1 to 100000 (default 512), got %s", k.showInt("delete.batch_keys", d.BatchKeys))
	}
	if d.ScanRate < 0 {
		k.addf("delete.scan_rate", "must be 0 (no cap) or more keys per second (default 5000), got %s", k.showInt("delete.scan_rate", d.ScanRate))
	}
}

func (r *RetryConfig) check(k *checker) {
	if r.Initial <= 0 {
		k.addf("retry.initial", "must be above 0, such as 50ms, got %s", k.show("retry.initial", r.Initial.String()))
	}
	if r.Max < r.Initial {
		k.addf("retry.max", "must be at least retry.initial (%s), got %s", k.show("retry.initial", r.Initial.String()), k.show("retry.max", r.Max.String()))
	}
}

func (h *HTTPConfig) check(k *checker) {
	if h.Addr != "off" {
		k.addr("http.addr", h.Addr, "127.0.0.1:9180 (or off)", true)
	}
	k.positive("http.stall_after", h.StallAfter, "30s")
	if h.Pprof && h.Addr == "off" {
		k.addf("http.pprof", "is true but http.addr is off: set http.addr (on loopback, such as 127.0.0.1:9180) to serve /debug/pprof/")
	}
}
