package bitcoin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/ipnd/ipnd/config"
)

func hashOf(s string) chainhash.Hash { return chainhash.DoubleHashH([]byte(s)) }

// getrawmempool answers decode straight into hashes, in the RPC's display
// order; anything but an array of 64-digit hex strings is refused.
func TestParseTxIDs(t *testing.T) {
	a, b := hashOf("a"), hashOf("b")
	for _, in := range []string{
		fmt.Sprintf(`["%s","%s"]`, a, b),
		fmt.Sprintf(" [ \"%s\" ,\n\t\"%s\" ] ", a, b),
	} {
		got, err := parseTxIDs([]byte(in), nil)
		if err != nil || len(got) != 2 || got[0] != a || got[1] != b {
			t.Fatalf("parse %q: %v, %v", in, got, err)
		}
	}
	for _, in := range []string{`[]`, ` [ ] `, `null`} {
		if got, err := parseTxIDs([]byte(in), nil); err != nil || len(got) != 0 {
			t.Fatalf("parse %q: %v, %v", in, got, err)
		}
	}
	for _, in := range []string{``, `{}`, `[`, `["ab"]`, `[1]`, fmt.Sprintf(`["%s",]`, a), fmt.Sprintf(`["%s"`, a),
		fmt.Sprintf(`["%s"] x`, a), fmt.Sprintf(`["%s" "%s"]`, a, b), `["` + strings.Repeat("zz", 32) + `"]`} {
		if got, err := parseTxIDs([]byte(in), nil); err == nil {
			t.Fatalf("parse %q accepted: %v", in, got)
		}
	}
	// Through encoding/json, as the client decodes an answer.
	var r struct{ Result txidList }
	if err := json.Unmarshal([]byte(fmt.Sprintf(`{"result":["%s"],"error":null}`, b)), &r); err != nil || len(r.Result) != 1 || r.Result[0] != b {
		t.Fatalf("in an answer: %v, %v", r.Result, err)
	}
}

func FuzzParseTxIDs(f *testing.F) {
	f.Add([]byte(fmt.Sprintf(`["%s"]`, hashOf("a"))))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[""]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, err := parseTxIDs(b, nil)
		if err != nil {
			return
		}
		// Whatever it accepts is a JSON array of that many strings.
		var strs []string
		if jerr := json.Unmarshal(b, &strs); jerr != nil || len(strs) != len(ids) {
			t.Fatalf("accepted %q (%d ids) that is not a JSON string array: %v", b, len(ids), jerr)
		}
		for i, s := range strs {
			if !strings.EqualFold(s, ids[i].String()) {
				t.Fatalf("item %d: %s, parsed %s", i, s, ids[i])
			}
		}
	})
}

func TestCheckPush(t *testing.T) {
	for _, tc := range []struct {
		c    PushConfig
		want string // a key named in the problems, "" none
	}{
		{PushConfig{Mode: PushAuto}, ""},
		{PushConfig{Mode: PushOff}, ""},
		{PushConfig{Mode: PushZMQ, ZMQRawTx: "tcp://127.0.0.1:28332", ZMQHashBlock: "tcp://127.0.0.1:28333"}, ""},
		{PushConfig{Mode: PushAuto, ZMQSequence: "ipc:///run/bitcoind/zmq.sock"}, ""},
		{PushConfig{Mode: PushZMQ, ZMQRawTx: "tcp://127.0.0.1:28332"}, "bitcoin.push"},
		{PushConfig{Mode: PushWebsocket, ZMQSequence: "tcp://127.0.0.1:28336"}, "bitcoin.push"},
		{PushConfig{Mode: PushAuto, ZMQRawTx: "tcp://0.0.0.0:28332", ZMQHashBlock: "tcp://127.0.0.1:1"}, "bitcoin.zmq_rawtx"},
		{PushConfig{Mode: PushAuto, ZMQSequence: "127.0.0.1:28336"}, "bitcoin.zmq_sequence"},
		{PushConfig{Mode: PushAuto, ZMQHashBlock: "udp://127.0.0.1:1", ZMQRawTx: "tcp://h:1"}, "bitcoin.zmq_hashblock"},
	} {
		var p config.Problems
		checkPush(&p, "bitcoin", tc.c)
		msg := fmt.Sprint(p)
		if (tc.want == "") != (len(p) == 0) || (tc.want != "" && !strings.Contains(msg, tc.want)) {
			t.Errorf("%+v: problems %q, want one naming %q", tc.c, msg, tc.want)
		}
	}
}

