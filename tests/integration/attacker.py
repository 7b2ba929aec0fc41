#!/usr/bin/env python3
"""The attacker's side of the front-door tests (tests/integration/front_door_test.cc).

Raw sockets against `vigil serve` on loopback only, standard library only.
Every subcommand is bounded in count and in time and stops by itself. Progress
lines and the final result are JSON objects, one per line, on stdout; the last
line is the result and has "done": true.

  stall-rdp   open N connections that send an X.224 Connection Request asking
              for TLS (and, with --kind clienthello, a TLS ClientHello), then go
              silent; report when the server closed each one
  stall-vnc   open N connections that read the RFB version (--kind silent) or
              also send one back (--kind version), then go silent; same report
  tls-churn   N connections that send X.224 + a TLS ClientHello and abandon the
              handshake at one of three points; a few in flight at once
  vnc-wrong-answers
              N VNC logins that answer the VNC-auth challenge with random bytes
"""

import argparse
import json
import os
import random
import select
import signal
import socket
import ssl
import struct
import sys
import threading
import time

ALLOWED_PREFIX = "127."  # loopback only

# A server close this soon after the stall began counts as "closed at once"
# (a cap refusing the connection), not as a deadline.
AT_ONCE_S = 0.5

# SIGTERM ends a run early; it still prints its result.
STOP = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: STOP.set())


