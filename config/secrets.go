package config

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// ResolveSecrets reads source.password_file, redis.password_file,
// redis.sentinel_password_file and (with
// transport.kind kafka) transport.kafka.sasl.password_file into the
// matching Password, dropping one trailing newline ("\n" or "\r\n") as
// editors and `echo` add one, and then clears the PasswordFile so the
// Config still validates. It is kept out of Validate because it does I/O.
// readFile is os.ReadFile outside tests. Every failure is returned at once as
// *Problems naming the file; the file's content never appears in an error.
func (c *Config) ResolveSecrets(readFile func(string) ([]byte, error)) error {
	k := newChecker(c)
	k.resolve("source.password_file", &c.Source.Password, &c.Source.PasswordFile, readFile)
	k.resolve("redis.password_file", &c.Redis.Password, &c.Redis.PasswordFile, readFile)
	k.resolve("redis.sentinel_password_file", &c.Redis.SentinelPassword, &c.Redis.SentinelPasswordFile, readFile)
	if c.Transport.Kind == "kafka" { // otherwise the kafka section is ignored, file included
		sasl := &c.Transport.Kafka.SASL
		k.resolve("transport.kafka.sasl.password_file", &sasl.Password, &sasl.PasswordFile, readFile)
	}
	for i := range c.Replicas {
		r := &c.Replicas[i]
		k.resolve(indexPath("replicas", i)+".password_file", &r.Password, &r.PasswordFile, readFile)
	}
	file := ""
	if c.src != nil {
		file = c.src.file
	}
	return k.probs.asError(file)
}

func (k *checker) resolve(path string, password *Secret, file *string, readFile func(string) ([]byte, error)) {
	if *file == "" {
		return
	}
	if *password != "" {
		k.addf(path, "set either password or password_file, not both")
		return
	}
	s, err := readPassword(*file, readFile)
	if err != nil {
		k.addf(path, "%s", err)
		return
	}
	*password, *file = s, ""
}

// ReadPasswordFile reads a password file the way ResolveSecrets does, for
// a Config built in Go that never went through it. The error names the file
// and never holds its content.
func ReadPasswordFile(name string, readFile func(string) ([]byte, error)) (Secret, error) {
	return readPassword(name, readFile)
}

func readPassword(name string, readFile func(string) ([]byte, error)) (Secret, error) {
	data, err := readFile(name)
	if err != nil {
		return "", fmt.Errorf("cannot read %q: %s: fix the path or the file's permissions", name, readReason(err))
	}
	s := string(data)
	if strings.HasSuffix(s, "\r\n") {
		s = s[:len(s)-2]
	} else {
		s = strings.TrimSuffix(s, "\n")
	}
	if s == "" {
		return "", fmt.Errorf("%q is empty: write the password into it, or remove password_file", name)
	}
	return Secret(s), nil
}

// readReason is the OS reason without the path, which the message already names.
func readReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return fmt.Sprint(err)
}
