package config

// TLSConfig is a client's TLS settings, shared by every component that
// connects somewhere (Kafka now; MySQL and Redis can take it too). TLS is on
// when Enabled is true or any other key is set, so ca_file alone turns it on;
// enabled: true alone verifies the server against the system's CA roots.
//
// Validate does not open the files (it does no I/O); the component that
// builds the connection reads them and names the file in its error.
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
