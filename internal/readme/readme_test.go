package readme

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ipnd/ipnd/internal/testenv"
)

// repoBlocks parses every document of the repository.
func repoBlocks(t *testing.T) []Block {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := All(root)
	if err != nil {
		t.Fatal(err)
	}
	return blocks
}

// example returns the block named name.
func example(t *testing.T, blocks []Block, name string) Block {
	t.Helper()
	b, err := Find(blocks, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	md := "# Title\n\ntext\n\n## Setup\n<!-- example: one -->\n```sh\necho a \\\n  b\n# comment\n\necho c\n```\n\n" +
		"````toml\n```\nnested = 1\n````\n<!-- example: two planned=bitcoin.push,bitcoin.zmq_rawtx x=y -->\n~~~\nplain\n~~~\n"
	blocks, err := Parse("doc.md", []byte(md))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 3 {
		t.Fatalf("want 3 blocks, got %+v", blocks)
	}
	one, nested, two := blocks[0], blocks[1], blocks[2]
	if one.Name != "one" || one.Lang != "sh" || one.Heading != "Setup" || one.Line != 7 || one.File != "doc.md" ||
		one.Text != "echo a \\\n  b\n# comment\n\necho c\n" {
		t.Errorf("block one: %+v", one)
	}
	if got := one.Commands(); !reflect.DeepEqual(got, []string{"echo a b", "echo c"}) {
		t.Errorf("commands: %q", got)
	}
	if nested.Name != "" || nested.Lang != "toml" || nested.Text != "```\nnested = 1\n" {
		t.Errorf("a longer fence holds a shorter one: %+v", nested)
	}
	if two.Name != "two" || two.Lang != "" || two.Attrs["planned"] != "bitcoin.push,bitcoin.zmq_rawtx" || two.Attrs["x"] != "y" {
		t.Errorf("block two: %+v", two)
	}
	if b, err := Find(blocks, "two"); err != nil || b.Line != two.Line {
		t.Errorf("Find: %v %+v", err, b)
	}
	if _, err := Find(blocks, "three"); err == nil || !strings.Contains(err.Error(), "<!-- example: three -->") {
		t.Errorf("Find of a missing name: %v", err)
	}
	if _, err := Find(append(blocks, one), "one"); err == nil || !strings.Contains(err.Error(), "2 examples") {
		t.Errorf("Find of a doubled name: %v", err)
	}
	for name, bad := range map[string]string{
		"unclosed":          "```sh\necho\n",
		"marker alone":      "<!-- example: lost -->\ntext\n",
		"marker at the end": "<!-- example: lost -->\n",
		"bad marker":        "<!-- example: Bad Name -->\n```\nx\n```\n",
	} {
		if _, err := Parse("bad.md", []byte(bad)); err == nil || !strings.HasPrefix(err.Error(), "bad.md:") {
			t.Errorf("%s: want an error naming the file and line, got %v", name, err)
		}
	}
}
