package entitycache_test

import (
	"os"
	"strings"
	"testing"
)

// The README's embedding snippet is sendHi in example_test.go, word for
// word, so Example_embedding proves it compiles and runs as written.
func TestREADMEEmbeddingSnippet(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(readme), "\n## Embedding\n")
	if !ok {
		t.Fatal("README has no Embedding section")
	}
	_, block, ok := strings.Cut(sec, "```go\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("the Embedding section has no go block")
	}
	_, code, ok := strings.Cut(string(example), "// README: embedding\n")
	code, _, ok2 = strings.Cut(code, "\n// README: end")
	if !ok || !ok2 {
		t.Fatal("example_test.go has no README markers")
	}
	if strings.TrimSpace(block) != strings.TrimSpace(code) {
		t.Fatalf("README's embedding snippet and sendHi in example_test.go differ:\nREADME:\n%s\nexample_test.go:\n%s", block, code)
	}
}
