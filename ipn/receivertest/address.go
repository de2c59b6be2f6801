package receivertest

import (
	"fmt"
	"strings"

	"github.com/ipnd/ipnd/chains"
)

// Synthetic addresses of the test IPNs. Each is a valid address of its chain
// and network (checksum, and for Monero two valid public keys) whose text says
// what it is; nobody holds its keys, so coins sent to it are lost. A shop
// never has it as a payment address, which keeps the kit's IPNs away from
// real orders.
//
//   - Bitcoin and Litecoin: P2WPKH whose 20-byte program is the bech32
//     text "qqqqqqqqqqqqqtestaddressneverpay".
//   - Monero: a standard address whose middle 77 characters read
//     "ipndTestKitSyntheticAddressDoNotPayAnyCoinsHereJustForTestingShopReceiversxxx";
//     monero-wallet-rpc's validate_address accepts each for its network
//     (regtest uses the mainnet form).
const (
	SyntheticBTCMainnet = "bc1qqqqqqqqqqqqqqtestaddressneverpaysy6g58"
	SyntheticBTCTestnet = "tb1qqqqqqqqqqqqqqtestaddressneverpay6zpm05" // testnet and signet
	SyntheticBTCRegtest = "bcrt1qqqqqqqqqqqqqqtestaddressneverpayctckca"

	SyntheticLTCMainnet = "ltc1qqqqqqqqqqqqqqtestaddressneverpay5cqvvh"
	SyntheticLTCTestnet = "tltc1qqqqqqqqqqqqqqtestaddressneverpayr2r9la" // testnet4
	SyntheticLTCRegtest = "rltc1qqqqqqqqqqqqqqtestaddressneverpayxxzl0r"

	SyntheticXMRMainnet  = "41d7FXjswpKipndTestKitSyntheticAddressDoNotPayAnyCoinsHereJustForTestingShopReceiversxxx13Jvmsq"
	SyntheticXMRTestnet  = "9sAejnQ9EBRipndTestKitSyntheticAddressDoNotPayAnyCoinsHereJustForTestingShopReceiversxxx17FFuxa"
	SyntheticXMRStagenet = "51q9LNeqbRRipndTestKitSyntheticAddressDoNotPayAnyCoinsHereJustForTestingShopReceiversxxx15B5Ty1"
)

// SyntheticAddress returns the test IPNs' address for a chain and network.
// Bitcoin networks are those of [bitcoin] network (mainnet, testnet,
// testnet3, signet, regtest), Litecoin's those of [litecoin] network
// (mainnet, testnet, testnet4, regtest); Monero's are mainnet (also
// regtest), testnet and stagenet. An empty network means mainnet.
func SyntheticAddress(chain chains.Chain, network string) (string, error) {
	network = strings.ToLower(strings.TrimSpace(network))
	switch chain {
	case chains.BTC:
		switch network {
		case "", "mainnet", "main":
			return SyntheticBTCMainnet, nil
		case "testnet", "testnet3", "signet":
			return SyntheticBTCTestnet, nil
		case "regtest":
			return SyntheticBTCRegtest, nil
		}
	case chains.LTC:
		switch network {
		case "", "mainnet", "main":
			return SyntheticLTCMainnet, nil
		case "testnet", "testnet4":
			return SyntheticLTCTestnet, nil
		case "regtest":
			return SyntheticLTCRegtest, nil
		}
	case chains.XMR:
		switch network {
		case "", "mainnet", "main", "regtest", "fakechain":
			return SyntheticXMRMainnet, nil
		case "testnet":
			return SyntheticXMRTestnet, nil
		case "stagenet":
			return SyntheticXMRStagenet, nil
		}
	default:
		return "", fmt.Errorf("receiver test: no synthetic address for chain %q: set Options.Address", chain)
	}
	return "", fmt.Errorf("receiver test: unknown %s network %q (Options.Network): want mainnet, testnet, signet or regtest for btc, mainnet, testnet or regtest for ltc, mainnet, testnet or stagenet for xmr", chain, network)
}
