# receiver.py: IPN_SECRET=ipnsec_… PORT=8000 python3 receiver.py
import hashlib, hmac, json, os, time
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = os.environ["IPN_SECRET"].encode()  # your endpoint's secret
NEWEST = {}  # subscription_id -> (highest IPN-Id, its totals); keep this in your database

def verify(header, body, window=300):
    fields = [p.strip().partition("=") for p in header.split(",")]
    t = next((v for k, _, v in fields if k == "t"), "")
    if not (t.isascii() and t.isdigit()) or abs(time.time() - int(t)) > window:
        return False
    mac = hmac.new(SECRET, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    # while ipnd rotates the endpoint's secret there are two v1: either may be yours
    return any(hmac.compare_digest(mac, v) for k, _, v in fields if k == "v1" and v.isascii())

class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not verify(self.headers.get("IPN-Signature", ""), body):
            return self.answer(401, {"error": "bad signature"})
        ipn, ipn_id = json.loads(body), int(self.headers["IPN-Id"])
        newest = NEWEST.get(ipn["subscription_id"])
        if newest is None or ipn_id >= newest[0]:  # a lower IPN-Id is out of date: change nothing
            # record ipn["confirmed"] / ipn["unconfirmed"] for ipn["address"], unless
            # ipn.get("test"): sent by `ipnd test-receiver`, never credit an order
            newest = (ipn_id, {k: ipn[k] for k in ("address", "confirmed", "unconfirmed")})
            NEWEST[ipn["subscription_id"]] = newest
        self.answer(200, newest[1])  # echo the totals you hold

    def answer(self, status, obj):
        out = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8000"))), Receiver).serve_forever()