// The node's publishers become endpoints: sequence, or rawtx with
// hashblock; a bind-all address is dialled on the node's host: loopback
// for a local node, the rpc_host's host for a remote one.
func TestZMQFromNode(t *testing.T) {
	for _, c := range []struct{ rpcHost, want string }{
		{"127.0.0.1:18443", "127.0.0.1"},
		{"node.example:8332", "node.example"},
		{"192.0.2.7:8332", "192.0.2.7"},
		{"[fd00::7]:8332", "[fd00::7]"},
		{"0.0.0.0:8332", "127.0.0.1"},
	} {
		host := NewClient(RPCConfig{Host: c.rpcHost}).rpcHost()
		got := zmqFromNode([]ZMQNotification{{Type: "pubrawtx", Address: "tcp://0.0.0.0:28332"}, {Type: "pubhashblock", Address: "tcp://127.0.0.1:28333"},
			{Type: "pubhashtx", Address: "tcp://127.0.0.1:28334"}}, PushAuto, host)
		if got.ZMQRawTx != "tcp://"+c.want+":28332" || got.ZMQHashBlock != "tcp://127.0.0.1:28333" || got.ZMQSequence != "" {
			t.Errorf("rpc_host %s: rawtx+hashblock: %+v", c.rpcHost, got)
		}
		got = zmqFromNode([]ZMQNotification{{Type: "pubsequence", Address: "tcp://[::]:28336"}}, PushAuto, host)
		if got.ZMQSequence != "tcp://"+c.want+":28336" {
			t.Errorf("rpc_host %s: sequence: %+v", c.rpcHost, got)
		}
	}
	if got := zmqFromNode([]ZMQNotification{{Type: "pubrawtx", Address: "tcp://127.0.0.1:28332"}}, PushAuto, ""); got.zmqSet() {
		t.Fatalf("rawtx alone is not enough: %+v", got)
	}
	if got := zmqFromNode([]ZMQNotification{{Type: "pubsequence", Address: "tcp://*:28336"}}, PushAuto, ""); got.ZMQSequence != "tcp://127.0.0.1:28336" {
		t.Fatalf("sequence on * without a node host: %+v", got)
	}
	if got := zmqFromNode(nil, PushAuto, "node.example"); got.zmqSet() {
		t.Fatalf("none: %+v", got)
	}
}

// mempoolInfoNode answers getmempoolinfo; other calls are not expected.
type mempoolInfoNode struct {
	Node
	info  MempoolInfo
	calls int
}

func (n *mempoolInfoNode) MempoolInfo(context.Context) (MempoolInfo, error) {
	n.calls++
	return n.info, nil
}

// When the whole mempool is looked at: at first and on resync; while push
// works, at the safety poll only when the node's count differs from what
// the watcher knows, or after fullAtLeast skipped looks; while polling,
// whenever getmempoolinfo changed, and at the safety poll anyway.
func TestMempoolFullDue(t *testing.T) {
	node := &mempoolInfoNode{info: MempoolInfo{Size: 2, Bytes: 500}}
	m := &mempoolFollower{cfg: mempoolConfig{FullEvery: time.Hour}, node: node, known: map[chainhash.Hash]uint32{hashOf("a"): 0, hashOf("b"): 0}}
	due := func(resync, push bool) bool {
		t.Helper()
		full, info, err := m.fullDue(context.Background(), resync, push)
		if err != nil || (full && info == nil) {
			t.Fatalf("fullDue: %v, %v, %v", full, info, err)
		}
		if full {
			m.lastFull, m.lastInfo = time.Now(), *info
		}
		return full
	}
	if !due(false, true) {
		t.Fatal("no first look")
	}
	if due(false, true) || node.calls != 1 {
		t.Fatalf("push working, safety poll an hour away: looked (%d calls)", node.calls)
	}
	m.lastCheck = time.Now().Add(-2 * time.Hour)
	if due(false, true) || node.calls != 2 {
		t.Fatalf("safety poll with the counts equal: looked (%d calls)", node.calls)
	}
	m.lastCheck, node.info.Size = time.Now().Add(-2*time.Hour), 3
	if !due(false, true) {
		t.Fatal("safety poll with the counts different: no look")
	}
	if !due(true, true) {
		t.Fatal("resync: no look")
	}
	m.lastCheck, m.lastFull, node.info.Size = time.Now().Add(-2*time.Hour), time.Now().Add(-11*time.Hour), 2
	if !due(false, true) {
		t.Fatal("no look for fullAtLeast safety polls")
	}
	if due(false, false) {
		t.Fatal("polling, nothing changed: looked")
	}
	node.info.TotalFee = "0.0001"
	if !due(false, false) {
		t.Fatal("polling, a replacement changed the fees: no look")
	}
	m.lastFull = time.Now().Add(-2 * time.Hour)
	if !due(false, false) {
		t.Fatal("polling, safety poll due: no look")
	}
}
