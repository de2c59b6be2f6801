package readme

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/internal/testenv"
)

// TestReadmeLogSubsystems: the README lists every log subsystem the code
// uses: the literal ones ("subsystem", "api"), each chain's, and the ZMQ
// subscribers' (zmqsub names them CHAIN.zmq). btc.zmq and xmr.zmq were
// missing.
func TestReadmeLogSubsystems(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	literal := regexp.MustCompile(`"subsystem",\s*"([a-z0-9._-]+)"`)
	want := map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range literal.FindAllSubmatch(b, -1) {
			want[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chains.All {
		want[string(c)] = true
		want[string(c)+".zmq"] = true // every chain's node has a ZMQ feed (zmqsub.Options.Name + ".zmq")
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "`subsystem` attribute (")
	if i < 0 {
		t.Fatal("the README no longer lists the log subsystems")
	}
	end := strings.Index(text[i:], ").\n")
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z0-9._-]+)`").FindAllStringSubmatch(text[i:i+end], -1) {
		listed[m[1]] = true
	}
	delete(listed, "subsystem")
	var missing, extra []string
	for s := range want {
		if !listed[s] {
			missing = append(missing, s)
		}
	}
	for s := range listed {
		if !want[s] {
			extra = append(extra, s)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra) > 0 {
		t.Errorf("README's log subsystems: missing %v, not in the code %v", missing, extra)
	}
}
