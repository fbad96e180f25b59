package config

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"
)

// TestValidateAllAtOnce writes one file with a mistake in nearly every key
// and expects every problem back in one error, each at its line.
func TestValidateAllAtOnce(t *testing.T) {
	src := `source:
  addr: db
  user: ""
  password: x
  password_file: /run/pw
  flavor: postgres
  server_id: 0
  charset: ""
  heartbeat_period: 5s
  read_timeout: 2s
checkpoint:
  store: s3
transport:
  kind: kafka
  kafka:
    brokers: [k1, "k2:99999"]
    topic: "bad topic"
    dlq_topic: "bad topic"
    partitions: -1
redis:
  addrs: ["r1:6379", "r2:6379", nope]
  db: 3
  pool_size: 0
delete:
  second_delay: -1s
  command: flush
  batch_keys: 0
retry:
  initial: 0
  max: -1s
http:
  addr: localhost
rules:
  - table: users
    keys: []
    watch: ["", "a b"]
  - table: "sh*p.users"
    keys: ["user:{id}", "user:{ID}", "{{id}}", "user:{id", ""]
`
	_, err := Parse([]byte(src), "all.yaml", nil)
	checkProblems(t, err,
		want{2, "source.addr", `must be host:port such as 127.0.0.1:3306 (or a unix socket path starting with /), got "db"`},
		want{3, "source.user", "is required"},
		want{4, "source.password", `is written in the config file; secrets come only from the environment or a file: write password: "${MYSQL_PASSWORD}", or use password_file`},
		want{5, "source.password_file", "set either password or password_file, not both"},
		want{6, "source.flavor", `must be mysql or mariadb, got "postgres"`},
		want{7, "source.server_id", "must be above 0"},
		want{8, "source.charset", "must not be empty"},
		want{10, "source.read_timeout", `must be longer than source.heartbeat_period ("5s")`},
		want{12, "checkpoint.store", `must be file or redis, got "s3"`},
		want{15, "transport.kafka.group", "is required with kind: kafka"},
		want{16, "transport.kafka.brokers[0]", `must be host:port such as 127.0.0.1:9092, got "k1"`},
		want{16, "transport.kafka.brokers[1]", "needs a port number from 1 to 65535"},
		want{17, "transport.kafka.topic", "must be a Kafka topic name"},
		want{18, "transport.kafka.dlq_topic", "must be a Kafka topic name"},
		want{18, "transport.kafka.dlq_topic", "must differ from topic"},
		want{19, "transport.kafka.partitions", `got "-1"`},
		want{21, "redis.addrs[2]", `got "nope"`},
		want{22, "redis.db", "must be 0 with several addrs"},
		want{23, "redis.pool_size", "must be at least 1"},
		want{25, "delete.second_delay", `must be 0 (no second delete) or positive, got "-1s"`},
		want{26, "delete.command", `must be unlink or del, got "flush"`},
		want{27, "delete.batch_keys", "must be from 1 to 100000"},
		want{29, "retry.initial", "must be above 0"},
		want{30, "retry.max", "must be at least retry.initial"},
		want{32, "http.addr", `got "localhost"`},
		want{34, "rules[0].table", `must be db.table such as shop.users or shop.orders_*, got "users"`},
		want{35, "rules[0].keys", "needs at least one key template"},
		want{36, "rules[0].watch[0]", "is empty"},
		want{36, "rules[0].watch[1]", `has ' '`},
		want{37, "rules[1].table", "cannot use * or ? in the database part"},
		want{38, "rules[1].keys[1]", "makes the same keys as keys[0]"},
		want{38, "rules[1].keys[2]", `uses no column`},
		want{38, "rules[1].keys[3]", `"{" is not closed`},
		want{38, "rules[1].keys[4]", "is empty"},
	)
	if !strings.HasPrefix(err.Error(), "all.yaml:2: source.addr: must be host:port") {
		t.Errorf("Error() should start with the first problem as file:line: path: message, got:\n%s", err)
	}
}

