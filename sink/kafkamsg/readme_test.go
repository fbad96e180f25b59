package kafkamsg

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README's examples are golden files, byte for byte, so the documented
// format cannot drift from the code.
func TestReadmeExamples(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Kafka message format v1")
	if !ok {
		t.Fatal(`README.md has no "## Kafka message format v1" section`)
	}
	golden := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		golden[strings.TrimSpace(string(b))] = true
	}
	n := 0
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, `{"v":`) {
			continue
		}
		n++
		if _, err := Decode([]byte(line)); err != nil {
			t.Errorf("README example does not decode: %v\n%s", err, line)
		}
		if !golden[line] {
			t.Errorf("README example is not a golden file in testdata/:\n%s", line)
		}
	}
	if n == 0 {
		t.Error("README section has no examples")
	}
}
