package torture

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/source"
)

// queryTimeout bounds every read and write on a connection, so a wedged
// server ends the run instead of hanging it.
const queryTimeout = 30 * time.Second

// table is the one table the harness reads and writes.
const table = "items"

// dial opens one connection to db (empty: none) speaking utf8mb4.
func (o *Options) dial(ctx context.Context, db string) (*client.Conn, error) {
	src := config.SourceConfig{Addr: o.MySQLAddr, User: o.MySQLUser, Password: config.Secret(o.MySQLPassword), Charset: "utf8mb4"}
	c, err := source.Connect(ctx, src, func(c *client.Conn) error {
		c.ReadTimeout, c.WriteTimeout = queryTimeout, queryTimeout
		return nil
	})
	if err != nil {
		return nil, err
	}
	if db != "" {
		if err := c.UseDB(db); err != nil {
			c.Close()
			return nil, fmt.Errorf("mysql %s: USE %s: %w", o.MySQLAddr, db, err)
		}
	}
	return c, nil
}

// prepared dials the torture database and prepares query (what names it
// in an error).
func (o *Options) prepared(ctx context.Context, query, what string) (*client.Conn, *client.Stmt, error) {
	c, err := o.dial(ctx, o.Database)
	if err != nil {
		return nil, nil, err
	}
	stmt, err := c.Prepare(query)
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("mysql: prepare %s: %w", what, err)
	}
	return c, stmt, nil
}

// payload is row id's text: non-ASCII, with 4-byte UTF-8, as users' data is.
func payload(id int) string { return fmt.Sprintf("строка %d · 行 · 🦀🚀 · ñ", id) }

// resetTable (re)creates the items table with rows 1..rows at version 1.
func (o *Options) resetTable(ctx context.Context) error {
	c, err := o.dial(ctx, "")
	if err != nil {
		return err
	}
	defer c.Close()
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS `" + o.Database + "` CHARACTER SET utf8mb4",
		"DROP TABLE IF EXISTS `" + o.Database + "`." + table,
		"CREATE TABLE `" + o.Database + "`." + table + " (id BIGINT PRIMARY KEY, version BIGINT NOT NULL, payload VARCHAR(64)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
	} {
		if _, err := c.Execute(q); err != nil {
			return fmt.Errorf("mysql: %s: %w", q, err)
		}
	}
	const chunk = 500
	for lo := 1; lo <= o.Rows; lo += chunk {
		var b strings.Builder
		args := make([]any, 0, 2*chunk)
		b.WriteString("INSERT INTO `" + o.Database + "`." + table + " (id, version, payload) VALUES ")
		for id := lo; id < lo+chunk && id <= o.Rows; id++ {
			if id > lo {
				b.WriteString(",")
			}
			b.WriteString("(?, 1, ?)")
			args = append(args, id, payload(id))
		}
		if _, err := c.Execute(b.String(), args...); err != nil {
			return fmt.Errorf("mysql: insert rows %d…: %w", lo, err)
		}
	}
	return nil
}

// masterPos is the end of everything the server has committed so far.
func (o *Options) masterPos(ctx context.Context) (event.Position, error) {
	c, err := o.dial(ctx, "")
	if err != nil {
		return event.Position{}, err
	}
	defer c.Close()
	r, err := c.Execute("SHOW MASTER STATUS")
	if err != nil {
		return event.Position{}, fmt.Errorf("mysql: SHOW MASTER STATUS: %w", err)
	}
	if r.Resultset == nil || r.RowNumber() != 1 {
		return event.Position{}, fmt.Errorf("mysql %s: SHOW MASTER STATUS returned no row: is log_bin off?", o.MySQLAddr)
	}
	file, err := r.GetStringByName(0, "File")
	if err != nil {
		return event.Position{}, err
	}
	pos, err := r.GetUintByName(0, "Position")
	return event.Position{File: file, Pos: uint32(pos)}, err
}

// versions returns every row's version, indexed by id.
func (o *Options) versions(ctx context.Context) ([]int64, error) {
	c, err := o.dial(ctx, o.Database)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	r, err := c.Execute("SELECT id, version FROM " + table)
	if err != nil {
		return nil, fmt.Errorf("mysql: read versions: %w", err)
	}
	v := make([]int64, o.Rows+1)
	for i := range r.RowNumber() {
		id, err1 := r.GetInt(i, 0)
		ver, err2 := r.GetInt(i, 1)
		if err1 != nil || err2 != nil || id < 1 || id > int64(o.Rows) {
			return nil, fmt.Errorf("mysql: unexpected row %d in %s: %v %v", id, table, err1, err2)
		}
		v[id] = ver
	}
	return v, nil
}

// rowReader reads one row's version and payload on its own connection.
type rowReader struct {
	c    *client.Conn
	stmt *client.Stmt
}

func (o *Options) newRowReader(ctx context.Context) (*rowReader, error) {
	src := o
	if o.ReplicaAddr != "" {
		r := *o
		r.MySQLAddr = o.ReplicaAddr // the readers fill from the replica
		src = &r
	}
	c, stmt, err := src.prepared(ctx, "SELECT version, payload FROM "+table+" WHERE id = ?", "the read")
	if err != nil {
		return nil, err
	}
	return &rowReader{c: c, stmt: stmt}, nil
}

func (r *rowReader) read(id int) (version int64, text string, err error) {
	res, err := r.stmt.Execute(id)
	if err != nil {
		return 0, "", fmt.Errorf("mysql: read row %d: %w", id, err)
	}
	return scanRow(res, id)
}

func scanRow(res *mysql.Result, id int) (int64, string, error) {
	if res.RowNumber() != 1 {
		return 0, "", fmt.Errorf("mysql: row %d: %d rows", id, res.RowNumber())
	}
	v, err := res.GetInt(0, 0)
	if err != nil {
		return 0, "", err
	}
	s, err := res.GetString(0, 1)
	return v, s, err
}

func (r *rowReader) close() { r.stmt.Close(); r.c.Close() }
