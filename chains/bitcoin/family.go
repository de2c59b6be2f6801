package bitcoin

import (
	"time"

	"github.com/ipnd/ipnd/chains"
)

// Family is what one Bitcoin-family chain brings to the shared watcher:
// its chain id, its configuration section and its wire decoder. Its
// networks' parameters (genesis block, address encodings, block interval)
// come with the Deriver's chaincfg.Params. Bitcoin is one Family; a chain
// whose formats are Bitcoin's with extensions (Litecoin's MWEB) is another
// with its own Decoder.
type Family struct {
	Chain chains.Chain
	// Section names the configuration section ("bitcoin") in messages
	// that point the operator at a setting.
	Section string
	// Name is the chain's name for people ("Bitcoin").
	Name    string
	Decoder Decoder
}

// BitcoinFamily is Bitcoin.
var BitcoinFamily = Family{Chain: chains.BTC, Section: "bitcoin", Name: "Bitcoin", Decoder: BitcoinDecoder{}}

// fastPoll is the poll interval while no push notification source works.
const fastPoll = time.Second

// heartbeat is the longest wait between rounds while push works: a round
// costs one call when nothing changed, and it notices a node that hangs.
const heartbeat = 10 * time.Second
