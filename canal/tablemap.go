package canal

import (
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-mysql-org/go-mysql/schema"

	"github.com/cachesync/cachesync/event"
)

// tableFromMap builds a schema from the binlog's own table map, for rows of
// a table the server no longer has. It needs binlog_row_metadata=FULL (column
// names); without it, it returns nil.
func tableFromMap(m *replication.TableMapEvent) *schema.Table {
	names := m.ColumnNameString()
	if len(names) != int(m.ColumnCount) || len(names) == 0 {
		return nil
	}
	enums, sets := m.EnumStrValueMap(), m.SetStrValueMap()
	unsigned := m.UnsignedMap()
	t := &schema.Table{Schema: string(m.Schema), Name: string(m.Table)}
	for i, n := range names {
		c := schema.TableColumn{Name: n, Type: schema.TYPE_STRING, IsUnsigned: unsigned[i]}
		switch {
		case enums[i] != nil:
			c.Type, c.EnumValues = schema.TYPE_ENUM, enums[i]
		case sets[i] != nil:
			c.Type, c.SetValues = schema.TYPE_SET, sets[i]
		case m.ColumnType[i] == mysql.MYSQL_TYPE_BIT:
			c.Type = schema.TYPE_BIT
		case m.ColumnType[i] == mysql.MYSQL_TYPE_INT24:
			c.Type = schema.TYPE_MEDIUM_INT // 3 bytes: its unsigned values need their own width
		case isIntType(m.ColumnType[i]):
			c.Type = schema.TYPE_NUMBER
		case m.ColumnType[i] == mysql.MYSQL_TYPE_STRING && m.ColumnMeta[i] < 256 && !m.IsCharacterColumn(i):
			c.RawType = fmt.Sprintf("binary(%d)", m.ColumnMeta[i])
		}
		t.Columns = append(t.Columns, c)
	}
	return t
}

func isIntType(t byte) bool {
	switch t {
	case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_LONGLONG:
		return true
	}
	return false
}

func opOf(t replication.EventType) (event.Op, bool) {
	switch t {
	case replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2, replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
		return event.OpInsert, true
	case replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1:
		return event.OpUpdate, true
	case replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2, replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		return event.OpDelete, true
	}
	return 0, false
}
