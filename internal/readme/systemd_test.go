package readme

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ipnd/ipnd/internal/testenv"
)

const unitDir = "contrib/systemd"

// unitFile is a parsed systemd unit: section -> key -> values.
type unitFile struct {
	name     string
	comments []string // the comment lines before the first section
	sections map[string]map[string][]string
}

func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unitFile{name: filepath.Base(path), sections: map[string]map[string][]string{}}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
			if section == "" {
				u.comments = append(u.comments, sc.Text())
			}
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			if u.sections[section] == nil {
				u.sections[section] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, n, line)
			}
			u.sections[section][strings.TrimSpace(k)] = append(u.sections[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

func (u unitFile) get(section, key string) string {
	vs := u.sections[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

func units(t *testing.T) (root string, list []unitFile) {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	paths, err := filepath.Glob(filepath.Join(root, unitDir, "ipnd*"))
	if err != nil || len(paths) < 5 {
		t.Fatalf("unit files in %s: %v %v", unitDir, paths, err)
	}
	for _, p := range paths {
		list = append(list, parseUnit(t, p))
	}
	return root, list
}

// installCommands returns the commands in ipnd.service's install comment.
func installCommands(u unitFile) []string {
	var out []string
	for _, c := range u.comments {
		if cmd, ok := strings.CutPrefix(c, "#   "); ok {
			out = append(out, strings.TrimSpace(cmd))
		}
	}
	return out
}

// The install comment of ipnd.service is the operator guide's install
// block, command for command.
func TestUnitInstallCommentMatchesGuide(t *testing.T) {
	_, list := units(t)
	guide := example(t, repoBlocks(t), "systemd-install").Commands()
	for _, u := range list {
		if u.name != "ipnd.service" {
			continue
		}
		if got := installCommands(u); !reflect.DeepEqual(got, guide) {
			t.Errorf("ipnd.service's install comment and docs/operators.md differ:\nunit:\n  %s\nguide:\n  %s",
				strings.Join(got, "\n  "), strings.Join(guide, "\n  "))
		}
		return
	}
	t.Fatal("no ipnd.service")
}

// The units agree with the install steps: each file is installed, each
// Documentation= file is installed, and the services run the installed
// binary as the ipnd user with the installed settings.
func TestUnitsAgreeWithInstallSteps(t *testing.T) {
	_, list := units(t)
	steps := example(t, repoBlocks(t), "systemd-install").Commands()
	installs := func(src, dst string) bool {
		for _, c := range steps {
			f := strings.Fields(c)
			if len(f) < 3 || f[0] != "install" {
				continue
			}
			target := f[len(f)-1]
			for _, a := range f[1 : len(f)-1] {
				if a == src && (target == dst || strings.HasSuffix(target, "/") && target+filepath.Base(src) == dst) {
					return true
				}
			}
		}
		return false
	}
	docSources := map[string]string{"README.md": "README.md", "operators.md": "docs/operators.md"}
	for _, u := range list {
		if !installs(unitDir+"/"+u.name, "/etc/systemd/system/"+u.name) {
			t.Errorf("%s is not installed by the install steps", u.name)
		}
		docs := strings.Fields(u.get("Unit", "Documentation"))
		if len(docs) == 0 {
			t.Errorf("%s: no Documentation=", u.name)
		}
		for _, d := range docs {
			path, ok := strings.CutPrefix(d, "file://")
			src := docSources[filepath.Base(path)]
			if !ok || src == "" || !installs(src, path) {
				t.Errorf("%s: Documentation=%s is not a file the install steps install", u.name, d)
			}
		}
		if u.get("Unit", "Description") == "" {
			t.Errorf("%s: no Description=", u.name)
		}
		if !strings.HasSuffix(u.name, ".service") {
			continue
		}
		for key, want := range map[string]string{
			"Type": "notify", "User": "ipnd", "Group": "ipnd", "EnvironmentFile": "-/etc/ipnd/env",
			"WorkingDirectory": "/var/lib/ipnd", "ReadWritePaths": "/var/lib/ipnd", "ProtectSystem": "strict",
		} {
			if got := u.get("Service", key); got != want {
				t.Errorf("%s: %s=%q, want %q", u.name, key, got, want)
			}
		}
		exec := strings.Fields(u.get("Service", "ExecStart"))
		if len(exec) < 4 || exec[0] != "/usr/local/bin/ipnd" || exec[1] != "serve" ||
			!strings.HasSuffix(strings.Join(exec, " "), "-config /etc/ipnd/settings.toml") {
			t.Errorf("%s: ExecStart=%q, want /usr/local/bin/ipnd serve … -config /etc/ipnd/settings.toml", u.name, exec)
		}
	}
}

// systemd-analyze verify accepts every unit: no unknown key, no bad value.
// It runs against a scratch root holding systemd's own units, the project's
// units and a stand-in for /usr/local/bin/ipnd.
func TestUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		testenv.Unavailable(t, "systemd-analyze not found (Debian package systemd)")
	}
	repo, list := units(t)
	root := t.TempDir()
	systemUnits := "/usr/lib/systemd/system"
	if _, err := os.Stat(systemUnits); err != nil {
		systemUnits = "/lib/systemd/system"
	}
	for _, dir := range []string{"usr/lib/systemd", "etc/systemd/system", "usr/local/bin"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("cp", "-a", systemUnits, filepath.Join(root, "usr/lib/systemd/")).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v\n%s", systemUnits, err, out)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/local/bin/ipnd"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range list {
		b, err := os.ReadFile(filepath.Join(repo, unitDir, u.name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "etc/systemd/system", u.name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, u.name)
	}
	sort.Strings(names)
	args := append([]string{"verify", "--root=" + root, "--man=no"}, names...)
	out, err := exec.Command(analyze, args...).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
