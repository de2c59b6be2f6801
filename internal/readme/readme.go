// Package readme finds the examples of the project's documents (README.md
// and docs/*.md) so that tests can run each one exactly as printed.
//
// An example is a fenced code block preceded, on the line just before its
// opening fence, by a marker comment (invisible when rendered):
//
//	<!-- example: mysql-setup -->
//	```sql
//	CREATE DATABASE ipnd CHARACTER SET utf8mb4;
//	```
//
// The marker may carry attributes after the name, as key=value pairs
// separated by spaces (values without spaces), e.g.
// `<!-- example: bitcoind-zmq planned=bitcoin.push,bitcoin.zmq_sequence -->`.
// Tests look examples up by name; this package's own tests keep every
// fenced block of every document named, and every name either run by a
// test or listed with the reason it is not (see examples_test.go).
package readme

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Block is one fenced code block of a document.
type Block struct {
	File    string            // path relative to the repository root, "README.md"
	Line    int               // line of the opening fence, from 1
	Lang    string            // first word of the info string: "sql", "toml", "sh"
	Name    string            // from the marker; "" when the block has none
	Attrs   map[string]string // the marker's key=value attributes
	Heading string            // the nearest heading above the block, without #
	Text    string            // the content as printed, each line ending in "\n"
}

// Where is "file:line (name)" for messages.
func (b Block) Where() string {
	if b.Name == "" {
		return fmt.Sprintf("%s:%d", b.File, b.Line)
	}
	return fmt.Sprintf("%s:%d (%s)", b.File, b.Line, b.Name)
}

// Lines returns the block's lines without their newlines.
func (b Block) Lines() []string {
	return strings.Split(strings.TrimSuffix(b.Text, "\n"), "\n")
}

var (
	markerRe  = regexp.MustCompile(`^<!--\s*example:\s*([a-z0-9][a-z0-9-]*)((?:\s+[a-z_]+=\S+)*)\s*-->\s*$`)
	fenceRe   = regexp.MustCompile("^(```+|~~~+)\\s*([^`\\s]*)[^`]*$")
	headingRe = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
)

// Parse returns the fenced code blocks of a Markdown document. A marker not
// followed by a fence, or a fence never closed, is an error.
func Parse(file string, md []byte) ([]Block, error) {
	var (
		blocks  []Block
		heading string
		pending *Block // from a marker on the previous line
		open    *Block
		fence   string
		body    strings.Builder
	)
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if open != nil {
			if strings.HasPrefix(line, fence) && strings.TrimSpace(strings.TrimLeft(line, fence[:1])) == "" {
				open.Text = body.String()
				blocks = append(blocks, *open)
				open = nil
				continue
			}
			body.WriteString(line)
			body.WriteByte('\n')
			continue
		}
		if m := fenceRe.FindStringSubmatch(line); m != nil {
			b := Block{File: file, Line: n, Lang: m[2], Heading: heading}
			if pending != nil {
				b.Name, b.Attrs = pending.Name, pending.Attrs
				pending = nil
			}
			open, fence = &b, m[1]
			body.Reset()
			continue
		}
		if pending != nil {
			return nil, fmt.Errorf("%s:%d: the example marker %q is not followed by a fenced block", file, pending.Line, pending.Name)
		}
		if m := markerRe.FindStringSubmatch(line); m != nil {
			pending = &Block{Name: m[1], Line: n, Attrs: map[string]string{}}
			for _, kv := range strings.Fields(m[2]) {
				k, v, _ := strings.Cut(kv, "=")
				pending.Attrs[k] = v
			}
			continue
		}
		if strings.Contains(line, "<!--") && strings.Contains(line, "example") {
			return nil, fmt.Errorf("%s:%d: malformed example marker %q (want <!-- example: name key=value -->)", file, n, line)
		}
		if m := headingRe.FindStringSubmatch(line); m != nil {
			heading = m[1]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if open != nil {
		return nil, fmt.Errorf("%s:%d: fenced block never closed", file, open.Line)
	}
	if pending != nil {
		return nil, fmt.Errorf("%s:%d: the example marker %q is not followed by a fenced block", file, pending.Line, pending.Name)
	}
	return blocks, nil
}

// Documents lists the documents whose examples are checked, relative to
// the repository root: README.md and every docs/*.md.
func Documents(root string) ([]string, error) {
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		return nil, err
	}
	out := []string{"README.md"}
	for _, d := range docs {
		rel, err := filepath.Rel(root, d)
		if err != nil {
			return nil, err
		}
		out = append(out, filepath.ToSlash(rel))
	}
	sort.Strings(out[1:])
	return out, nil
}

// All parses every document under root.
func All(root string) ([]Block, error) {
	docs, err := Documents(root)
	if err != nil {
		return nil, err
	}
	var out []Block
	for _, d := range docs {
		md, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(d)))
		if err != nil {
			return nil, err
		}
		bs, err := Parse(d, md)
		if err != nil {
			return nil, err
		}
		out = append(out, bs...)
	}
	return out, nil
}

// Find returns the block named name; exactly one must exist.
func Find(blocks []Block, name string) (Block, error) {
	var found []Block
	for _, b := range blocks {
		if b.Name == name {
			found = append(found, b)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return Block{}, fmt.Errorf("no example named %q (a <!-- example: %s --> line before its fence)", name, name)
	default:
		return Block{}, fmt.Errorf("%d examples named %q: %s and %s", len(found), name, found[0].Where(), found[1].Where())
	}
}

// Commands returns the shell commands of a sh block: its lines without
// comments and blank lines, continuation lines (ending in \) joined.
func (b Block) Commands() []string {
	var out []string
	var cur strings.Builder
	for _, l := range b.Lines() {
		t := strings.TrimSpace(l)
		if cur.Len() == 0 && (t == "" || strings.HasPrefix(t, "#")) {
			continue
		}
		if s, ok := strings.CutSuffix(t, "\\"); ok {
			cur.WriteString(strings.TrimSpace(s) + " ")
			continue
		}
		cur.WriteString(t)
		out = append(out, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, strings.TrimSpace(cur.String()))
	}
	return out
}
