//go:build unix

package testenv

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// TestMain runs the child of TestReservePortAcrossProcesses when asked to
// (TESTENV_PORTS_CHILD): it reserves ports and prints them, holding them
// until its stdin closes.
func TestMain(m *testing.M) {
	if os.Getenv("TESTENV_PORTS_CHILD") == "" {
		os.Exit(m.Run())
	}
	for i := 0; i < 200; i++ {
		p, err := ReservePort()
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(p)
	}
	fmt.Println("done")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	os.Exit(0)
}

// Ports reserved by one test process are never handed to another one (or
// twice to the same one), and they lie below the kernel's ephemeral range,
// so no outgoing connection takes them as its local port before the node
// binds them.
func TestReservePortAcrossProcesses(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "TESTENV_PORTS_CHILD=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	child := map[int]bool{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "done" {
		p, err := strconv.Atoi(sc.Text())
		if err != nil {
			t.Fatalf("child: %s", sc.Text())
		}
		child[p] = true
	}
	if len(child) != 200 {
		t.Fatalf("child reserved %d distinct ports, want 200", len(child))
	}
	_, hi := portRange()
	mine := map[int]bool{}
	for i := 0; i < 200; i++ {
		p, err := ReservePort()
		if err != nil {
			t.Fatal(err)
		}
		if child[p] || mine[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		if p > hi {
			t.Fatalf("port %d is in the ephemeral range (above %d)", p, hi)
		}
		mine[p] = true
	}
}
