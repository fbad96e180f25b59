package canal

import (
	"testing"

	"github.com/cachesync/cachesync/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func sharedMariaDB(t *testing.T) *testenv.MariaDB { return testenv.SharedMariaDB(t) }
