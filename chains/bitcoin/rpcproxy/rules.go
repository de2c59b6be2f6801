package rpcproxy

import (
	"bytes"
	"encoding/json"
	"time"
)

// Delay makes every call of method (every call, and every websocket
// message from the node, when method is "") wait d before it goes on; 0
// removes the delay. A batch waits for the longest delay of its calls.
func (p *Proxy) Delay(method string, d time.Duration) {
	f := &p.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	if d <= 0 {
		delete(f.delays, method)
		return
	}
	f.delays[method] = d
}

// Hang holds every call of method (every call, and every websocket message
// both ways, when method is "") without an answer, as a hung node does,
// until Release or until the client gives up and closes the connection.
func (p *Proxy) Hang(method string) {
	f := &p.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hangs[method] = true
}

// Release ends every Hang: the held calls go on to the node.
func (p *Proxy) Release() {
	f := &p.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hangs = map[string]bool{}
	if !f.closed {
		close(f.release)
		f.release = make(chan struct{})
	}
}

// SetDown(true) makes the proxy act as a node that went away: every POST's
// connection is closed without an answer, websocket upgrades are refused
// and open websockets are cut. SetDown(false) brings it back.
func (p *Proxy) SetDown(down bool) {
	f := &p.faults
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
	if down {
		p.CutWebsockets()
	}
}

// Call is one call and the node's answer to it, as a Rewrite function sees
// it; the function may change Result and Error.
type Call struct {
	Method string
	Params []json.RawMessage
	Result json.RawMessage // the node's result (JSON null when it answered an error)
	Error  *RPCError       // the node's error; nil on success
}

// RPCError is a JSON-RPC error object.
type RPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Param returns the i-th parameter, or nil when there are fewer.
func (c *Call) Param(i int) json.RawMessage {
	if i < len(c.Params) {
		return c.Params[i]
	}
	return nil
}

// Answer makes the call succeed with result (marshalled to JSON).
func (c *Call) Answer(result any) {
	b, err := json.Marshal(result)
	if err != nil {
		panic("rpcproxy: answer: " + err.Error())
	}
	c.Result, c.Error = b, nil
}

type rule struct {
	method string
	fn     func(*Call)
}

// Rewrite calls fn for every HTTP call of method (every call when method
// is "") once the node answered; fn may change the answer. Rules run in
// the order they were added.
func (p *Proxy) Rewrite(method string, fn func(*Call)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, rule{method, fn})
}

// ClearRewrites removes every Rewrite (and what the helpers below added).
func (p *Proxy) ClearRewrites() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

// Fail makes every call of method answer the error code and message, e.g.
// Fail("getblock", -1, "Block not available (pruned data)").
func (p *Proxy) Fail(method string, code int, message string) {
	p.Rewrite(method, func(c *Call) { c.Result, c.Error = nil, &RPCError{Code: code, Message: message} })
}

// ServeRawTransaction makes getrawtransaction of txid answer rawHex, known
// to the node or not, decodable or not: as the result itself when not
// verbose, else as the "hex" (and "txid") of the node's object, or of an
// object holding only those when the node knows no such transaction.
func (p *Proxy) ServeRawTransaction(txid, rawHex string) {
	p.Rewrite("getrawtransaction", func(c *Call) {
		if stringParam(c.Param(0)) != txid {
			return
		}
		if !truthy(c.Param(1)) {
			c.Answer(rawHex)
			return
		}
		obj := map[string]json.RawMessage{}
		if c.Error != nil || json.Unmarshal(c.Result, &obj) != nil || obj == nil {
			obj = map[string]json.RawMessage{}
		}
		obj["hex"], _ = json.Marshal(rawHex)
		obj["txid"], _ = json.Marshal(txid)
		c.Answer(obj)
	})
}

// ServeBlock makes getblock of hash with verbosity 0 (or false) answer
// rawHex; verbose calls are left alone.
func (p *Proxy) ServeBlock(hash, rawHex string) {
	p.Rewrite("getblock", func(c *Call) {
		if stringParam(c.Param(0)) == hash && c.Param(1) != nil && !truthy(c.Param(1)) {
			c.Answer(rawHex)
		}
	})
}

