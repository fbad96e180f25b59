package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/cachesync/cachesync/config"
)

// Conn is how every kafka-go client of cachesync reaches the brokers:
// the Transport for Writer and Client, the Dialer for Reader. TLS and SASL
// are the same values both use, nil when the config turns them off.
type Conn struct {
	Transport *kafkago.Transport
	Dialer    *kafkago.Dialer
	TLS       *tls.Config
	SASL      sasl.Mechanism

	brokers []string
	sasl    config.SASLConfig // for messages: user and mechanism, never the password
}

// NewConn builds the connection settings of c: it reads the TLS files
// and, when c.SASL.PasswordFile is still set (ResolveSecrets not run), the
// password file. Every problem is returned at once; each names its key, the
// file, and what to do. No error holds the password.
func NewConn(c config.KafkaConfig) (Conn, error) {
	tlsCfg, tlsErr := tlsConfig(c.TLS)
	mech, saslErr := saslMechanism(c.SASL)
	if err := errors.Join(tlsErr, saslErr); err != nil {
		return Conn{}, err
	}
	return Conn{
		Transport: &kafkago.Transport{
			ClientID:    c.ClientID,
			TLS:         tlsCfg,
			SASL:        mech,
			DialTimeout: c.DialTimeout(), // connecting, TLS handshake and SASL included
		},
		Dialer: &kafkago.Dialer{
			ClientID:      c.ClientID,
			TLS:           tlsCfg,
			SASLMechanism: mech,
			Timeout:       c.DialTimeout(),
			DualStack:     true,
		},
		TLS:     tlsCfg,
		SASL:    mech,
		brokers: c.Brokers,
		sasl:    config.SASLConfig{Mechanism: c.SASL.Mechanism, Username: c.SASL.Username},
	}, nil
}

// EnsureTopics is the package's EnsureTopics through this connection. When
// the brokers cannot be read and SASL is on, it asks a Dialer why: a login
// the brokers refuse comes back wrapping ErrRefused, not as the
// "unexpected EOF" kafka-go's Transport reports.
func (c Conn) EnsureTopics(ctx context.Context, specs ...TopicSpec) error {
	err := EnsureTopics(ctx, c.brokers, c.Transport, specs...)
	var missing *MissingTopicError
	if err == nil || errors.As(err, &missing) || c.SASL == nil {
		return err
	}
	if refused := c.explain(ctx); refused != nil {
		return refused
	}
	return err
}

// tlsConfig is nil when TLS is off. An empty ServerName is left for kafka-go,
// which fills in the host of each broker it dials.
func tlsConfig(t config.TLSConfig) (*tls.Config, error) {
	return t.Build("transport.kafka.tls")
}

const saslPath = "transport.kafka.sasl"

// saslMechanism is nil when SASL is off.
func saslMechanism(s config.SASLConfig) (sasl.Mechanism, error) {
	if !s.Active() {
		return nil, nil
	}
	password := s.Password
	if s.PasswordFile != "" {
		if password != "" {
			return nil, fmt.Errorf("%s: set either password or password_file, not both", saslPath)
		}
		var err error
		if password, err = config.ReadPasswordFile(s.PasswordFile, os.ReadFile); err != nil {
			return nil, fmt.Errorf("%s.password_file: %w", saslPath, err)
		}
	}
	if s.Username == "" || password == "" {
		return nil, fmt.Errorf(`%s: username and password (or password_file) are required: write password: "${KAFKA_PASSWORD}"`, saslPath)
	}
	switch s.Mechanism {
	case "plain":
		return plainSASL(s.Username, password.Reveal())
	case "scram-sha-256":
		return scramSASL(scram.SHA256, s.Username, password.Reveal())
	case "scram-sha-512":
		return scramSASL(scram.SHA512, s.Username, password.Reveal())
	}
	return nil, fmt.Errorf("%s.mechanism: must be plain, scram-sha-256 or scram-sha-512, got %q", saslPath, s.Mechanism)
}

func plainSASL(username, password string) (sasl.Mechanism, error) {
	// PLAIN separates authzid, user and password with NUL bytes.
	if strings.ContainsRune(username, 0) {
		return nil, fmt.Errorf("%s.username: holds a NUL character, which PLAIN cannot carry", saslPath)
	}
	if strings.ContainsRune(password, 0) {
		return nil, fmt.Errorf("%s.password: holds a NUL character, which PLAIN cannot carry (the password is not shown)", saslPath)
	}
	return maskedPlain{plain.Mechanism{Username: username, Password: password}}, nil
}

// scramSASL never returns scram.Mechanism's own error: it quotes the
// password when SASLprep refuses it.
func scramSASL(algo scram.Algorithm, username, password string) (sasl.Mechanism, error) {
	m, err := scram.Mechanism(algo, username, password)
	if err == nil {
		return m, nil
	}
	if _, uerr := scram.Mechanism(algo, username, "p"); uerr != nil {
		return nil, fmt.Errorf("%s.username: %q cannot be used with SCRAM: it holds a character SASLprep (RFC 4013) forbids, such as a control character", saslPath, username)
	}
	return nil, fmt.Errorf("%s.password: cannot be used with SCRAM: it holds a character SASLprep (RFC 4013) forbids, "+
		"such as a control character (the password is not shown)", saslPath)
}

// maskedPlain is plain.Mechanism, whose exported Password field fmt would
// print when a Conn is logged with %+v, made to print only its user.
type maskedPlain struct{ plain.Mechanism }

func (m maskedPlain) Format(f fmt.State, _ rune) { fmt.Fprintf(f, "PLAIN(user %q)", m.Username) }

// ErrRefused marks a broker answer that waiting does not fix: the
// SASL credentials or mechanism refused.
var ErrRefused = errors.New("kafka refused the connection")

// explain dials the brokers with the Dialer, which reports what the
// Transport hides: kafka-go's Transport turns a refused SASL login into
// "unexpected EOF". It returns an error wrapping ErrRefused, naming the
// setting to fix, when a broker refuses the credentials or mechanism, and
// nil otherwise (reachable, or unreachable: a reason to wait, not to stop).
func (c Conn) explain(ctx context.Context) error {
	s := c.sasl
	for _, b := range c.brokers {
		conn, err := c.Dialer.DialContext(ctx, "tcp", b)
		if err == nil {
			conn.Close()
			return nil
		}
		switch {
		case errors.Is(err, kafkago.SASLAuthenticationFailed):
			return fmt.Errorf("%w: broker %s refused the SASL login of user %q (%s): check %s.username and %s.password / password_file",
				ErrRefused, b, s.Username, s.Mechanism, saslPath, saslPath)
		case errors.Is(err, kafkago.UnsupportedSASLMechanism), errors.Is(err, kafkago.IllegalSASLState):
			return fmt.Errorf("%w: broker %s does not offer SASL mechanism %s: set %s.mechanism to one the cluster enables",
				ErrRefused, b, s.Mechanism, saslPath)
		}
	}
	return nil
}
