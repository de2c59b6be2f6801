//go:build cgo

// ltcd's packages need cgo (github.com/ltcsuite/secp256k1), so these
// cross-checks against ltcd build only where cgo does; ipnd itself reads
// Litecoin with its own cgo-free decoder (chains/bitcoin), which
// TestLitecoinCore compares with litecoind on every build.

package coretest

import (
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	ltcchaincfg "github.com/ltcsuite/ltcd/chaincfg"
)

func TestGenesisHashes(t *testing.T) {
	if got := ltcchaincfg.MainNetParams.GenesisHash.String(); got != GenesisMainnet {
		t.Errorf("ltcd mainnet genesis %s, harness %s", got, GenesisMainnet)
	}
	if got := ltcchaincfg.TestNet4Params.GenesisHash.String(); got != GenesisTestnet4 {
		t.Errorf("ltcd testnet4 genesis %s, harness %s", got, GenesisTestnet4)
	}
	if got := ltcchaincfg.RegressionNetParams.GenesisHash.String(); got != GenesisRegtest {
		t.Errorf("ltcd regtest genesis %s, harness %s", got, GenesisRegtest)
	}
	if GenesisRegtest == chaincfg.RegressionNetParams.GenesisHash.String() {
		t.Error("Litecoin's regtest genesis equals Bitcoin's")
	}
}