// AddToMempool makes getrawmempool list txids besides the node's own. A
// verbose call gets an entry for each with zero fee and size 100.
func (p *Proxy) AddToMempool(txids ...string) {
	added := append([]string(nil), txids...)
	p.Rewrite("getrawmempool", func(c *Call) {
		if c.Error != nil {
			return
		}
		if !truthy(c.Param(0)) {
			var ids []string
			if json.Unmarshal(c.Result, &ids) != nil {
				return
			}
			seen := map[string]bool{}
			for _, id := range ids {
				seen[id] = true
			}
			for _, id := range added {
				if !seen[id] {
					ids = append(ids, id)
				}
			}
			c.Answer(ids)
			return
		}
		var entries map[string]json.RawMessage
		if json.Unmarshal(c.Result, &entries) != nil || entries == nil {
			return
		}
		now := time.Now().Unix()
		for _, id := range added {
			if _, ok := entries[id]; !ok {
				entries[id], _ = json.Marshal(map[string]any{
					"size": 100, "vsize": 100, "weight": 400, "fee": 0, "time": now, "height": 0,
					"startingpriority": 0, "currentpriority": 0, "depends": []string{},
				})
			}
		}
		c.Answer(entries)
	})
}

func stringParam(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// truthy reads a verbose/verbosity parameter: true or a non-zero number.
func truthy(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0, bytes.Equal(raw, []byte("null")), bytes.Equal(raw, []byte("false")):
		return false
	case bytes.Equal(raw, []byte("true")):
		return true
	}
	var f float64
	return json.Unmarshal(raw, &f) == nil && f != 0
}

// rewrite applies the rules to the node's reply to reqs; replies no rule
// applies to are passed on byte for byte.
func (p *Proxy) rewrite(reqs []request, batch bool, reply []byte) []byte {
	p.mu.Lock()
	rules := p.rules
	p.mu.Unlock()
	applies := func(method string) bool {
		for _, r := range rules {
			if r.method == "" || r.method == method {
				return true
			}
		}
		return false
	}
	hit := false
	for _, r := range reqs {
		hit = hit || applies(r.Method)
	}
	if !hit {
		return reply
	}
	var elems []json.RawMessage
	if batch {
		if json.Unmarshal(reply, &elems) != nil {
			return reply
		}
	} else {
		elems = []json.RawMessage{reply}
	}
	byID := map[string]int{}
	for i, r := range reqs {
		byID[string(compact(r.ID))] = i
	}
	for i, el := range elems {
		var m map[string]json.RawMessage
		if json.Unmarshal(el, &m) != nil {
			continue
		}
		k, ok := byID[string(compact(m["id"]))]
		if !ok {
			if i >= len(reqs) {
				continue
			}
			k = i
		}
		req := reqs[k]
		if !applies(req.Method) {
			continue
		}
		c := Call{Method: req.Method, Params: req.Params, Result: m["result"]}
		if e := m["error"]; len(e) > 0 && !bytes.Equal(bytes.TrimSpace(e), []byte("null")) {
			c.Error = &RPCError{}
			if json.Unmarshal(e, c.Error) != nil {
				c.Error.Message = string(e)
			}
		}
		for _, r := range rules {
			if r.method == "" || r.method == req.Method {
				r.fn(&c)
			}
		}
		m["result"] = json.RawMessage("null")
		if c.Error == nil && c.Result != nil {
			m["result"] = c.Result
		}
		m["error"] = json.RawMessage("null")
		if c.Error != nil {
			m["error"], _ = json.Marshal(c.Error)
		}
		elems[i], _ = json.Marshal(m)
	}
	if !batch {
		return append(elems[0], '\n')
	}
	out, _ := json.Marshal(elems)
	return append(out, '\n')
}

func compact(raw json.RawMessage) []byte {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}
