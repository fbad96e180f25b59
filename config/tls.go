package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSConfig is a client's TLS settings, shared by every component that
// connects somewhere: the source (source.tls), Redis (redis.tls) and Kafka
// (transport.kafka.tls). TLS is on when Enabled is true or any other key is
// set, so ca_file alone turns it on; enabled: true alone verifies the server
// against the system's CA roots.
//
// Validate does not open the files (it does no I/O); Build, called by the
// component that builds the connection, reads them and names the file in
// its error.
type TLSConfig struct {
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle of the CAs trusted for the server's
	// certificate; empty means the system's roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// servers that require one (mutual TLS); set both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name checked against the server's certificate;
	// empty means the host of the address dialed.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any server certificate. For tests only: it
	// allows anyone on the path to read and change the traffic, and whoever
	// builds the connection must warn about it loudly.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Active reports whether TLS is on.
func (t TLSConfig) Active() bool {
	return t.Enabled || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify
}

// check validates t at path (such as "transport.kafka.tls").
func (t *TLSConfig) check(k *checker, path string) {
	if !t.Enabled && k.written(path+".enabled") && t.Active() {
		k.addf(path+".enabled", "is false but other tls keys are set, which turn TLS on: remove the tls section to turn TLS off, or write enabled: true")
	}
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		k.addf(path+".key_file", "is required with cert_file: the PEM private key of the client certificate")
	case t.KeyFile != "" && t.CertFile == "":
		k.addf(path+".cert_file", "is required with key_file: the PEM client certificate the key belongs to")
	}
}

// Build reads the files of t into a client *tls.Config, nil when TLS is
// off. path is where t sits in the YAML (such as "redis.tls"); every error
// names the key and the file, and every problem is returned at once. An
// empty ServerName is left to the caller: crypto/tls fills in the host
// dialed for Redis and Kafka, a MySQL client must set it itself.
//
// The files are read on each call, so a client that rebuilds its config on
// reconnect picks up renewed certificates.
func (t TLSConfig) Build(path string) (*tls.Config, error) {
	if !t.Active() {
		return nil, nil
	}
	c := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // the owner's Warnings() says so loudly at start
	}
	var errs []error
	if t.CAFile != "" {
		pool, err := loadCAs(path, t.CAFile)
		errs = append(errs, err)
		c.RootCAs = pool
	}
	switch {
	case t.CertFile != "" && t.KeyFile != "":
		cert, err := loadKeyPair(path, t.CertFile, t.KeyFile)
		errs = append(errs, err)
		c.Certificates = []tls.Certificate{cert}
	case t.CertFile != "" || t.KeyFile != "":
		errs = append(errs, fmt.Errorf("%s: set both cert_file and key_file for a client certificate, or neither", path))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// skipVerifyWarning is the start-up warning for insecure_skip_verify at
// path; peer names what is not checked, leak what an attacker gets.
func skipVerifyWarning(path, peer, leak string) string {
	return path + ".insecure_skip_verify is true: " + peer + " certificates are not checked, " +
		"so anyone on the network path can read and change " + leak + "; use it for tests only"
}

func loadCAs(path, file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, unreadable(path+".ca_file", file, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: %q holds no PEM certificate (-----BEGIN CERTIFICATE-----): point ca_file at the CA bundle in PEM form "+
			"(convert a DER file with: openssl x509 -inform der -in FILE -out ca.pem)", path+".ca_file", file)
	}
	return pool, nil
}

func loadKeyPair(path, certFile, keyFile string) (tls.Certificate, error) {
	certPEM, certErr := os.ReadFile(certFile)
	keyPEM, keyErr := os.ReadFile(keyFile)
	if certErr != nil || keyErr != nil {
		var errs []error
		if certErr != nil {
			errs = append(errs, unreadable(path+".cert_file", certFile, certErr))
		}
		if keyErr != nil {
			errs = append(errs, unreadable(path+".key_file", keyFile, keyErr))
		}
		return tls.Certificate{}, errors.Join(errs...)
	}
	// crypto/tls's messages name what it did not find or what does not match,
	// never key material.
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: cert_file %q and key_file %q are not a usable pair: %v: "+
			"give the PEM client certificate and its own PEM private key", path, certFile, keyFile, err)
	}
	return cert, nil
}

// unreadable names the key and the file; the OS reason comes without the
// path, which the message already names.
func unreadable(key, file string, err error) error {
	return fmt.Errorf("%s: cannot read %q: %s: fix the path or the file's permissions", key, file, readReason(err))
}
