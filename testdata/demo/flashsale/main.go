// Command flashsale is the write-behind demo's buyer crowd: it puts STOCK
// items on sale in the cache (queued for MySQL like any write-behind write),
// then BUYERS concurrent buyers each take one with IncrBy(-1, floor 0).
// Run by flashsale.sh; REDIS_ADDR names the Redis.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/cachesync/cachesync/writebehind"
)

func main() {
	stock, buyers := envInt("STOCK", 1000), envInt("BUYERS", 5000)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), PoolSize: 64})
	defer rdb.Close()
	c := writebehind.New(rdb, "wb:stock")
	row := writebehind.Row{Table: "shop.stock", PK: map[string]any{"sku": "tee-42"}}
	if _, err := c.Set(ctx, "stock:tee-42", strconv.Itoa(stock), 0, row, map[string]any{"qty": stock}); err != nil {
		fail(err)
	}
	var sold, refused atomic.Int64
	var wg sync.WaitGroup
	for range buyers {
		wg.Go(func() {
			r, err := c.IncrBy(ctx, "stock:tee-42", -1, 0, row, "qty")
			switch {
			case err != nil:
				fail(err)
			case r.Applied:
				sold.Add(1)
			default:
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	fmt.Printf("   %d buyers: %d sold, %d refused (sold out)\n", buyers, sold.Load(), refused.Load())
	if sold.Load() != int64(stock) {
		fail(fmt.Errorf("sold %d of %d", sold.Load(), stock))
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "flashsale:", err)
	os.Exit(1)
}
