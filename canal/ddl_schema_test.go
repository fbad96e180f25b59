package canal

import (
	"context"
	"testing"
	"time"

	gocanal "github.com/go-mysql-org/go-mysql/canal"
	"github.com/go-mysql-org/go-mysql/replication"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/internal/testenv"
)

// memBlob keeps a schema history in memory.
type memBlob struct{ data []byte }

func (b *memBlob) Load(context.Context) ([]byte, error)      { return b.data, nil }
func (b *memBlob) Save(_ context.Context, data []byte) error { b.data = data; return nil }
func (b *memBlob) String() string                            { return "memory" }

// A mapped table's schema that cannot be read after a DDL (here: the
// connection breaks on canal's "show full columns") is missing from the schema
// history: that is said, not passed over as if the table were dropped.
func TestDDLSchemaReadFailureIsLogged(t *testing.T) {
	db := sharedMariaDB(t)
	db.Exec(t, "CREATE DATABASE IF NOT EXISTS readback")
	db.Exec(t, "CREATE TABLE IF NOT EXISTS readback.items (id INT PRIMARY KEY)")
	addr := cutQuery(t, db.Addr, "show full columns")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	cc := gocanal.NewDefaultConfig()
	cc.Addr, cc.User, cc.Password, cc.Flavor = addr, "root", "", "mariadb"
	cc.Dump.ExecutionPath = ""
	cc.IncludeTableRegex = []string{`^readback\.items$`}
	c, err := gocanal.NewCanal(cc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	src := config.Default().Source
	src.Addr, src.User, src.Flavor = addr, "root", "mariadb"
	core, logs := observer.New(zapcore.WarnLevel)
	h := newTestHandler(src, testenv.Rule(t, "readback.items", nil, "item:{id}"), zap.New(core))
	tl := h.t
	if tl.History, err = OpenSchemaHistory(ctx, &memBlob{}); err != nil {
		t.Fatal(err)
	}
	h.ctx, h.canal, h.curFile = ctx, c, "mysql-bin.000001"

	if err := h.OnTableChanged(&replication.EventHeader{LogPos: 1000, EventSize: 100}, "readback", "items"); err != nil {
		t.Fatal(err)
	}
	if len(tl.History.Tables()) != 0 {
		t.Fatalf("a schema was recorded through a proxy that cuts canal's column read: %v", tl.History.Tables())
	}
	if logs.FilterMessageSnippet("readback.items").Len()+logs.FilterField(zap.String("table", "readback.items")).Len() == 0 {
		t.Fatalf("the failed schema read after a DDL was not logged; logs: %v", logs.All())
	}
}
