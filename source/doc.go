// Package source is the MySQL side of cachesync that is not the binlog
// stream: it dials the source (TLS, session charset, read deadlines, errors
// that name the fix), reads positions and the binlog files the server keeps,
// checks the server's settings, the user's privileges and the schema the
// rules need (preflight, `config check --online`), finds the time zone
// TIMESTAMP keys render in, and loads a table's schema the way the tailer
// decodes it. The binlog tailer (package canal) and the backfill use it.
package source
