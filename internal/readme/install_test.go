package readme

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipnd/ipnd/internal/testenv"
)

// TestInstallStepsAsPrinted runs the operator guide's install steps and its
// upgrade steps, as printed, as root on this machine, inside a private
// mount namespace where /etc, /var and /usr/local are copy-on-write
// overlays: useradd, install and runuser act for real, and everything they
// write vanishes with the namespace. From a directory holding the files the
// steps install (a freshly built bin/ipnd, the documents, the units):
//   - `systemctl` lines are left out (no systemd manages this machine's
//     services from a test); systemd-analyze verifies the installed units;
//   - the `$EDITOR` line becomes writing an API key to /etc/ipnd/env.
//
// Then, as the ipnd user: the settings and the env file are readable but
// not writable, /etc/ipnd takes no new file, /var/lib/ipnd is writable, and
// `ipnd migrate` of the upgrade steps made its SQLite ledger there.
func TestInstallStepsAsPrinted(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "the install steps need root (useradd, chown; run in a private mount namespace)")
	}
	for _, tool := range []string{"unshare", "useradd", "runuser", "setpriv", "systemd-analyze", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Unavailable(t, "%s not found", tool)
		}
	}
	hostHadUser := hasUser("ipnd")
	blocks := repoBlocks(t)
	install := example(t, blocks, "systemd-install").Commands()
	upgrade := example(t, blocks, "upgrade").Commands()
	repo, list := units(t)

	tmp, err := os.MkdirTemp("/tmp", "ipnd-install-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	work := filepath.Join(tmp, "clone")
	files := []string{"README.md", "docs/operators.md", "settings.example.toml"}
	for _, u := range list {
		files = append(files, unitDir+"/"+u.name)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(work, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command("go", "build", "-o", filepath.Join(work, "bin", "ipnd"), "./cmd/ipnd")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/ipnd: %v\n%s", err, out)
	}

	var script strings.Builder
	fmt.Fprintf(&script, "set -eu\nT=%q\nmount -t tmpfs tmpfs \"$T/ov\" || exit 99\n", tmp)
	for _, d := range []string{"etc", "var", "usr/local"} {
		fmt.Fprintf(&script, "mkdir -p \"$T/ov/up/%[1]s\" \"$T/ov/work/%[1]s\"\n"+
			"mount -t overlay overlay -o \"lowerdir=/%[1]s,upperdir=$T/ov/up/%[1]s,workdir=$T/ov/work/%[1]s\" /%[1]s || exit 99\n", d)
	}
	// A machine that already has an ipnd user: start from a fresh one here.
	script.WriteString("if id ipnd >/dev/null 2>&1; then userdel ipnd; fi\n")
	fmt.Fprintf(&script, "cd %q\n", work)
	steps := func(cmds []string) {
		for _, c := range cmds {
			switch {
			case strings.HasPrefix(c, "systemctl "):
				fmt.Fprintf(&script, "echo 'skipped: %s'\n", c)
			case strings.HasPrefix(c, "$EDITOR "):
				script.WriteString("printf \"IPND_SERVER_API_KEYS='%s'\\n\" readme-install-test-key-0123 >> /etc/ipnd/env\n")
			default:
				fmt.Fprintf(&script, "echo '+ %s'\n%s\n", strings.ReplaceAll(c, "'", `'\''`), c)
			}
		}
	}
	steps(install)
	script.WriteString(`as() { setpriv --reuid=ipnd --regid=ipnd --init-groups "$@"; }
check() { if "$@" >/dev/null 2>&1; then echo yes; else echo no; fi; }
echo "result passwd=$(getent passwd ipnd | cut -d: -f6,7)"
for p in /usr/local/bin/ipnd /etc/ipnd /etc/ipnd/settings.toml /etc/ipnd/env /var/lib/ipnd; do
  echo "result stat $(stat -c '%n %a %U %G' "$p")"
done
echo "result read_settings=$(check as cat /etc/ipnd/settings.toml)"
echo "result read_env=$(check as cat /etc/ipnd/env)"
echo "result write_settings=$(check as sh -c ': >> /etc/ipnd/settings.toml')"
echo "result write_env=$(check as sh -c ': >> /etc/ipnd/env')"
echo "result create_in_etc=$(check as sh -c ': > /etc/ipnd/new')"
echo "result write_data=$(check as sh -c ': > /var/lib/ipnd/probe')"
for d in $(grep -h '^Documentation=' /etc/systemd/system/ipnd*.service /etc/systemd/system/ipnd-roles.target | cut -d= -f2-); do
  echo "result doc ${d#file://} $(check test -f "${d#file://}")"
done
if out=$(systemd-analyze verify --man=no /etc/systemd/system/ipnd.service /etc/systemd/system/ipnd-sync.service \
  /etc/systemd/system/ipnd-ipn.service /etc/systemd/system/ipnd-api.service /etc/systemd/system/ipnd-roles.target 2>&1); then
  echo "result verify=ok"
else
  echo "result verify=failed"
fi
printf '%s\n' "$out" | sed 's/^/verify: /'
`)
	steps(upgrade)
	script.WriteString("echo \"result ledger $(stat -c '%n %U' /var/lib/ipnd/ipnd.db)\"\n")
	if err := os.Mkdir(filepath.Join(tmp, "ov"), 0o700); err != nil {
		t.Fatal(err)
	}
	scriptPath := filepath.Join(tmp, "install.sh")
	if err := os.WriteFile(scriptPath, []byte(script.String()), 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "bash", scriptPath)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 99 {
		testenv.Unavailable(t, "cannot mount tmpfs/overlayfs in a private mount namespace here:\n%s", out)
	}
	t.Logf("install steps:\n%s", out)
	if err != nil {
		t.Fatalf("the install steps fail as printed: %v", err)
	}
	results := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if r, ok := strings.CutPrefix(l, "result "); ok {
			results[r] = true
		}
	}
	for _, want := range []string{
		"passwd=/var/lib/ipnd:/usr/sbin/nologin",
		"stat /usr/local/bin/ipnd 755 root root",
		"stat /etc/ipnd 750 root ipnd",
		"stat /etc/ipnd/settings.toml 640 root ipnd",
		"stat /etc/ipnd/env 640 root ipnd",
		"stat /var/lib/ipnd 750 ipnd ipnd",
		"read_settings=yes", "read_env=yes", "write_settings=no", "write_env=no", "create_in_etc=no", "write_data=yes",
		"doc /usr/local/share/doc/ipnd/operators.md yes", "doc /usr/local/share/doc/ipnd/README.md yes",
		"verify=ok", "ledger /var/lib/ipnd/ipnd.db ipnd",
	} {
		if !results[want] {
			t.Errorf("after the install steps, want %q", want)
		}
	}
	if hasUser("ipnd") != hostHadUser {
		t.Errorf("the host's users changed: the namespace leaked")
	}
	if _, err := os.Stat("/usr/local/share/doc/ipnd/operators.md"); err == nil && !hostHadUser {
		t.Errorf("the host's /usr/local changed: the namespace leaked")
	}
}

func hasUser(name string) bool {
	_, err := user.Lookup(name)
	return err == nil
}
