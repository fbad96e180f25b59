package canal

import (
	"context"
	"fmt"

	"github.com/go-mysql-org/go-mysql/schema"
	"go.uber.org/zap"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
	"github.com/cachesync/cachesync/keys"
	"github.com/cachesync/cachesync/metrics"
)

// Changes the binlog holds no rows for. TRUNCATE is one query event, and
// the rows ON DELETE CASCADE removes from child tables are not logged at
// all (only the parent's delete is). Per rule, on_truncate: warn says so
// loudly; on_truncate: scan and cascade scan: true find the keys in Redis
// by SCAN (the ScanKeys hook; the tailer never imports a sink); cascade keys
// renders the children's keys from the parent's deleted row. Scans run in
// the handler, before canal reports the boundary after them, so the
// checkpoint cannot pass a TRUNCATE or a cascading delete until its scan
// finished; a failed scan breaks the stream, which resumes from the last
// boundary and scans again.

// ScanKeys deletes every Redis key matching the SCAN MATCH patterns (on
// every master) and returns how many it deleted; table and reason
// (truncate, cascade) name the scan in logs and metrics.
type ScanKeys func(ctx context.Context, table, reason string, patterns []string) (deleted int64, err error)

// noteDDLTable remembers a table the current DDL statement names, for
// OnDDL (canal reports the tables before the statement).
func (h *handler) noteDDLTable(db, table string) {
	h.ddlTables = append(h.ddlTables, [2]string{db, table})
}

// truncated applies each matching rule's on_truncate to the tables of a
// TRUNCATE statement at pos.
func (h *handler) truncated(query string, pos event.Position) error {
	tables := h.ddlTables
	h.ddlTables = nil
	for _, t := range tables {
		if err := h.truncatedTable(t[0], t[1], query, pos); err != nil {
			return err
		}
	}
	return nil
}

func (h *handler) truncatedTable(db, table, query string, pos event.Position) error {
	name := db + "." + table
	var patterns []string
	var warn []*config.Rule
	for _, r := range h.t.rules {
		if !r.Matches(db, table) {
			continue
		}
		if r.TruncatePolicy() == "scan" && h.t.Scan != nil {
			patterns = append(patterns, r.ScanPatterns()...)
		} else {
			warn = append(warn, r)
		}
	}
	if len(warn) > 0 {
		var tpls []string
		for _, r := range warn {
			tpls = append(tpls, r.Keys...)
		}
		msg := "TRUNCATE of a mapped table: its rows are not in the binlog, so these keys were NOT invalidated. " +
			"Delete them by other means (they may hold every row of the table), or set on_truncate: scan on the rule to have cachesync SCAN for them"
		if h.t.Scan == nil {
			msg = "TRUNCATE of a mapped table: its rows are not in the binlog, and this command does not scan Redis (only run does, for on_truncate: scan): these keys were NOT invalidated"
		}
		h.t.log.Error(msg, zap.String("table", name), zap.Strings("templates", tpls), zap.String("query", query), zap.Stringer("position", pos))
		h.t.metrics.Truncates.WithLabelValues(name, "warn").Inc()
	}
	if len(patterns) == 0 {
		return nil
	}
	if err := h.scan(name, "truncate", patterns, pos); err != nil {
		return err
	}
	h.t.metrics.Truncates.WithLabelValues(name, "scan").Inc()
	return nil
}

// scan runs the ScanKeys hook and logs what it did.
func (h *handler) scan(table, reason string, patterns []string, pos event.Position) error {
	h.t.log.Info("scanning Redis for the keys of rows the binlog does not list (on_truncate: scan or cascade scan: true); the checkpoint waits for it",
		zap.String("table", table), zap.String("reason", reason), zap.Strings("match", patterns), zap.Stringer("position", pos))
	n, err := h.t.Scan(h.ctx, table, reason, patterns)
	h.t.metrics.ScanDeleted.WithLabelValues(table, reason).Add(float64(n))
	if err != nil {
		return fmt.Errorf("%s scan of %s at %s (patterns %q): %w (retried from the last transaction boundary)", reason, table, pos, patterns, err)
	}
	h.t.log.Info("scan done", zap.String("table", table), zap.String("reason", reason), zap.Int64("deleted", n), zap.Stringer("position", pos))
	return nil
}

// cascadeTable compiles the cascade keys templates of rules against t; nil
// when none has any.
func cascadeTable(t *schema.Table, rules []*config.Rule, m *metrics.Metrics) *keys.Table {
	var synth []*config.Rule
	for _, r := range rules {
		if len(r.CascadeTemplates) > 0 {
			synth = append(synth, &config.Rule{Table: r.Table, DB: r.DB, TableGlob: r.TableGlob, Templates: r.CascadeTemplates})
		}
	}
	if len(synth) == 0 {
		return nil
	}
	return keys.Compile(t, synth, m)
}

// cascadeRows adds the cascade keys of deleted rows to the current batch.
func (h *handler) cascadeRows(tk *tableKeys, rows [][]any) {
	if tk.cascade == nil {
		return
	}
	before := len(h.batch.Keys)
	h.ruleBuf = tk.cascade.AllRules(h.ruleBuf)
	for _, row := range rows {
		tk.cascade.Render(row, h.ruleBuf, keyOut{h})
	}
	h.t.metrics.CascadeKeys.WithLabelValues(tk.name).Add(float64(len(h.batch.Keys) - before))
}

// cascadeScans runs the cascade scans of the rules of a table rows were
// deleted from, once per pattern per transaction.
func (h *handler) cascadeScans(tk *tableKeys, pos event.Position) error {
	if h.t.Scan == nil {
		return nil
	}
	var todo []string
	for _, r := range tk.rules {
		for _, p := range r.CascadeScans {
			if _, done := h.cascaded[p]; !done {
				todo = append(todo, p)
			}
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if err := h.scan(tk.name, "cascade", todo, pos); err != nil {
		return err
	}
	for _, p := range todo {
		h.cascaded[p] = struct{}{}
	}
	return nil
}
