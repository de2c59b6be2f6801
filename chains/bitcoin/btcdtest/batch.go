package btcdtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// batchClient posts JSON-RPC batches. btcd closes the connection after
// every POST, so there is nothing to keep alive.
var batchClient = &http.Client{
	Timeout:   5 * time.Minute,
	Transport: &http.Transport{DisableKeepAlives: true},
}

type batchRequest struct {
	JSONRPC string `json:"jsonrpc"`
	ID      int    `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

// batchReply is one element of a JSON-RPC batch reply.
type batchReply struct {
	ID     int             `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *rpcError       `json:"error"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *rpcError) Error() string { return fmt.Sprintf("%d: %s", e.Code, e.Message) }

// batch calls method once per element of params in one HTTP POST (btcd
// runs the elements in order) and returns the replies in the same order.
func (n *Node) batch(method string, params [][]any) ([]batchReply, error) {
	if len(params) == 0 {
		return nil, nil
	}
	reqs := make([]batchRequest, len(params))
	for i, p := range params {
		reqs[i] = batchRequest{JSONRPC: "1.0", ID: i, Method: method, Params: p}
	}
	body, err := json.Marshal(reqs)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+n.RPCHost+"/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(n.User, n.Pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := batchClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s batch of %d: %w", method, len(params), err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s batch of %d: read reply: %w", method, len(params), err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s batch of %d: HTTP %s: %.200s", method, len(params), resp.Status, raw)
	}
	var replies []batchReply
	if err := json.Unmarshal(raw, &replies); err != nil {
		return nil, fmt.Errorf("%s batch of %d: decode reply: %w", method, len(params), err)
	}
	if len(replies) != len(params) {
		return nil, fmt.Errorf("%s batch of %d: %d replies", method, len(params), len(replies))
	}
	out := make([]batchReply, len(params))
	for _, r := range replies {
		if r.ID < 0 || r.ID >= len(out) {
			return nil, fmt.Errorf("%s batch of %d: reply with id %d", method, len(params), r.ID)
		}
		out[r.ID] = r
	}
	return out, nil
}
