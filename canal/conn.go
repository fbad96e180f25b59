package canal

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	pingcaperrors "github.com/pingcap/errors"

	"github.com/cachesync/cachesync/config"
	"github.com/cachesync/cachesync/event"
)

// queryReadTimeout bounds each wait for a byte on a query connection (the
// checks, position and retention queries, backfill scans): a frozen server
// or a half-open connection fails the query instead of hanging it. Every
// query cachesync sends answers in far less.
const queryReadTimeout = time.Minute

// connect opens a plain SQL connection to the source (over TLS when
// source.tls says so), talking source.charset (SetSessionCharset), with errors that say what to fix and never contain
// the password.
func connect(ctx context.Context, src config.SourceConfig) (*client.Conn, error) {
	tlsConf, err := SourceTLS(src)
	if err != nil {
		return nil, err
	}
	timeout := src.DialTimeout()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dial, abort := handshakeBound(guardedDialer((&net.Dialer{Timeout: timeout}).DialContext, queryReadTimeout))
	stop := context.AfterFunc(cctx, abort)
	conn, err := client.ConnectWithDialer(cctx, "", src.Addr, src.User, src.Password.Reveal(), "", dial, WithTLS(tlsConf))
	if !stop() { // the bound passed (or ctx ended) during the handshake
		if err == nil {
			conn.Close()
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &ConnectError{Err: fmt.Errorf("source: MySQL at %s did not complete the handshake within source.connect_timeout (%s): is source.addr a MySQL server, and is it up?", src.Addr, timeout)}
	}
	if err != nil {
		return nil, &ConnectError{Err: explainConnError(src, err)}
	}
	if err := SetSessionCharset(conn, src.Charset); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// SourceTLS is the TLS config of every connection to the source, nil when
// source.tls is off. It reads the TLS files on each call, so a reconnect
// picks up renewed certificates. go-mysql hands the config to crypto/tls
// as is, so an empty server_name becomes the host of source.addr here.
func SourceTLS(src config.SourceConfig) (*tls.Config, error) {
	c, err := src.TLS.Build("source.tls")
	if c == nil || err != nil {
		return nil, err
	}
	if c.ServerName == "" {
		if host, _, herr := net.SplitHostPort(src.Addr); herr == nil {
			c.ServerName = host
		}
	}
	return c, nil
}

// WithTLS is the client.Option that turns TLS on for a connection; a nil
// config leaves it plain.
func WithTLS(c *tls.Config) client.Option {
	return func(conn *client.Conn) error {
		if c != nil {
			conn.SetTLSConfig(c)
		}
		return nil
	}
}

// mysqlCode finds the server error code in err's chain (0 if none). go-mysql
// wraps with pingcap/errors, which hides the chain from errors.As sometimes.
func mysqlCode(err error) uint16 {
	var me *mysql.MyError
	if errors.As(err, &me) {
		return me.Code
	}
	if errors.As(pingcaperrors.Cause(err), &me) {
		return me.Code
	}
	return 0
}

func explainConnError(src config.SourceConfig, err error) error {
	switch mysqlCode(err) {
	case mysql.ER_ACCESS_DENIED_ERROR:
		if !src.TLS.Active() {
			return fmt.Errorf("source: MySQL at %s refused user %q (access denied): check source.user and source.password / source.password_file "+
				"(and, if the account is created with REQUIRE SSL or X509 or the server sets require_secure_transport, set source.tls)", src.Addr, src.User)
		}
		return fmt.Errorf("source: MySQL at %s refused user %q (access denied): check source.user and source.password / source.password_file "+
			"(and, if the account is created with REQUIRE X509, source.tls.cert_file and key_file)", src.Addr, src.User)
	case mysql.ER_DBACCESS_DENIED_ERROR, mysql.ER_SPECIFIC_ACCESS_DENIED_ERROR:
		return fmt.Errorf("source: user %q lacks a privilege at %s: grant REPLICATION SLAVE, REPLICATION CLIENT and SELECT on the mapped tables (%v)", src.User, src.Addr, err)
	}
	if hint := tlsHint(src, err); hint != "" {
		return fmt.Errorf("source: cannot connect to MySQL at %s as %q: %v: %s", src.Addr, src.User, err, hint)
	}
	return fmt.Errorf("source: cannot connect to MySQL at %s as %q: %v (is source.addr right and the server up?)", src.Addr, src.User, err)
}

// erSecureTransport is MySQL's ER_SECURE_TRANSPORT_REQUIRED, a plain
// connection to a server with require_secure_transport. MariaDB (10.11)
// answers access denied instead, which explainConnError covers.
const erSecureTransport = 3159

// tlsHint says what to do when err comes from TLS being on one side only,
// or from the TLS handshake; "" for other errors.
func tlsHint(src config.SourceConfig, err error) string {
	code := mysqlCode(err)
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	switch {
	case code == erSecureTransport:
		return "the server requires TLS (require_secure_transport): set source.tls, with ca_file naming the CA of the server's certificate"
	case src.TLS.Active() && strings.Contains(err.Error(), "does not support TLS"):
		return "source.tls is on but the server does not offer TLS: set ssl_cert and ssl_key on the server, or remove source.tls"
	case errors.As(err, &hostErr) || errors.As(pingcaperrors.Cause(err), &hostErr):
		return "the server's certificate is not valid for the name checked: set source.tls.server_name to a name in the certificate"
	case errors.As(err, &certErr) || errors.As(pingcaperrors.Cause(err), &certErr):
		return "the server's certificate is not trusted: set source.tls.ca_file to the CA that signed it"
	}
	return ""
}

// masterPosition reads the primary's current binlog position (and GTID set).
func masterPosition(conn *client.Conn, src config.SourceConfig) (event.Position, error) {
	q := "SHOW MASTER STATUS"
	if src.Flavor == mysql.MariaDBFlavor {
		q = "SHOW BINLOG STATUS"
		if ok, _ := mysql.CompareServerVersions(conn.GetServerVersion(), "10.5.2"); ok < 0 {
			q = "SHOW MASTER STATUS"
		}
	} else if ok, _ := mysql.CompareServerVersions(conn.GetServerVersion(), "8.4.0"); ok >= 0 {
		q = "SHOW BINARY LOG STATUS"
	}
	r, err := conn.Execute(q)
	if err != nil {
		return event.Position{}, fmt.Errorf("source: %s failed: %w (the user needs REPLICATION CLIENT)", q, err)
	}
	if r.RowNumber() == 0 {
		return event.Position{}, fmt.Errorf("source: %s returned nothing: binary logging is off on %s; enable log_bin with binlog_format=ROW", q, src.Addr)
	}
	file, _ := r.GetString(0, 0)
	off, _ := r.GetUint(0, 1)
	pos := event.Position{File: file, Pos: uint32(off)}
	if src.GTID {
		gq := "SELECT @@GLOBAL.gtid_executed"
		if src.Flavor == mysql.MariaDBFlavor {
			gq = "SELECT @@GLOBAL.gtid_binlog_pos"
		}
		g, err := conn.Execute(gq)
		if err != nil {
			return event.Position{}, fmt.Errorf("source: reading the GTID position (%s): %w", gq, err)
		}
		s, _ := g.GetString(0, 0)
		pos.GTID = strings.ReplaceAll(s, "\n", "")
	}
	return pos, nil
}

// positionGoneText is how mysql.MyError prints error 1236
// (ER_MASTER_FATAL_ERROR_READING_BINLOG): "ERROR 1236 (HY000): ...".
const positionGoneText = "ERROR 1236 ("

// notEventStart reports whether an error 1236 says the position lies inside
// an event or past the file's end, rather than in a file the server lacks.
// The server gives all of these one code; only its text tells them apart
// (MariaDB 10.11 and MySQL 8 wording). Anything else stays "gone".
func notEventStart(err error) bool {
	msg := err.Error()
	for _, s := range []string{"in the middle of event", "bogus data in log event", "impossible position", "position > file size"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// classify returns nil for errors worth reconnecting after, and a clear
// permanent error otherwise.
func classify(err error, at event.Position, src config.SourceConfig) error {
	if err == nil {
		return nil
	}
	code := mysqlCode(err)
	// The stream hands the server's error packet on as a *mysql.MyError;
	// only where canal formats one into text (errors.Errorf("... %v")) is
	// the code looked for there, in the server error's own format. A file
	// name or offset holding 1236 in a network error is not that error.
	if code == mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG || strings.Contains(err.Error(), positionGoneText) {
		if notEventStart(err) {
			return fmt.Errorf("%w: %s on %s (the server says: %v). The checkpoint was edited by hand, comes from another server, "+
				"or the server lost the end of its binlog in a crash. Find the start of a transaction (a Gtid or BEGIN event) at or before it with "+
				"SHOW BINLOG EVENTS IN '%s' and write that position into the checkpoint; or delete the checkpoint to start from the current position "+
				"and run `cachesync backfill` for every mapped table so nothing stays stale", ErrPositionNotEvent, at, src.Addr, err, at.File)
		}
		hint := ""
		if at.GTID != "" {
			hint = ". With a GTID checkpoint this also happens after a failover to a replica that had not received every transaction cachesync had read from the old primary: way (1) applies"
		}
		return fmt.Errorf("%w: the checkpoint %s points into binlog the server %s no longer has (purged, or a different server): %v. "+
			"Two ways out: (1) delete the checkpoint file to start from the current position, then run `cachesync backfill` for every mapped table so nothing stays stale; "+
			"(2) restore the missing binlog files on the server and restart%s", ErrPositionGone, at, src.Addr, err, hint)
	}
	switch code {
	case mysql.ER_ACCESS_DENIED_ERROR, mysql.ER_DBACCESS_DENIED_ERROR, mysql.ER_SPECIFIC_ACCESS_DENIED_ERROR, mysql.ER_TABLEACCESS_DENIED_ERROR:
		return explainConnError(src, err)
	}
	return nil
}