def emit(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def check_loopback(*addrs):
    for a in addrs:
        if not a.startswith(ALLOWED_PREFIX):
            sys.exit("attacker.py: only loopback addresses (127.x), not " + a)


class ConnectFailed(Exception):
    """connect() itself failed: nothing listening, or a full backlog."""


def connect(src, host, port, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(timeout)
    s.bind((src, 0))
    try:
        s.connect((host, port))
    except OSError as e:
        s.close()
        raise ConnectFailed("%s: %s" % (type(e).__name__, e))
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


# --- RDP -------------------------------------------------------------------

PROTOCOL_SSL = 0x00000001


def x224_connection_request(cookie=b"Cookie: mstshash=attacker\r\n", protocols=PROTOCOL_SSL):
    """TPKT + X.224 Connection Request TPDU + RDP_NEG_REQ (MS-RDPBCGR 2.2.1.1)."""
    neg_req = struct.pack("<BBHI", 0x01, 0x00, 8, protocols)  # TYPE_RDP_NEG_REQ, flags, length, protocols
    # LI counts the TPDU header after itself: CR code, DST-REF, SRC-REF, class, then variable part.
    body = struct.pack(">BHHB", 0xE0, 0, 0, 0) + cookie + neg_req
    tpdu = struct.pack("B", len(body)) + body
    return struct.pack(">BBH", 3, 0, 4 + len(tpdu)) + tpdu


def read_tpkt(s):
    head = recv_exact(s, 4)
    if head[0] != 3:
        raise ValueError("not a TPKT reply: %r" % head)
    (length,) = struct.unpack(">H", head[2:4])
    return head + recv_exact(s, length - 4)


def selected_protocol(cc):
    """The protocol an X.224 Connection Confirm selected (None if no RDP_NEG_RSP)."""
    # TPKT(4) LI(1) CC(1) DST(2) SRC(2) class(1) then RDP_NEG_RSP(8)
    if len(cc) >= 19 and cc[11] == 0x02:
        return struct.unpack("<I", cc[15:19])[0]
    if len(cc) >= 19 and cc[11] == 0x03:
        return "failure:%d" % struct.unpack("<I", cc[15:19])[0]
    return None


def tls_client():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_side=False)
    return obj, incoming, outgoing


def client_hello():
    """A real ClientHello from Python's OpenSSL, plus the state to go on with."""
    obj, incoming, outgoing = tls_client()
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return obj, incoming, outgoing, outgoing.read()


def rdp_open(src, host, port, kind):
    """Connects and sends the stall's bytes; returns the socket (the server may
    already have answered: the X.224 Connection Confirm, a ServerHello)."""
    s = connect(src, host, port)
    s.sendall(x224_connection_request())
    if kind == "clienthello":
        # The Connection Confirm first (the server only starts TLS after it).
        s.settimeout(5.0)
        read_tpkt(s)
        _, _, _, hello = client_hello()
        s.sendall(hello)
    return s


# --- VNC -------------------------------------------------------------------

def vnc_open(src, host, port, kind):
    """silent: the server's "RFB 003.008\n" is read (by the watch loop) and
    nothing is sent; version: our version goes back at once, then nothing (the
    server has sent its security types and waits for a choice)."""
    s = connect(src, host, port)
    if kind == "version":
        s.sendall(b"RFB 003.008\n")
    return s


# --- stalls: hold connections, time the server's close ----------------------

def stall(args, opener):
    check_loopback(args.src, args.host)
    deadline = time.monotonic() + args.hold
    max_opens = args.max_opens if args.max_opens else args.count * 50
    slots = {}  # socket -> (stall start, its record)
    records = []  # one per connection: {"i", "opened_s", "close_s" or None, "how"}
    open_errors = []
    connect_errors = []
    opens = 0
    t0 = time.monotonic()
    next_reopen = t0
    reopen_gap = 1.0 / args.reopen_rate if args.reopen_rate > 0 else 0.0

    def open_one():
        nonlocal opens
        i = opens
        opens += 1
        try:
            s = opener(args.src, args.host, args.port, args.kind)
        except ConnectFailed as e:
            # Nothing listening (or a full backlog): not a close by the server.
            connect_errors.append(str(e))
            return
        except (OSError, ValueError) as e:
            # The server closing or refusing while we were still sending the
            # stall counts as a close at once.
            open_errors.append(str(e))
            records.append({"i": i, "opened_s": round(time.monotonic() - t0, 3), "close_s": 0.0,
                            "how": "during-open:" + type(e).__name__})
            return
        s.setblocking(False)
        rec = {"i": i, "opened_s": round(time.monotonic() - t0, 3), "close_s": None, "how": None}
        records.append(rec)
        slots[s] = (time.monotonic(), rec)

    def watch(wait):
        """Notes every connection the server closed (waiting at most `wait`)."""
        if not slots:
            return
        readable, _, _ = select.select(list(slots), [], [], wait)
        for s in readable:
            started, rec = slots[s]
            try:
                data = s.recv(65536)
                if data:
                    continue  # the server talking (Connection Confirm, ServerHello): not a close
                how = "eof"
            except (ConnectionResetError, BrokenPipeError):
                how = "reset"
            except BlockingIOError:
                continue
            except OSError as e:
                how = "error:" + type(e).__name__
            rec["close_s"] = round(time.monotonic() - started, 3)
            rec["how"] = how
            del slots[s]
            s.close()

    for _ in range(args.count):
        if time.monotonic() >= deadline or STOP.is_set():
            break
        open_one()
        watch(0)  # a close at once is timed as such even while the rest are still opening
    emit({"event": "opened", "count": opens, "held": len(slots),
          "elapsed_s": round(time.monotonic() - t0, 3)})
    next_report = time.monotonic() + 1.0
    held_samples = []

    while time.monotonic() < deadline and not STOP.is_set():
        if time.monotonic() >= next_report:
            next_report += 1.0
            held_samples.append(len(slots))
            emit({"event": "holding", "held": len(slots), "opens": opens,
                  "elapsed_s": round(time.monotonic() - t0, 3)})
        if args.reopen:
            while (len(slots) < args.count and opens < max_opens and time.monotonic() >= next_reopen
                   and time.monotonic() < deadline):
                open_one()
                next_reopen = max(next_reopen + reopen_gap, time.monotonic() - 1.0)
        if not slots:
            if not args.reopen or opens >= max_opens:
                break
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
            continue
        watch(max(0.0, min(0.05, deadline - time.monotonic())))

    still_open = len(slots)
    for s in list(slots):
        s.close()
    closes = sorted(r["close_s"] for r in records if r["close_s"] is not None)
    at_once = sum(1 for c in closes if c < AT_ONCE_S)
    cut = [c for c in closes if c >= AT_ONCE_S]
    result = {
        "done": True,
        "subcommand": args.cmd,
        "kind": args.kind,
        "src": args.src,
        "count": args.count,
        "opens": opens,
        "closed": len(closes),
        "closed_at_once": at_once,
        "cut": len(cut),
        "max_cut_s": max(cut) if cut else None,
        "min_cut_s": min(cut) if cut else None,
        "max_close_s": closes[-1] if closes else None,
        "open_at_end": still_open,
        "held_samples": held_samples,
        "stopped_early": STOP.is_set(),
        "open_errors": open_errors[:5],
        "connect_errors": len(connect_errors),
        "connect_error_samples": connect_errors[:3],
        "elapsed_s": round(time.monotonic() - t0, 3),
    }
    if not args.reopen:
        result["close_s"] = [r["close_s"] for r in sorted(records, key=lambda r: r["i"])]
    emit(result)


# --- TLS churn -------------------------------------------------------------

MODES = ("hello-close", "server-hello", "tls-done")


def churn_one(src, host, port, mode):
    s = connect(src, host, port, timeout=5.0)
    try:
        s.sendall(x224_connection_request())
        cc = read_tpkt(s)
        if selected_protocol(cc) != PROTOCOL_SSL:
            return "no-tls"
        obj, incoming, outgoing, hello = client_hello()
        s.sendall(hello)
        if mode == "hello-close":
            return mode
        # Read the server's flight (ServerHello ...), abandon there or finish TLS.
        while True:
            data = s.recv(65536)
            if not data:
                return "closed-by-server"
            incoming.write(data)
            try:
                obj.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            if mode == "server-hello":
                return mode
            out = outgoing.read()
            if out:
                s.sendall(out)
            if done:
                return mode
    finally:
        s.close()


def tls_churn(args):
    srcs = args.src.split(",")
    check_loopback(args.host, *srcs)
    deadline = time.monotonic() + args.max_seconds
    lock = threading.Lock()
    counts = {}
    state = {"next": 0, "finished": 0}
    t0 = time.monotonic()
    progress_every = max(1, args.count // 10)

    def worker(w):
        src = srcs[w % len(srcs)]
        while True:
            with lock:
                i = state["next"]
                if i >= args.count or time.monotonic() >= deadline or STOP.is_set():
                    return
                state["next"] += 1
            mode = MODES[i % len(MODES)]
            try:
                outcome = churn_one(src, args.host, args.port, mode)
            except (OSError, ValueError, ssl.SSLError, ConnectFailed) as e:
                outcome = "error:" + type(e).__name__
            with lock:
                counts[outcome] = counts.get(outcome, 0) + 1
                state["finished"] += 1
                if state["finished"] % progress_every == 0:
                    emit({"event": "progress", "finished": state["finished"],
                          "elapsed_s": round(time.monotonic() - t0, 3)})

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(args.parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()) + 10)
    elapsed = time.monotonic() - t0
    emit({"done": True, "subcommand": "tls-churn", "count": args.count, "finished": state["finished"],
          "outcomes": counts, "parallel": args.parallel, "elapsed_s": round(elapsed, 3),
          "per_second": round(state["finished"] / elapsed, 1) if elapsed > 0 else None})


# --- VNC refusals ----------------------------------------------------------

def wrong_answer(src, host, port):
    s = connect(src, host, port, timeout=5.0)
    try:
        recv_exact(s, 12)
        s.sendall(b"RFB 003.008\n")
        (n,) = struct.unpack("B", recv_exact(s, 1))
        if n == 0:
            return "refused-before-auth"
        types = recv_exact(s, n)
        if 2 not in types:
            return "no-vnc-auth"
        s.sendall(b"\x02")
        recv_exact(s, 16)  # the challenge
        s.sendall(os.urandom(16))  # not the DES of any code
        (result,) = struct.unpack(">I", recv_exact(s, 4))
        return "accepted" if result == 0 else "refused"
    finally:
        s.close()


def vnc_wrong_answers(args):
    check_loopback(args.src, args.host)
    deadline = time.monotonic() + args.max_seconds
    lock = threading.Lock()
    counts = {}
    state = {"next": 0, "finished": 0}
    gap = 1.0 / args.rate if args.rate > 0 else 0.0
    t0 = time.monotonic()

    def worker():
        while True:
            with lock:
                i = state["next"]
                if i >= args.count or time.monotonic() >= deadline or STOP.is_set():
                    return
                state["next"] += 1
            start_at = t0 + i * gap
            now = time.monotonic()
            if start_at > now:
                STOP.wait(min(start_at - now, max(0.0, deadline - now)))
                if STOP.is_set():
                    return
            try:
                outcome = wrong_answer(args.src, args.host, args.port)
            except (OSError, ValueError, ConnectFailed) as e:
                outcome = "error:" + type(e).__name__
            with lock:
                counts[outcome] = counts.get(outcome, 0) + 1
                state["finished"] += 1

    emit({"event": "started"})
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()) + 10)
    emit({"done": True, "subcommand": "vnc-wrong-answers", "count": args.count,
          "finished": state["finished"], "outcomes": counts,
          "elapsed_s": round(time.monotonic() - t0, 3)})


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp, default_src):
        sp.add_argument("--host", default="127.0.0.1")
        sp.add_argument("--port", type=int, required=True)
        sp.add_argument("--src", default=default_src)

    for name, kinds in (("stall-rdp", ("x224", "clienthello")), ("stall-vnc", ("silent", "version"))):
        sp = sub.add_parser(name)
        common(sp, "127.0.0.7")
        sp.add_argument("--kind", choices=kinds, default=kinds[0])
        sp.add_argument("--count", type=int, default=10, help="connections held at once (<= 500)")
        sp.add_argument("--hold", type=float, default=10.0, help="seconds to watch, then close all (<= 300)")
        sp.add_argument("--reopen", action="store_true", help="reopen a connection the server closed")
        sp.add_argument("--reopen-rate", type=float, default=50.0, help="reopens per second at most")
        sp.add_argument("--max-opens", type=int, default=0, help="connections in all (default 50 x count)")

    sp = sub.add_parser("tls-churn")
    common(sp, "127.0.0.7,127.0.0.8")
    sp.add_argument("--count", type=int, default=10000)
    sp.add_argument("--parallel", type=int, default=4)
    sp.add_argument("--max-seconds", type=float, default=150.0)

    sp = sub.add_parser("vnc-wrong-answers")
    common(sp, "127.0.0.8")
    sp.add_argument("--count", type=int, default=200)
    sp.add_argument("--parallel", type=int, default=4)
    sp.add_argument("--rate", type=float, default=20.0, help="logins started per second at most")
    sp.add_argument("--max-seconds", type=float, default=60.0)

    args = p.parse_args()
    # Bounds, whatever the caller asks.
    for name, hi in (("count", 20000), ("hold", 300.0), ("max_seconds", 300.0), ("parallel", 32),
                     ("max_opens", 20000)):
        if hasattr(args, name) and getattr(args, name) > hi:
            setattr(args, name, hi)
    if args.cmd == "stall-rdp":
        args.count = min(args.count, 500)
        stall(args, rdp_open)
    elif args.cmd == "stall-vnc":
        args.count = min(args.count, 500)
        stall(args, vnc_open)
    elif args.cmd == "tls-churn":
        tls_churn(args)
    else:
        vnc_wrong_answers(args)


if __name__ == "__main__":
    main()
