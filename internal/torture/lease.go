package torture

import (
	"errors"

	"github.com/redis/go-redis/v9"
)

// errNoLease is mode lease's error until package cacheaside is in this build.
var errNoLease = errors.New("not available in this build: it needs package cacheaside (lease-fenced fills)")

// leaseFill is mode lease's fill: cacheaside.Client.Get, whose fill is
// refused when cachesync deleted the key after the miss.
func (o *Options) leaseFill(redis.UniversalClient) (fillStrategy, error) { return nil, errNoLease }

// leaseCounter is a fill strategy that counts its fenced fills.
type leaseCounter interface{ leaseStats() *LeaseStats }
