package source

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
)

// queryReadTimeout bounds each wait for a byte on a query connection (the
// checks, position and retention queries, backfill scans): a frozen server
// or a half-open connection fails the query instead of hanging it. Every
// query cachesync sends answers in far less.
const queryReadTimeout = time.Minute

// Connect opens a plain SQL connection to the source (over TLS when
// source.tls says so), talking source.charset (SetSessionCharset), with
// errors that say what to fix and never contain the password. Every
// connection cachesync opens for queries (checks, positions, retention,
// backfill scans, the write-behind flusher) comes from here; opts are
// applied after TLS (e.g. the flusher's read and write timeouts).
func Connect(ctx context.Context, src config.SourceConfig, opts ...client.Option) (*client.Conn, error) {
	tlsConf, err := TLS(src)
	if err != nil {
		return nil, err
	}
	timeout := src.DialTimeout()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dial, abort := handshakeBound(guardedDialer((&net.Dialer{Timeout: timeout}).DialContext, queryReadTimeout))
	stop := context.AfterFunc(cctx, abort)
	conn, err := client.ConnectWithDialer(cctx, "", src.Addr, src.User, src.Password.Reveal(), "", dial, append([]client.Option{WithTLS(tlsConf)}, opts...)...)
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
		return nil, &ConnectError{Err: ExplainConnError(src, err)}
	}
	if err := SetSessionCharset(conn, src.Charset); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// TLS is the TLS config of every connection to the source, nil when
// source.tls is off. It reads the TLS files on each call, so a reconnect
// picks up renewed certificates. go-mysql hands the config to crypto/tls
// as is, so an empty server_name becomes the host of source.addr here.
func TLS(src config.SourceConfig) (*tls.Config, error) {
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

// ErrorCode finds the server error code in err's chain (0 if none). go-mysql
// wraps with pingcap/errors, which hides the chain from errors.As sometimes.
func ErrorCode(err error) uint16 {
	var me *mysql.MyError
	if errors.As(err, &me) {
		return me.Code
	}
	if errors.As(pingcaperrors.Cause(err), &me) {
		return me.Code
	}
	return 0
}

// ExplainConnError turns a refused connection or privilege into an error
// that names the setting to fix (source.user, source.tls, a GRANT).
func ExplainConnError(src config.SourceConfig, err error) error {
	switch ErrorCode(err) {
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
// answers access denied instead, which ExplainConnError covers.
const erSecureTransport = 3159

// tlsHint says what to do when err comes from TLS being on one side only,
// or from the TLS handshake; "" for other errors.
func tlsHint(src config.SourceConfig, err error) string {
	code := ErrorCode(err)
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
