package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/ledger"
)

// addressDeriver derives a chain's receive addresses from its configured
// key alone.
type addressDeriver interface {
	Address(index uint32) (string, error)
}

// keyDeriver says which settings hold a chain's key (the only ones derive
// reads: node settings may be missing or wrong) and builds the deriver from
// them. A chain that derives its addresses (from an extended key or an
// output descriptor) adds a row to derivers.
type keyDeriver struct {
	settings []string
	build    func(cfg config.Config) (addressDeriver, error)
}

var derivers = bitcoinDerivers()

func derivingChains() string {
	var names []string
	for c := range derivers {
		names = append(names, string(c))
	}
	sort.Strings(names)
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// runDerive prints receive addresses derived from the configured key:
// the one at -index, or with -count N, N lines "INDEX ADDRESS" from -index.
// Only the key's settings are read; the node's are not needed.
func runDerive(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := flags("derive", stderr)
	chain := fs.String("chain", "btc", "chain whose configured key derives the addresses: "+derivingChains())
	index := fs.Int64("index", -1, fmt.Sprintf("derivation index N of the receive address m/0/N (index N of a descriptor), 0..%d (required)", ledger.MaxDerivationIndex))
	count := fs.Int64("count", 0, "print this many consecutive addresses from -index, one \"INDEX ADDRESS\" per line")
	if err := parse(fs, args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	kd, ok := derivers[chains.Chain(*chain)]
	if !ok {
		return usagef("derive: -chain %s: addresses are derived for %s only (Monero subaddresses come from the wallet)", *chain, derivingChains())
	}
	if !given["index"] {
		return usagef("derive: -index is required: the index N of the receive address m/0/N, 0..%d (e.g. -index 0)", ledger.MaxDerivationIndex)
	}
	if *index < 0 || *index > ledger.MaxDerivationIndex {
		return usagef("derive: -index %d: must be between 0 and %d", *index, ledger.MaxDerivationIndex)
	}
	n := int64(1)
	if given["count"] {
		if *count < 1 || *count > 10000 {
			return usagef("derive: -count %d: must be between 1 and 10000", *count)
		}
		n = *count
	}
	if last := *index + n - 1; last > ledger.MaxDerivationIndex {
		return usagef("derive: -index %d -count %d: the last index %d is beyond %d", *index, n, last, ledger.MaxDerivationIndex)
	}
	cfg, err := readConfig(args, *path)
	if err := keyProblems(err, *path, kd.settings); err != nil {
		return err
	}
	d, err := kd.build(cfg)
	if err != nil {
		var p config.Problems
		if errors.As(err, &p) {
			return usageError{p}
		}
		return usageError{fmt.Errorf("%s: %w", kd.settings[0], err)}
	}
	for i := *index; i < *index+n; i++ {
		addr, err := d.Address(uint32(i))
		if err != nil {
			return fmt.Errorf("derive index %d: %w", i, err)
		}
		if given["count"] {
			fmt.Fprintf(stdout, "%d %s\n", i, addr)
		} else {
			fmt.Fprintln(stdout, addr)
		}
	}
	return nil
}

// keyProblems keeps, of the loader's problems, those derive cares about:
// the key's settings, an unreadable or malformed file, and unknown keys or
// IPND_* variables of the key's section (a misspelt key setting).
func keyProblems(err error, path string, settings []string) error {
	if err == nil {
		return nil
	}
	var probs config.Problems
	if !errors.As(err, &probs) {
		return usageError{err}
	}
	known := map[string]bool{}
	for _, s := range config.Settings() {
		known[s.Name()] = true
	}
	relevant := func(key string) bool {
		if key == path {
			return true
		}
		for _, s := range settings {
			section, _, _ := strings.Cut(s, ".")
			if key == s || !known[key] && (strings.HasPrefix(key, section+".") ||
				strings.HasPrefix(key, config.EnvPrefix+strings.ToUpper(section)+"_")) {
				return true
			}
		}
		return false
	}
	var keep config.Problems
	for _, p := range probs {
		if relevant(p.Key) {
			keep = append(keep, p)
		}
	}
	if len(keep) > 0 {
		return usageError{keep}
	}
	return nil
}