// TestValidateOne checks each remaining problem on its own, over a valid base.
func TestValidateOne(t *testing.T) {
	cases := []struct {
		name, extra string
		want        []want
	}{
		{"missing user and rules", "source: {addr: 127.0.0.1:3306}\n", []want{
			{1, "source.user", "is required"}, {0, "rules", "needs at least one rule"}}},
		{"unix socket", "source: {addr: /run/mysqld/mysqld.sock, user: u}\n" + rulesOnly, nil},
		{"empty addr", "source: {addr: '', user: u}\n" + rulesOnly, []want{{1, "source.addr", "is required"}}},
		{"addr without host", "source: {addr: ':3306', user: u}\n" + rulesOnly, []want{{1, "source.addr", "needs a host"}}},
		{"ipv6 addr", "source: {addr: '[::1]:3306', user: u}\n" + rulesOnly, nil},
		{"mariadb", "source: {user: u, flavor: mariadb}\n" + rulesOnly, nil},
		{"checkpoint file without path", "checkpoint: {store: file, path: ''}\n", []want{{6, "checkpoint.path", "is required with store: file"}}},
		{"checkpoint redis without key", "checkpoint: {store: redis, key: ''}\n", []want{{6, "checkpoint.key", "is required with store: redis"}}},
		{"checkpoint redis accepted", "checkpoint: {store: redis}\n", nil},
		{"kafka accepted", "transport: {kind: kafka, kafka: {brokers: ['k:9092'], topic: t, group: g}}\n", nil},
		{"kafka missing all", "transport:\n  kind: kafka\n", []want{
			{6, "transport.kafka.brokers", "needs at least one broker"},
			{6, "transport.kafka.topic", "is required"},
			{6, "transport.kafka.group", "is required"}}},
		{"kafka configured but kind omitted", "transport:\n  kafka: {brokers: ['k:9092']}\n", []want{
			{7, "transport.kafka", "transport.kind is omitted"}}},
		{"kafka configured, kind direct written", "transport:\n  kind: direct\n  kafka: {brokers: ['k:9092']}\n", nil},
		{"unknown transport", "transport: {kind: nats}\n", []want{{6, "transport.kind", `must be direct or kafka, got "nats"`}}},
		{"queue size", "transport: {queue_size: 0}\n", []want{{6, "transport.queue_size", "must be at least 1"}}},
		{"queue size with kafka", "transport: {kind: kafka, queue_size: -1, kafka: {brokers: ['k:9092'], topic: t, group: g}}\n", []want{
			{6, "transport.queue_size", "must be at least 1"}}},
		{"no redis addrs", "redis: {addrs: []}\n", []want{{6, "redis.addrs", "needs at least one address"}}},
		{"sentinel with db", "redis: {addrs: ['s1:26379', 's2:26379'], master_name: mymaster, db: 2}\n", nil},
		{"master name spaces", "redis: {master_name: ' m'}\n", []want{{6, "redis.master_name", "leading or trailing spaces"}}},
		{"redis both passwords", "redis: {password: \"${P}\", password_file: /f}\n", []want{{6, "redis.password_file", "not both"}}},
		{"negative db", "redis: {db: -1}\n", []want{{6, "redis.db", "must be 0 or more"}}},
		{"negative timeouts", "redis: {dial_timeout: -1s, read_timeout: -2s}\n", []want{
			{6, "redis.dial_timeout", "or positive"}, {6, "redis.read_timeout", "or positive"}}},
		{"batch keys too big", "delete: {batch_keys: 100001}\n", []want{{6, "delete.batch_keys", "from 1 to 100000"}}},
		{"batch keys max", "delete: {batch_keys: 100000, command: del}\n", nil},
		{"retry max below initial", "retry: {initial: 1s, max: 500ms}\n", []want{{6, "retry.max", `must be at least retry.initial ("1s"), got "500ms"`}}},
		{"http off", "http: {addr: 'off'}\n", nil},
		{"http all interfaces", "http: {addr: ':9180'}\n", nil},
		{"http empty", "http: {addr: ''}\n", []want{{6, "http.addr", "is required"}}},
		{"checkpoint negative interval", "checkpoint: {min_interval: -1ms}\n", []want{{6, "checkpoint.min_interval", "or positive"}}},
		{"heartbeat negative", "source: {user: u, heartbeat_period: -1s}\n" + rulesOnly, []want{{1, "source.heartbeat_period", "or positive"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := c.extra
			if !strings.Contains(src, "source:") {
				src = minimal + c.extra
			}
			_, err := Parse([]byte(src), "t.yaml", env("P", "p"))
			if c.want == nil {
				if err != nil {
					t.Fatalf("unexpected problems:\n%v", err)
				}
				return
			}
			checkProblems(t, err, c.want...)
		})
	}
}

const rulesOnly = "rules: [{table: a.b, keys: ['k:{id}']}]\n"

func TestValidateRules(t *testing.T) {
	cases := []struct {
		name, rule string // the lines after "  - table: ", at line 3
		want       []want
	}{
		{"glob table", "shop.orders_*\n    keys: ['o:{id}']\n", nil},
		{"question glob", "shop.t?\n    keys: ['o:{id}']\n", nil},
		{"empty table", "''\n    keys: ['o:{id}']\n", []want{{3, "rules[0].table", "is required"}}},
		{"backquotes", "'`shop`.`users`'\n    keys: ['o:{id}']\n", []want{{3, "rules[0].table", "without backquotes"}}},
		{"empty db", ".users\n    keys: ['o:{id}']\n", []want{{3, "rules[0].table", "must be db.table"}}},
		{"empty table part", "shop.\n    keys: ['o:{id}']\n", []want{{3, "rules[0].table", "must be db.table"}}},
		{"spaces", "'shop. users'\n    keys: ['o:{id}']\n", []want{{3, "rules[0].table", "spaces around a name"}}},
		{"no keys key", "shop.users\n", []want{{3, "rules[0].keys", "needs at least one key template"}}},
		{"lone brace", "shop.users\n    keys: ['a}b']\n", []want{{4, "rules[0].keys[0]", `lone "}"`}}},
		{"bad column", "shop.users\n    keys:\n      - 'ok:{id}'\n      - 'u:{a-b}'\n", []want{
			{6, "rules[0].keys[1]", `column name "a-b" has '-'`}}},
		{"watch duplicate", "shop.users\n    keys: ['u:{id}']\n    watch: [email, EMAIL]\n", []want{{5, "rules[0].watch[1]", "repeats watch[0]"}}},
		{"watch digits", "shop.users\n    keys: ['u:{id}']\n    watch: ['123']\n", []want{{5, "rules[0].watch[0]", "only digits"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "source: {user: u}\nrules:\n  - table: " + c.rule
			cfg, err := Parse([]byte(src), "r.yaml", nil)
			if c.want == nil {
				if err != nil {
					t.Fatalf("unexpected problems:\n%v", err)
				}
				if r := cfg.Rules[0]; r.Line != 3 || r.DB != "shop" || len(r.Templates) != 1 {
					t.Errorf("rule not filled: %+v", r)
				}
				return
			}
			checkProblems(t, err, c.want...)
		})
	}
}

func TestValidateFillsRules(t *testing.T) {
	cfg := mustParse(t, `source: {user: u}
rules:
  - table: shop.users
    keys: ["user:{id}", "user:{{{id}}}:email:{email}"]

  - table: shop.orders_*
    keys: ["order:{id}"]
`, nil)
	r0, r1 := cfg.Rules[0], cfg.Rules[1]
	if r0.Line != 3 || r1.Line != 6 {
		t.Errorf("rule lines = %d, %d, want 3, 6", r0.Line, r1.Line)
	}
	if r0.DB != "shop" || r0.TableGlob != "users" || r1.TableGlob != "orders_*" {
		t.Errorf("DB/TableGlob not filled: %+v %+v", r0, r1)
	}
	if len(r0.Templates) != 2 || r0.Templates[1].Raw != "user:{{{id}}}:email:{email}" {
		t.Errorf("templates not filled: %+v", r0.Templates)
	}
}

// A Config built in Go has no file: problems come with line 0, or with the
// line a rule carries.
func TestValidateBuiltInGo(t *testing.T) {
	cfg := Default()
	cfg.Source.User = "u"
	cfg.Rules = []Rule{{Table: "shop.users", Keys: []string{"u:{id}"}}, {Table: "bad", Keys: []string{"x:{id}"}, Line: 12}}
	checkProblems(t, cfg.Validate(), want{12, "rules[1].table", "must be db.table"})
	cfg.Rules[1].Table = "shop.x"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if cfg.Rules[1].DB != "shop" || len(cfg.Rules[1].Templates) != 1 {
		t.Errorf("rule not filled: %+v", cfg.Rules[1])
	}
	cfg.Delete.Command = "x"
	err := cfg.Validate()
	checkProblems(t, err, want{0, "delete.command", "must be unlink or del"})
	if got := err.Error(); got != `delete.command: must be unlink or del, got "x"` {
		t.Errorf("Error() = %q", got)
	}
}

func TestValidateNilWhenValid(t *testing.T) {
	cfg := mustParse(t, minimal, nil)
	if err := cfg.Validate(); err != nil { // must be a nil interface, not a nil *Problems
		t.Fatalf("Validate() = %#v", err)
	}
}

func TestResolveSecrets(t *testing.T) {
	files := map[string]string{
		"/run/mysql":  "mysql-file-pw\n",
		"/run/redis":  "redis-pw\r\n",
		"/run/twonl":  "pw\n\n",
		"/run/empty":  "\n",
		"/run/noperm": "",
	}
	read := func(name string) ([]byte, error) {
		if name == "/run/noperm" {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
		}
		s, ok := files[name]
		if !ok {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		return []byte(s), nil
	}
	cfg := mustParse(t, minimal+"redis: {password_file: /run/redis}\n", nil)
	cfg.Source.PasswordFile = "/run/mysql"
	if err := cfg.ResolveSecrets(read); err != nil {
		t.Fatal(err)
	}
	if cfg.Source.Password.Reveal() != "mysql-file-pw" || cfg.Redis.Password.Reveal() != "redis-pw" {
		t.Errorf("passwords = %q, %q", cfg.Source.Password.Reveal(), cfg.Redis.Password.Reveal())
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("config must stay valid after ResolveSecrets: %v", err)
	}

	cfg = mustParse(t, minimal+"redis: {password_file: /run/twonl}\n", nil)
	if err := cfg.ResolveSecrets(read); err != nil || cfg.Redis.Password.Reveal() != "pw\n" {
		t.Errorf("only one newline should be trimmed: %q, %v", cfg.Redis.Password.Reveal(), err)
	}

	cfg = mustParse(t, minimal+"redis: {password_file: /run/empty}\n", nil)
	cfg.Source.PasswordFile = "/run/missing"
	err := cfg.ResolveSecrets(read)
	checkProblems(t, err,
		want{1, "source.password_file", `cannot read "/run/missing": file does not exist`},
		want{6, "redis.password_file", `"/run/empty" is empty`})

	cfg = mustParse(t, minimal+"redis: {password_file: /run/noperm}\n", nil)
	checkProblems(t, cfg.ResolveSecrets(read), want{6, "redis.password_file", "permission denied"})

	cfg = mustParse(t, minimal, nil)
	called := false
	if err := cfg.ResolveSecrets(func(string) ([]byte, error) { called = true; return nil, errors.New("x") }); err != nil || called {
		t.Errorf("no password_file: want no read, got called=%v err=%v", called, err)
	}
}

func TestDefaultsKept(t *testing.T) {
	cfg := mustParse(t, minimal, nil)
	d := Default()
	if cfg.Delete.SecondDelay.D() != 500*time.Millisecond || cfg.Source.Addr != d.Source.Addr ||
		cfg.Redis.Addrs[0] != "127.0.0.1:6379" || cfg.HTTP.Addr != d.HTTP.Addr || cfg.Transport.Kind != "direct" {
		t.Errorf("defaults not kept: %+v", cfg)
	}
}

// A frozen primary is found within two heartbeat periods unless the user
// chose otherwise, and never silently goes unwatched.
func TestStreamReadTimeout(t *testing.T) {
	s := func(hb, rt time.Duration) SourceConfig {
		return SourceConfig{HeartbeatPeriod: Duration(hb), ReadTimeout: Duration(rt)}
	}
	for _, c := range []struct {
		src  SourceConfig
		want time.Duration
	}{
		{s(5*time.Second, 0), 7500 * time.Millisecond},
		{s(time.Second, 0), 1500 * time.Millisecond},
		{s(5*time.Second, 30*time.Second), 30 * time.Second},
		{s(0, 0), 0},
	} {
		if got := c.src.StreamReadTimeout(); got != c.want {
			t.Errorf("heartbeat %v, read_timeout %v: %v, want %v", c.src.HeartbeatPeriod, c.src.ReadTimeout, got, c.want)
		}
		if c.src.ReadTimeout == 0 && c.src.HeartbeatPeriod > 0 && c.src.StreamReadTimeout() >= 2*c.src.HeartbeatPeriod.D() {
			t.Errorf("the default read timeout of heartbeat %v is not within two periods", c.src.HeartbeatPeriod)
		}
	}
	if d := Default().Source; d.StreamReadTimeout() >= 2*d.HeartbeatPeriod.D() || d.StreamReadTimeout() <= d.HeartbeatPeriod.D() {
		t.Errorf("default source: read timeout %v for heartbeat %v", d.StreamReadTimeout(), d.HeartbeatPeriod)
	}
	if w := s(0, 0).Warnings(); len(w) != 1 || !strings.Contains(w[0], "never noticed") {
		t.Errorf("no heartbeat and no read timeout: warnings %q", w)
	}
}

// The sentinels' own credentials need master_name, and take a password or
// a file, not both; the file is read like the other secrets.
func TestSentinelCredentials(t *testing.T) {
	_, err := Parse([]byte(minimal+"redis: {sentinel_password: \"${P}\"}\n"), "c.yaml", env("P", "x"))
	checkProblems(t, err, want{6, "redis.sentinel_password", "only used with master_name"})
	_, err = Parse([]byte(minimal+"redis: {master_name: m, sentinel_password: \"${P}\", sentinel_password_file: /f}\n"), "c.yaml", env("P", "x"))
	checkProblems(t, err, want{6, "redis.sentinel_password_file", "not both"})

	cfg := mustParse(t, minimal+"redis: {master_name: m, sentinel_password_file: /run/s.pw}\n", nil)
	read := func(name string) ([]byte, error) {
		if name != "/run/s.pw" {
			t.Fatalf("read %q", name)
		}
		return []byte("s3cret\n"), nil
	}
	if err := cfg.ResolveSecrets(read); err != nil {
		t.Fatal(err)
	}
	if cfg.Redis.SentinelPassword.Reveal() != "s3cret" || cfg.Redis.SentinelPasswordFile != "" {
		t.Errorf("sentinel password %q, file %q after ResolveSecrets", cfg.Redis.SentinelPassword.Reveal(), cfg.Redis.SentinelPasswordFile)
	}
}
