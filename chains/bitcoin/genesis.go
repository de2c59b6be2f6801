package bitcoin

import "github.com/btcsuite/btcd/chaincfg"

// genesisName names a known network by its genesis block hash, for the
// message refusing a node of another network ("" when unknown).
func genesisName(hash string) string {
	for _, p := range []*chaincfg.Params{&chaincfg.MainNetParams, &chaincfg.TestNet3Params, &chaincfg.SigNetParams, &chaincfg.RegressionNetParams} {
		if p.GenesisHash.String() == hash {
			return "Bitcoin " + p.Name
		}
	}
	return ""
}
