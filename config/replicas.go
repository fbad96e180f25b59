package config

import "time"

// ReplicaConfig is one read replica the applications fill their cache from
// (see README, "Read replicas"). With delete.second: replicas the second
// delete of a transaction waits until every listed replica has applied it.
// Connections use the source's flavor and charset.
type ReplicaConfig struct {
	// Name labels the replica in logs and metrics; default its addr.
	Name     string `yaml:"name"`
	Addr     string `yaml:"addr"`     // host:port, required
	User     string `yaml:"user"`     // required; needs REPLICATION CLIENT (SHOW SLAVE STATUS) without GTIDs
	Password Secret `yaml:"password"` // use ${VAR}; never logged
	// PasswordFile is an alternative to password (see source.password_file).
	PasswordFile string `yaml:"password_file"`
	// TLS to the replica, as source.tls.
	TLS TLSConfig `yaml:"tls"`
}

// Label is how logs and metrics name the replica.
func (r ReplicaConfig) Label() string {
	if r.Name != "" {
		return r.Name
	}
	return r.Addr
}

// Source returns the replica as a SourceConfig of the given source, for
// the source package's dialer: its address, user, password and TLS with
// the source's flavor, charset and timeouts.
func (r ReplicaConfig) Source(src SourceConfig) SourceConfig {
	s := src
	s.Addr, s.User, s.Password, s.PasswordFile, s.TLS = r.Addr, r.User, r.Password, "", r.TLS
	return s
}

// Second-delete modes (delete.second).
const (
	SecondFixed    = "fixed"    // second_delay after the first delete
	SecondReplicas = "replicas" // as soon as every replica applied the transaction, at most replica_max_wait
)

// ReplicaMaxWaitOr is replica_max_wait, or its default when 0 (a Config
// built in Go).
func (d DeleteConfig) ReplicaMaxWaitOr() time.Duration {
	if d.ReplicaMaxWait > 0 {
		return d.ReplicaMaxWait.D()
	}
	return Default().Delete.ReplicaMaxWait.D()
}

func (c *Config) checkReplicas(k *checker) {
	names := map[string]int{}
	for i, r := range c.Replicas {
		p := indexPath("replicas", i)
		k.addr(p+".addr", r.Addr, "10.0.0.12:3306", false)
		if r.User == "" {
			k.addf(p+".user", "is required: the MySQL user cachesync polls the replica's applied position as")
		}
		k.notBoth(p, r.Password, r.PasswordFile)
		r.TLS.check(k, p+".tls")
		if j, dup := names[r.Label()]; dup {
			k.addf(p+".name", "%q is also replicas[%d]'s name (or addr): each replica needs its own, it labels the metrics", r.Label(), j)
		}
		names[r.Label()] = i
	}
	d := &c.Delete
	if d.Second != "" { // "": a Config built in Go, fixed
		k.oneOf("delete.second", d.Second, SecondFixed, SecondReplicas)
	}
	k.notNegative("delete.replica_max_wait", d.ReplicaMaxWait, "the default, 30s")
	if d.Second == SecondReplicas && len(c.Replicas) == 0 {
		k.addf("delete.second", "is replicas but no replicas are listed: list the read replicas under replicas:, or write second: fixed")
	}
}

// ReplicaWarnings lists unsafe settings of the replicas' connections.
func (c *Config) ReplicaWarnings() []string {
	var w []string
	if len(c.Replicas) > 0 && !c.Delete.WaitsForReplicas() {
		w = append(w, "replicas are listed but delete.second is not replicas: the second delete goes delete.second_delay after the first and waits for no replica; write delete.second: replicas to wait for them")
	}
	for i, r := range c.Replicas {
		if r.TLS.InsecureSkipVerify {
			w = append(w, skipVerifyWarning(indexPath("replicas", i)+".tls", "the replica's", "the replica's applied position and the MySQL password's exchange"))
		}
	}
	return w
}
