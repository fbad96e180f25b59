package config

import (
	"testing"
	"time"
)

func TestReplicasConfig(t *testing.T) {
	cfg, err := Parse([]byte(minimal+`delete: {second: replicas}
replicas:
  - {addr: "10.0.0.12:3306", user: r, password: "${REPLICA_PASSWORD}"}
  - {name: "réplica-2", addr: "10.0.0.13:3306", user: r}
`), "r.yaml", env("REPLICA_PASSWORD", "pw🔑"))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Delete.WaitsForReplicas() || cfg.Delete.ReplicaMaxWaitOr() != 30*time.Second {
		t.Errorf("delete: %+v", cfg.Delete)
	}
	r := cfg.Replicas[0]
	if r.Label() != "10.0.0.12:3306" || r.Password.Reveal() != "pw🔑" || cfg.Replicas[1].Label() != "réplica-2" {
		t.Errorf("replicas: %+v", cfg.Replicas)
	}
	src := r.Source(cfg.Source)
	if src.Addr != r.Addr || src.User != "r" || src.Password.Reveal() != "pw🔑" || src.Flavor != cfg.Source.Flavor {
		t.Errorf("as a source: %+v", src)
	}
	if d := Default(); d.Delete.Second != SecondFixed || d.Delete.WaitsForReplicas() {
		t.Errorf("default second: %q", d.Delete.Second)
	}
}

func TestValidateReplicas(t *testing.T) {
	_, err := Parse([]byte(minimal+`delete:
  second: sometimes
  replica_max_wait: -1s
replicas:
  - {name: a, addr: nohost, password: x}
  - {name: a, addr: "10.0.0.1:3306", user: r}
`), "bad.yaml", nil)
	checkProblems(t, err,
		want{7, "delete.second", `must be fixed or replicas, got "sometimes"`},
		want{8, "delete.replica_max_wait", "must be 0 (the default, 30s) or positive"},
		want{10, "replicas[0].addr", "must be host:port"},
		want{10, "replicas[0].user", "is required"},
		want{10, "replicas[0].password", "REPLICA_PASSWORD"},
		want{11, "replicas[1].name", `"a" is also replicas[0]'s name`},
	)
	_, err = Parse([]byte(minimal+"delete: {second: replicas}\n"), "none.yaml", nil)
	checkProblems(t, err, want{6, "delete.second", "is replicas but no replicas are listed"})
}
