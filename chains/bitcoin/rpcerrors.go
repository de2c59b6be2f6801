package bitcoin

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ipnd/ipnd/chains/chainsync"
)

// RPCError is an error answer of the node.
type RPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *RPCError) Error() string { return fmt.Sprintf("node RPC error %d: %s", e.Code, e.Message) }

// Is makes a not-found answer (see isNotFound) match chainsync.ErrNoBlock.
func (e *RPCError) Is(target error) bool { return target == chainsync.ErrNoBlock && isNotFound(e) }

// Well-known node error codes.
const (
	codeMisc           = -1  // RPC_MISC_ERROR: btcd's out-of-range height, Core's pruned block
	codeWarmingUp      = -28 // RPC_IN_WARMUP: loading blocks, verifying, rewinding
	codeNotFound       = -5  // RPC_INVALID_ADDRESS_OR_KEY: no such block or transaction
	codeOutOfRange     = -8  // block height out of range
	codeMethodNotFound = -32601
)

// ErrAuth: the node refused the credentials (HTTP 401/403).
var ErrAuth = errors.New("the node refused the RPC credentials")

// isWarmingUp reports a node that is starting (error -28).
func isWarmingUp(err error) bool {
	var re *RPCError
	return errors.As(err, &re) && re.Code == codeWarmingUp
}

// isNotFound reports an unknown block or transaction (-5) or height (-8).
func isNotFound(err error) bool {
	var re *RPCError
	if !errors.As(err, &re) {
		return false
	}
	// btcd answers a height beyond its tip with -1 "Block number out of range".
	return re.Code == codeNotFound || re.Code == codeOutOfRange || strings.Contains(strings.ToLower(re.Message), "out of range")
}

// isPruned reports Core's answer for a block a pruned node no longer has
// (-1 "Block not available (pruned data)").
func isPruned(err error) bool {
	var re *RPCError
	return errors.As(err, &re) && re.Code == codeMisc && strings.Contains(strings.ToLower(re.Message), "pruned")
}

// isMethodNotFound reports a node that does not have the method (btcd has
// no getzmqnotifications, Core no websocket methods).
func isMethodNotFound(err error) bool {
	var re *RPCError
	return errors.As(err, &re) && re.Code == codeMethodNotFound
}
