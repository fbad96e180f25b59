package canal

import (
	"errors"
	"fmt"
	"reflect"
	"unsafe"

	gocanal "github.com/go-mysql-org/go-mysql/canal"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/keys"
)

// markAbsentColumns makes c's binlog parser put keys.Absent where a rows
// event's column bitmap leaves a column out, where go-mysql leaves nil as
// for NULL: a NULL skips a key, an absent column is a key nobody can
// render, which must not pass unnoticed. canal keeps its parser to
// itself (it sets RowsEventDecodeFunc for its table filter and hands the
// handler only the rows), so the parser is reached by reflection and
// canal's own decode function is wrapped, not replaced. Pinned to go-mysql
// v1.16's field names; TestMarkAbsentColumnsInstalls fails when they change.
// seen, if not nil, is also handed every decoded rows event (doubt.go).
func markAbsentColumns(c *gocanal.Canal, seen func(*replication.RowsEvent)) error {
	syncer, ok := privateField(reflect.ValueOf(c).Elem(), "syncer").(*replication.BinlogSyncer)
	if !ok || syncer == nil {
		return errors.New("go-mysql canal has no syncer field")
	}
	parser, ok := privateField(reflect.ValueOf(syncer).Elem(), "parser").(*replication.BinlogParser)
	if !ok || parser == nil {
		return errors.New("go-mysql BinlogSyncer has no parser field")
	}
	decode, ok := privateField(reflect.ValueOf(parser).Elem(), "rowsEventDecodeFunc").(func(*replication.RowsEvent, []byte) error)
	if !ok {
		return errors.New("go-mysql BinlogParser has no rowsEventDecodeFunc field")
	}
	parser.SetRowsEventDecodeFunc(func(e *replication.RowsEvent, data []byte) error {
		var err error
		if decode != nil {
			err = decode(e, data)
		} else {
			err = e.Decode(data)
		}
		if err != nil {
			return err
		}
		if seen != nil {
			seen(e)
		}
		for i, skips := range e.SkippedColumns {
			for _, col := range skips {
				if i < len(e.Rows) && col < len(e.Rows[i]) {
					e.Rows[i][col] = keys.Absent{}
				}
			}
		}
		return nil
	})
	return nil
}

// privateField returns the value of v's unexported field name, or nil.
func privateField(v reflect.Value, name string) any {
	f := v.FieldByName(name)
	if !f.IsValid() {
		return nil
	}
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface()
}

// absentUsed names the used columns some row image of rows lacks (as the
// bitmaps are per event, the first before and after image tell for all).
func (tk *tableKeys) absentUsed(rows [][]any) []string {
	var names []string
	for _, c := range tk.UsedColumns() {
		for _, row := range rows {
			if c < len(row) && row[c] == (keys.Absent{}) {
				names = append(names, tk.Schema().Columns[c].Name)
				break
			}
		}
	}
	return names
}

// checkRowImage applies source.on_statement_dml to a rows event whose
// images lack a column the rules read. With backfill the rows are then
// rendered as far as they can be: a key whose column is absent is skipped.
//
// A rows event's column bitmaps hold for all its rows (one for the before
// images, one for the after images), so its first two rows say whether any
// row lacks a column: a full image, the usual case, costs a look at two
// rows, not at every row of the event.
func (h *handler) checkRowImage(tk *tableKeys, op event.Op, rows [][]any, hdr *replication.EventHeader) error {
	head := rows[:min(len(rows), 2)]
	if len(tk.absentUsed(head)) == 0 {
		return nil
	}
	if op == event.OpUpdate {
		fillUnchanged(tk.UsedColumns(), rows)
	}
	absent := tk.absentUsed(head)
	if len(absent) == 0 {
		return nil
	}
	h.t.metrics.PartialRowImage.WithLabelValues(tk.name).Inc()
	what := fmt.Sprintf("a row image without the columns %v that key templates or watch lists read (binlog_row_image MINIMAL or NOBLOB in the writing session), "+
		"so the keys of the old values cannot be rendered: SET GLOBAL binlog_row_image=FULL (and in my.cnf; sessions opened since the change keep theirs until they reconnect)", absent)
	return h.unsafeChange([]string{tk.name}, event.Position{File: h.curFile, Pos: hdr.LogPos}, what)
}

// fillUnchanged copies into each UPDATE after image the columns it leaves
// out and its before image has: a partial after image carries the columns
// the statement set (MINIMAL) or all but unchanged BLOBs (NOBLOB), so an
// absent one kept its value. A column absent from the before image stays
// unknown.
func fillUnchanged(cols []int, rows [][]any) {
	for i := 0; i+1 < len(rows); i += 2 {
		before, after := rows[i], rows[i+1]
		for _, c := range cols {
			if c < len(before) && c < len(after) && after[c] == (keys.Absent{}) {
				after[c] = before[c]
			}
		}
	}
}
