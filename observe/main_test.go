package observe

import (
	"testing"

	"github.com/cachesync/cachesync/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
