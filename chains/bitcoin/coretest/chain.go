package coretest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// Call invokes a node RPC (endpoint /) and decodes its result into result
// (nil to discard); an error fails the test.
func (n *Node) Call(method string, result any, params ...any) {
	n.tb.Helper()
	n.call(n.RPC, method, result, params...)
}

// CallWallet invokes a wallet RPC on the wallet WalletName.
func (n *Node) CallWallet(method string, result any, params ...any) {
	n.tb.Helper()
	n.call(n.Wallet, method, result, params...)
}

func (n *Node) call(c *Client, method string, result any, params ...any) {
	n.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := c.Call(ctx, method, result, params...); err != nil {
		n.tb.Fatalf("litecoind %s: %v", method, err)
	}
}

// NewAddress returns a new address of the wallet: typ is "" (the node's
// default, bech32), "bech32" (rltc1…), "p2sh-segwit", "legacy" or "mweb"
// (tmweb1… on regtest).
func (n *Node) NewAddress(typ string) string {
	n.tb.Helper()
	var a string
	if typ == "" {
		n.CallWallet("getnewaddress", &a)
	} else {
		n.CallWallet("getnewaddress", &a, "", typ)
	}
	return a
}

// Fund mines 101 blocks to MiningAddress so that the first coinbase
// (50 coins on regtest) is spendable.
func (n *Node) Fund() { n.tb.Helper(); n.Generate(101) }

// Generate mines count blocks to MiningAddress and returns their hashes.
func (n *Node) Generate(count int) []string {
	n.tb.Helper()
	return n.GenerateTo(n.MiningAddress, count)
}

// GenerateTo mines count blocks paying their coinbase to addr.
func (n *Node) GenerateTo(addr string, count int) []string {
	n.tb.Helper()
	var hs []string
	n.Call("generatetoaddress", &hs, count, addr)
	return hs
}

// SendToAddress pays amount atomic units (litoshi) to addr from the wallet
// and returns the txid.
func (n *Node) SendToAddress(addr string, amount int64) string {
	n.tb.Helper()
	var txid string
	n.CallWallet("sendtoaddress", &txid, addr, amountParam(amount))
	return txid
}

// Balance is the wallet's trusted balance in atomic units (getbalance).
func (n *Node) Balance() int64 {
	n.tb.Helper()
	var b json.Number
	n.CallWallet("getbalance", &b)
	v, err := ParseAmount(b.String())
	if err != nil {
		n.tb.Fatalf("getbalance: %v", err)
	}
	return v
}

// Height is the node's best height (getblockcount).
func (n *Node) Height() int64 {
	n.tb.Helper()
	var h int64
	n.Call("getblockcount", &h)
	return h
}

// BestHash is the node's best block hash.
func (n *Node) BestHash() string {
	n.tb.Helper()
	var h string
	n.Call("getbestblockhash", &h)
	return h
}

// BlockHash is the hash of the best chain's block at height.
func (n *Node) BlockHash(height int64) string {
	n.tb.Helper()
	var h string
	n.Call("getblockhash", &h, height)
	return h
}

// InvalidateBlock marks hash invalid: the best chain falls back to its
// parent (or another branch) and its transactions return to the mempool.
func (n *Node) InvalidateBlock(hash string) {
	n.tb.Helper()
	n.Call("invalidateblock", nil, hash)
}

// ReconsiderBlock undoes InvalidateBlock for hash and its descendants.
func (n *Node) ReconsiderBlock(hash string) {
	n.tb.Helper()
	n.Call("reconsiderblock", nil, hash)
}

// RawBlock returns the serialized block (getblock hash 0), MWEB data
// included from MWEB activation on.
func (n *Node) RawBlock(hash string) []byte {
	n.tb.Helper()
	var h string
	n.Call("getblock", &h, hash, 0)
	return n.unhex("getblock", h)
}

// RawTransaction returns a serialized transaction. Without -txindex the
// node finds mempool transactions (blockHash "") and confirmed ones only in
// the block blockHash.
func (n *Node) RawTransaction(txid, blockHash string) []byte {
	n.tb.Helper()
	var h string
	if blockHash == "" {
		n.Call("getrawtransaction", &h, txid, false)
	} else {
		n.Call("getrawtransaction", &h, txid, false, blockHash)
	}
	return n.unhex("getrawtransaction", h)
}

func (n *Node) unhex(method, h string) []byte {
	n.tb.Helper()
	b, err := hex.DecodeString(h)
	if err != nil {
		n.tb.Fatalf("%s: reply is not hex: %v", method, err)
	}
	return b
}

// Mempool lists the node's mempool txids (getrawmempool).
func (n *Node) Mempool() []string {
	n.tb.Helper()
	var ids []string
	n.Call("getrawmempool", &ids)
	return ids
}

// WaitMempool waits until txid is (want) or is not (!want) in the mempool.
func (n *Node) WaitMempool(txid string, want bool) {
	n.tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		in := false
		for _, id := range n.Mempool() {
			in = in || id == txid
		}
		if in == want {
			return
		}
		if time.Now().After(deadline) {
			n.tb.Fatalf("tx %s in mempool = %v, want %v", txid, in, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// DescriptorInfo is getdescriptorinfo's answer.
type DescriptorInfo struct {
	Descriptor string `json:"descriptor"` // normalised, with checksum
	Checksum   string `json:"checksum"`
	IsRange    bool   `json:"isrange"`
	IsSolvable bool   `json:"issolvable"`
	HasPrivate bool   `json:"hasprivatekeys"`
}

// DescribeDescriptor asks the node to analyse desc (getdescriptorinfo).
func (n *Node) DescribeDescriptor(desc string) DescriptorInfo {
	n.tb.Helper()
	var info DescriptorInfo
	n.Call("getdescriptorinfo", &info, desc)
	return info
}

// DeriveAddresses returns the addresses of desc (deriveaddresses) at the
// indexes first..last of a ranged descriptor; for an unranged one the
// range is ignored. desc may lack its checksum: the node's is appended.
// The addresses use the node's (Litecoin regtest) encodings.
func (n *Node) DeriveAddresses(desc string, first, last int) []string {
	n.tb.Helper()
	info := n.DescribeDescriptor(desc)
	if !hasChecksum(desc) {
		desc += "#" + info.Checksum
	}
	var out []string
	if info.IsRange {
		n.Call("deriveaddresses", &out, desc, []int{first, last})
	} else {
		n.Call("deriveaddresses", &out, desc)
	}
	return out
}

func hasChecksum(desc string) bool { return strings.Contains(desc, "#") }
