package testenv

import (
	"sync"
	"testing"
)

// shared is the one MariaDB a test binary shares across its tests. It is
// process-wide because its lifetime is the process's: testing.M has no
// place to keep it, and Main must find it after m.Run.
var shared struct {
	mu     sync.Mutex
	inMain bool
	db     *MariaDB
	err    error
}

// Main runs the package's tests and then stops the shared MariaDB, if one
// was started. Call it from the package's TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()
	defer func() {
		shared.mu.Lock()
		defer shared.mu.Unlock()
		if shared.db != nil {
			shared.db.close()
		}
	}()
	m.Run() // since Go 1.15 its result becomes the exit code once TestMain returns
}

// SharedMariaDB returns the test binary's shared server, starting it on
// first use (the others wait for it). Tests may run in parallel on it: each
// takes its own database with NewDatabase and, to tail the binlog, its own
// ReplicaServerID. Stop, Start, Kill, Pause and Resume fail on it; a test
// that needs them starts its own server with StartMariaDB.
func SharedMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	requireBinaries(t, "mariadb-server", "mariadbd", "mariadb-install-db")
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.inMain {
		t.Fatal("testenv: SharedMariaDB needs testenv.Main to stop the server after the tests: " +
			"add `func TestMain(m *testing.M) { testenv.Main(m) }` to this package's tests")
	}
	if shared.db == nil && shared.err == nil {
		shared.db, shared.err = newMariaDB(MariaDBOptions{})
		if shared.db != nil {
			shared.db.shared = true
		}
	}
	if shared.err != nil {
		t.Fatalf("shared MariaDB: %v", shared.err)
	}
	return shared.db
}
