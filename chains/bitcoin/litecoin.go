package bitcoin

import (
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/ipnd/ipnd/chains"
)

// LitecoinFamily is Litecoin, followed through Litecoin Core (litecoind
// 0.21.2 or later): Bitcoin's formats with MWEB extensions, read by
// LitecoinDecoder.
var LitecoinFamily = Family{
	Chain: chains.LTC, Section: "litecoin", Name: "Litecoin", Decoder: LitecoinDecoder{},
	Nodes: "litecoind", MaxMoney: 84_000_000 * 100_000_000,
	Networks: []*Network{
		{Name: "mainnet", Aliases: []string{"main"}, NodeChains: []string{"main", "mainnet"}, Params: &LitecoinMainNetParams,
			RPCPort: 9332, LegacyScriptHashAddrIDs: []byte{0x05}, ConfidentialHRP: "ltcmweb"},
		{Name: "testnet", Aliases: []string{"testnet4"}, NodeChains: []string{"test", "testnet", "testnet4"}, Params: &LitecoinTestNet4Params,
			Test: true, RPCPort: 19332, LegacyScriptHashAddrIDs: []byte{0xc4}, ConfidentialHRP: "tmweb"},
		{Name: "regtest", NodeChains: []string{"regtest"}, Params: &LitecoinRegTestParams,
			Test: true, RPCPort: 19443, LegacyScriptHashAddrIDs: []byte{0xc4}, ConfidentialHRP: "tmweb"},
	},
	keys: litecoinKeys,
}

// Litecoin's network parameters in btcd's form: what ipnd uses of them
// (genesis block, base58 versions, bech32 HRP, extended-key versions,
// BIP44 coin type, block interval), as Litecoin Core 0.21 defines them.
// They are not registered with chaincfg (Litecoin's regtest shares
// Bitcoin's message start); this package decodes their addresses itself.
var (
	LitecoinMainNetParams = chaincfg.Params{
		Name: "mainnet", Net: wire.BitcoinNet(0xdbb6c0fb), DefaultPort: "9333",
		GenesisHash:      mustHash("12a765e31ffd4059bada1e25190f6e98c99d9714d334efa41a195a7e7e04bfe2"),
		PubKeyHashAddrID: 0x30, ScriptHashAddrID: 0x32, PrivateKeyID: 0xb0, Bech32HRPSegwit: "ltc",
		HDPrivateKeyID: [4]byte{0x04, 0x88, 0xad, 0xe4}, HDPublicKeyID: [4]byte{0x04, 0x88, 0xb2, 0x1e}, HDCoinType: 2,
		TargetTimePerBlock: 150 * time.Second,
	}
	LitecoinTestNet4Params = chaincfg.Params{
		Name: "testnet4", Net: wire.BitcoinNet(0xf1c8d2fd), DefaultPort: "19335",
		GenesisHash:      mustHash("4966625a4b2851d9fdee139e56211a0d88575f59ed816ff5e6a63deb4e3e29a0"),
		PubKeyHashAddrID: 0x6f, ScriptHashAddrID: 0x3a, PrivateKeyID: 0xef, Bech32HRPSegwit: "tltc",
		HDPrivateKeyID: [4]byte{0x04, 0x35, 0x83, 0x94}, HDPublicKeyID: [4]byte{0x04, 0x35, 0x87, 0xcf}, HDCoinType: 1,
		TargetTimePerBlock: 150 * time.Second,
	}
	LitecoinRegTestParams = chaincfg.Params{
		Name: "regtest", Net: wire.BitcoinNet(0xdab5bffa), DefaultPort: "19444",
		GenesisHash:      mustHash("530827f38f93b43ed12af0b3ad25a288dc02ed74d6d7857862df51fc56c416f9"),
		PubKeyHashAddrID: 0x6f, ScriptHashAddrID: 0x3a, PrivateKeyID: 0xef, Bech32HRPSegwit: "rltc",
		HDPrivateKeyID: [4]byte{0x04, 0x35, 0x83, 0x94}, HDPublicKeyID: [4]byte{0x04, 0x35, 0x87, 0xcf}, HDCoinType: 1,
		TargetTimePerBlock: 150 * time.Second,
	}
)

func mustHash(s string) *chainhash.Hash {
	h, err := chainhash.NewHashFromStr(s)
	if err != nil {
		panic(err)
	}
	return h
}
