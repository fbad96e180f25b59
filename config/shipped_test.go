package config

import (
	"path/filepath"
	"testing"
)

// Every config the project ships (demo, docker-compose) must load, so a
// schema change cannot leave them behind.
func TestShippedConfigsLoad(t *testing.T) {
	files, _ := filepath.Glob("../testdata/*/cachesync*.yaml")
	if len(files) < 3 {
		t.Fatalf("expected the demo and docker configs, found %v", files)
	}
	vars := map[string]string{"MYSQL_PASSWORD": "pw", "MYSQL_ADDR": "127.0.0.1:3306", "REDIS_ADDR": "127.0.0.1:6379",
		"DEMO_DIR": "/tmp/demo", "DEMO_HTTP_ADDR": "127.0.0.1:9181",
		"KAFKA_ADDR": "127.0.0.1:9092"}
	getenv := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	for _, f := range files {
		c, err := Load(f, getenv)
		if err != nil {
			t.Errorf("%s:\n%v", f, err)
			continue
		}
		// What we ship is what users copy: it must not warn of its own rules.
		if w := c.RuleWarnings(); len(w) > 0 {
			t.Errorf("%s: %q", f, w)
		}
	}
}
