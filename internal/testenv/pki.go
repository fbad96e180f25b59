package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a throwaway CA with a server certificate for 127.0.0.1 and
// localhost and a client certificate, as PEM files in one directory, for
// TLS tests of servers (Redis, MariaDB) and of cachesync's clients.
type PKI struct {
	Dir string
	// CAFile is the CA's certificate; CAKeyFile its key, a valid key that
	// matches neither leaf certificate.
	CAFile, CAKeyFile string
	// ServerCertFile and ServerKeyFile are for 127.0.0.1 and localhost.
	ServerCertFile, ServerKeyFile string
	// CertFile and KeyFile are the client certificate (CN cachesync).
	CertFile, KeyFile string
	Pool              *x509.CertPool
	Server            tls.Certificate
}

// NewPKI writes a new CA and its certificates under t.TempDir(); they are
// valid from an hour ago for a day.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	dir := t.TempDir()
	p := &PKI{Dir: dir, Pool: x509.NewCertPool()}
	caKey := newECKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cachesync test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	fatalIf(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	fatalIf(t, err)
	p.Pool.AddCert(caCert)
	p.CAFile = WritePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)
	p.CAKeyFile = writeECKey(t, dir, "ca-key.pem", caKey)

	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		key := newECKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			DNSNames:     []string{"localhost"},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		fatalIf(t, err)
		return der, key
	}
	serverDER, serverKey := leaf(2, "server", x509.ExtKeyUsageServerAuth)
	p.Server = tls.Certificate{Certificate: [][]byte{serverDER}, PrivateKey: serverKey}
	p.ServerCertFile = WritePEM(t, dir, "server.pem", "CERTIFICATE", serverDER)
	p.ServerKeyFile = writeECKey(t, dir, "server-key.pem", serverKey)
	clientDER, clientKey := leaf(3, "cachesync", x509.ExtKeyUsageClientAuth)
	p.CertFile = WritePEM(t, dir, "client.pem", "CERTIFICATE", clientDER)
	p.KeyFile = writeECKey(t, dir, "client-key.pem", clientKey)
	return p
}

// ClientTLS is a client config that trusts the CA (and presents no
// certificate): for testenv's own connections to a TLS server.
func (p *PKI) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: p.Pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	fatalIf(t, err)
	return k
}

func writeECKey(t testing.TB, dir, name string, k *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	fatalIf(t, err)
	return WritePEM(t, dir, name, "PRIVATE KEY", der)
}

// WritePEM writes one PEM block to dir/name (mode 0600: servers refuse
// keys others can read) and returns the path.
func WritePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	fatalIf(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
	return path
}

// MariaDBConfig is the [mysqld] lines that turn TLS on with the PKI's
// server certificate, for MariaDBOptions.ExtraConfig.
func (p *PKI) MariaDBConfig() []string {
	return []string{"ssl_cert = " + p.ServerCertFile, "ssl_key = " + p.ServerKeyFile, "ssl_ca = " + p.CAFile}
}
