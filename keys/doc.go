// Package keys turns rules into cache keys: it compiles a table's rules
// against the table's schema once (Compile) and renders the keys of one row
// image (Table.Render), byte for byte what the application built from its
// SELECT. The binlog tailer, its replay and the backfill all render with
// it, so a key never depends on which path found the change.
package keys
