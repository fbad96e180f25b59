package observe

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/source"
)

// MySQL confirms against the source: it re-reads the row's version column
// by primary key. It is used from the observer's one goroutine only.
type MySQL struct {
	Src  config.SourceConfig
	conn *client.Conn
}

// Current implements Confirmer.
func (m *MySQL) Current(ctx context.Context, ref RowRef) (int64, bool, error) {
	if len(ref.PK) == 0 {
		return 0, false, fmt.Errorf("%s.%s has no primary key: the row cannot be re-read", ref.DB, ref.Table)
	}
	if m.conn == nil {
		c, err := source.Connect(ctx, m.Src)
		if err != nil {
			return 0, false, err
		}
		m.conn = c
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT %s FROM %s.%s WHERE ", ident(ref.Column), ident(ref.DB), ident(ref.Table))
	for i, c := range ref.PK {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString(ident(c) + " = ?")
	}
	r, err := m.conn.Execute(b.String(), ref.Values...)
	if err != nil {
		m.conn.Close() // a fresh connection next time
		m.conn = nil
		return 0, false, fmt.Errorf("re-read %s.%s: %w", ref.DB, ref.Table, err)
	}
	defer r.Close()
	if r.RowNumber() == 0 {
		return 0, false, nil
	}
	if v, err := r.GetValue(0, 0); err != nil || v == nil {
		return 0, true, fmt.Errorf("re-read %s.%s: version column %s is NULL or unreadable", ref.DB, ref.Table, ref.Column)
	}
	n, err := r.GetInt(0, 0)
	if err != nil {
		return 0, true, fmt.Errorf("re-read %s.%s: version column %s: %w", ref.DB, ref.Table, ref.Column, err)
	}
	return n, true, nil
}

// Close closes the connection.
func (m *MySQL) Close() {
	if m.conn != nil {
		m.conn.Close()
		m.conn = nil
	}
}

func ident(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
