package config

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// ResolveSecrets reads source.password_file and redis.password_file into the
// matching Password, dropping one trailing newline ("\n" or "\r\n") as
// editors and `echo` add one, and then clears the PasswordFile so the
// Config still validates. It is kept out of Validate because it does I/O.
// readFile is os.ReadFile outside tests. Every failure is returned at once as
// *Problems naming the file; the file's content never appears in an error.
func (c *Config) ResolveSecrets(readFile func(string) ([]byte, error)) error {
	k := newChecker(c)
	k.resolve("source.password_file", &c.Source.Password, &c.Source.PasswordFile, readFile)
	k.resolve("redis.password_file", &c.Redis.Password, &c.Redis.PasswordFile, readFile)
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
	data, err := readFile(*file)
	if err != nil {
		k.addf(path, "cannot read %q: %s: fix the path or the file's permissions", *file, readReason(err))
		return
	}
	s := string(data)
	if strings.HasSuffix(s, "\r\n") {
		s = s[:len(s)-2]
	} else {
		s = strings.TrimSuffix(s, "\n")
	}
	if s == "" {
		k.addf(path, "%q is empty: write the password into it, or remove password_file", *file)
		return
	}
	*password, *file = Secret(s), ""
}

// readReason is the OS reason without the path, which the message already names.
func readReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return fmt.Sprint(err)
}
