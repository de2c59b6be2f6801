package coretest

import (
	"context"
	"encoding/json"
	"slices"
)

// Litecoin's genesis block hashes, as litecoind 0.21.2 reports them
// (getblockhash 0 with -regtest, -testnet and on mainnet; the latter two
// equal ltcd's chaincfg, which the tests check). Bitcoin's differ.
const (
	GenesisRegtest  = "530827f38f93b43ed12af0b3ad25a288dc02ed74d6d7857862df51fc56c416f9"
	GenesisTestnet4 = "4966625a4b2851d9fdee139e56211a0d88575f59ed816ff5e6a63deb4e3e29a0"
	GenesisMainnet  = "12a765e31ffd4059bada1e25190f6e98c99d9714d334efa41a195a7e7e04bfe2"
)

// MWEBActivationHeight is the first regtest height with MWEB active: BIP9
// bit 4 in 144-block windows, started at 144, locked in at 288, active from
// 432.
const MWEBActivationHeight = 432

// Segwit-style flag bytes (after the 0x00 marker) of Litecoin transactions.
const (
	FlagWitness = 0x01 // BIP144 witness
	FlagMWEB    = 0x08 // MWEB data: the HogEx (alone), a peg-in (0x09 = witness|MWEB)
)

// MWEBStatus is the MWEB deployment as getblockchaininfo reports it.
type MWEBStatus struct {
	Status string // BIP9 status for the next block: defined, started, locked_in, active
	Active bool   // active for the next block
	Height int64  // activation height, once locked in (else 0)
}

// MWEB returns the MWEB deployment's status.
func (n *Node) MWEB() MWEBStatus {
	n.tb.Helper()
	var info struct {
		Softforks map[string]struct {
			BIP9 struct {
				Status string `json:"status"`
			} `json:"bip9"`
			Height int64 `json:"height"`
			Active bool  `json:"active"`
		} `json:"softforks"`
	}
	n.Call("getblockchaininfo", &info)
	m, ok := info.Softforks["mweb"]
	if !ok {
		n.tb.Fatal("getblockchaininfo: no mweb softfork (not Litecoin Core 0.21.2+?)")
	}
	return MWEBStatus{Status: m.BIP9.Status, Active: m.Active, Height: m.Height}
}

// PegInWallet holds the one-coin canonical outputs PegIn spends; it never
// holds MWEB coins. ActivateMWEB creates it (loaded again on restart).
const PegInWallet = "coretest-pegin"

// pegInStock is how many one-coin outputs ActivateMWEB gives PegInWallet.
const pegInStock = 25

// PegIn moves one coin (less the fee) of canonical coins into the MWEB, to
// an MWEB address of the main wallet, and returns the txid: a peg-in, with
// canonical inputs and MWEB data (flag byte 0x09 in the mempool). It spends
// one of the one-coin outputs ActivateMWEB put in PegInWallet (25 of them;
// once they are used up it fails). Why not the main wallet: Litecoin's
// wallet pays an MWEB address from its MWEB coins when it has enough, which
// makes an MWEB-only transaction (flag 0x08), not a peg-in, and every
// peg-in leaves its change in the MWEB.
func (n *Node) PegIn() string {
	n.tb.Helper()
	to := n.NewAddress("mweb")
	var txid string
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	// sendtoaddress address amount comment comment_to subtractfeefromamount:
	// exactly one one-coin output, no change.
	err := n.RPC.Wallet(PegInWallet).Call(ctx, "sendtoaddress", &txid, to, amountParam(coin), "", "", true)
	if err != nil {
		n.tb.Fatalf("peg-in from wallet %s (its %d one-coin outputs, confirmed by ActivateMWEB, may be used up): %v", PegInWallet, pegInStock, err)
	}
	return txid
}

// MWEBActivation says how ActivateMWEB got the chain past activation.
type MWEBActivation struct {
	Height    int64  // MWEBActivationHeight
	BlockHash string // the block at Height, the first with a HogEx
	PegInTxID string // the peg-in mined in that block ("" if the chain was already past it)
}

// ActivateMWEB drives the chain past MWEB activation: it mines to height
// 431 (at least 101 blocks first, for mature coins), sends a peg-in of one
// coin from the main wallet (block 432 cannot be mined without one) and
// mines block 432, the first with a HogEx transaction and extension-block
// data. The chain then continues normally: later blocks need no peg-in.
// On the way it stocks PegInWallet for PegIn (one transaction, mined by
// 432). On a chain already past activation it only reports the activation
// block. From genesis that is 432 blocks (about 1.5 s).
func (n *Node) ActivateMWEB() MWEBActivation {
	n.tb.Helper()
	const h = MWEBActivationHeight
	tip := n.Height()
	if tip >= h {
		if !n.MWEB().Active {
			n.tb.Fatalf("height %d but MWEB not active", tip)
		}
		return MWEBActivation{Height: h, BlockHash: n.BlockHash(h)}
	}
	if tip < 101 {
		n.Generate(int(101 - tip))
		tip = 101
	}
	n.stockPegIns()
	if tip < h-1 {
		n.Generate(int(h - 1 - tip))
	}
	if st := n.MWEB(); !st.Active || st.Height != h {
		n.tb.Fatalf("at height %d MWEB is %+v, want active from %d", h-1, st, h)
	}
	// The main wallet holds no MWEB coins yet: this is a peg-in.
	peg := n.SendToAddress(n.NewAddress("mweb"), coin)
	n.WaitMempool(peg, true)
	hash := n.Generate(1)[0]
	if n.Height() != h {
		n.tb.Fatalf("height %d after mining the activation block", n.Height())
	}
	return MWEBActivation{Height: h, BlockHash: hash, PegInTxID: peg}
}

func (n *Node) stockPegIns() {
	n.tb.Helper()
	var wallets []string
	n.Call("listwallets", &wallets)
	if !slices.Contains(wallets, PegInWallet) {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		err := n.RPC.Call(ctx, "loadwallet", nil, PegInWallet, true)
		cancel()
		if IsRPCError(err, ErrCodeWalletNotFound) {
			n.Call("createwallet", nil, PegInWallet, false, false, "", false, false, true)
		} else if err != nil {
			n.tb.Fatalf("loadwallet %s: %v", PegInWallet, err)
		}
	}
	pw := n.RPC.Wallet(PegInWallet)
	outs := map[string]json.Number{}
	for range pegInStock {
		var a string
		n.call(pw, "getnewaddress", &a, "", "bech32")
		outs[a] = amountParam(coin)
	}
	n.CallWallet("sendmany", nil, "", outs)
}
