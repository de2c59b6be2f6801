package monerotest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ipnd/ipnd/internal/testenv"
)

// ErrMissing is wrapped when monerod or monero-wallet-rpc is not installed.
var ErrMissing = errors.New("monero binaries not found")

// Binaries locates monerod and monero-wallet-rpc: env IPND_MONEROD and
// IPND_MONERO_WALLET_RPC, else $PATH, else /usr/bin.
func Binaries() (monerod, walletRPC string, err error) {
	find := func(env, name string) (string, error) {
		if p := os.Getenv(env); p != "" {
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("%w: %s=%s: %w", ErrMissing, env, p, err)
			}
			return p, nil
		}
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		p := filepath.Join("/usr/bin", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		return "", fmt.Errorf("%w: %s is not in $PATH (apt-get install monero, or set %s)", ErrMissing, name, env)
	}
	if monerod, err = find("IPND_MONEROD", "monerod"); err != nil {
		return "", "", err
	}
	if walletRPC, err = find("IPND_MONERO_WALLET_RPC", "monero-wallet-rpc"); err != nil {
		return "", "", err
	}
	return monerod, walletRPC, nil
}

// FreePort reserves a loopback TCP port for this test process
// (testenv.ReservePort: outside the ephemeral range, never handed to another
// test process).
func FreePort() (int, error) { return testenv.ReservePort() }

type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProcess(bin string, args []string, logPath string) (*process, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Die with the test binary even if it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", filepath.Base(bin), err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM, then SIGKILL after grace.
func (p *process) stop(grace time.Duration) {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func waitReady(ctx context.Context, p *process, limit time.Duration, probe func(context.Context) error) error {
	deadline := time.Now().Add(limit)
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := probe(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("process exited: %v", p.err)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not ready after %s: %w", limit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
