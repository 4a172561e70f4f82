"""A small SMSC for tests and the benchmark: SMPP 3.4 over TCP on 127.0.0.1, real PDUs.

It answers bind_transceiver, submit_sm (→ submit_sm_resp with a message id), enquire_link
and unbind, and sends delivery receipts (deliver_sm, esm_class 0x04, receipted_message_id +
message_state TLVs) on the session that submitted. Faults are switched by attributes while
it runs: refuse binds, refuse submits with a status, answer slowly, drop the connection on
receiving the n-th submit_sm (without answering).

Run standalone: python tests/reminders/smsc.py --port 2775
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import socket
import struct
import threading
import time
from dataclasses import dataclass

import smpplib.gsm
from smpplib import consts, smpp


class _Seq:
    sequence = 0

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


@dataclass
class Submit:
    destination: str
    short_message: bytes
    data_coding: int
    esm_class: int
    message_id: str  # "" when refused or dropped
    status: int


def decode(body: bytes, data_coding: int) -> str:
    """A short_message as a handset reads it: UCS-2, or GSM 03.38 unpacked septets."""
    if data_coding == 8:
        return body.decode("utf-16-be", "replace")
    table, out, escape = smpplib.gsm.GSM_CHARACTER_TABLE, [], False
    for octet in body:
        if octet == 0x1B:
            escape = True
            continue
        out.append(table[octet + 0x80] if escape else table[octet])
        escape = False
    return "".join(out)


class SmscServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        # Faults, changeable while running.
        self.refuse_bind = False
        self.refuse_status = 0  # submit_sm_resp status for the next `refuse_count` submits
        self.refuse_count = 0
        # Refuse chosen parts of long SMS: UDH index → (status, how many more times).
        self.refuse_parts: dict[int, tuple[int, int]] = {}
        self.refuse_every = 0  # refuse every n-th submit with refuse_every_status
        self.max_rate = 0.0  # submits a second above which it answers ESME_RTHROTTLED (0: none)
        self.throttled = 0
        self._recent: list[float] = []
        self.refuse_every_status = 0x08  # ESME_RSYSERR
        self.delay = 0.0  # seconds before each submit_sm_resp
        self.drop_on_submit: int | None = None  # hang up on receiving this submit (1-based)
        self.receipts = True
        # What happened.
        self.submits: list[Submit] = []
        self.binds = 0
        self.enquire_links = 0
        self.receipts_sent = 0
        self._ids = itertools.count(1)
        self._out_seq = 0
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._senders: list = []  # one per bound session: for messages from subscribers
        self._receivers: list = []  # receiver binds: they get the receipts when there are any
        self.receiver_binds = 0
        self.deliver_resps: list[int] = []  # the statuses the client answered deliver_sm with

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> SmscServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(16)
        sock.settimeout(0.2)
        self._sock, self.port = sock, sock.getsockname()[1]
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stopping.set()
        for conn in list(self._conns):
            self._close(conn)
        if self._sock:
            self._sock.close()
        for t in self._threads:
            t.join(timeout=2)

    def __enter__(self) -> SmscServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def send_inbound(self, text: str, source: str, *, ton: int = 1, npi: int = 1) -> int:
        """A subscriber's SMS to 611 (e.g. «СТОП»), on every bound session; how many got it."""
        with self._lock:
            senders = list(self._senders)
        sent = 0
        for send in senders:
            with self._lock:
                self._out_seq += 1
                out_seq = self._out_seq
            try:
                send(_pdu(DELIVER_SM, 0, out_seq, _mo_body(text, source, ton, npi)))
                sent += 1
            except OSError:
                with self._lock:
                    self._senders.remove(send)
                    if send in self._receivers:
                        self._receivers.remove(send)
        return sent

    # --- figures ------------------------------------------------------------------------------

    def accepted(self) -> list[Submit]:
        with self._lock:
            return [s for s in self.submits if s.status == 0 and s.message_id]

    def accepted_texts(self) -> list[str]:
        """Accepted first parts, decoded (GSM 03.38 or UCS-2); a long SMS counts once."""
        texts = []
        for s in self.accepted():
            body = s.short_message
            if s.esm_class & 0x40:  # UDH: skip it; count only part 1
                udh_len = body[0] + 1
                if body[udh_len - 1] != 1:
                    continue
                body = body[udh_len:]
            texts.append(decode(body, s.data_coding))
        return texts

    def handset_texts(self) -> list[str]:
        """What handsets show: accepted parts joined by their UDH reference, in order; a
        message with a part missing shows as what arrived, marked incomplete."""
        whole: dict[tuple[str, int], dict[int, str]] = {}
        totals: dict[tuple[str, int], int] = {}
        texts = []
        for s in self.accepted():
            body = s.short_message
            if not s.esm_class & 0x40:
                texts.append(decode(body, s.data_coding))
                continue
            udh_len = body[0] + 1
            reference, total, index = body[udh_len - 3], body[udh_len - 2], body[udh_len - 1]
            key = (s.destination, reference)
            whole.setdefault(key, {})[index] = decode(body[udh_len:], s.data_coding)
            totals[key] = total
        for key, parts in whole.items():
            text = "".join(parts[i] for i in sorted(parts))
            texts.append(text if len(parts) == totals[key] else f"[incomplete] {text}")
        return texts

    def drop_all_connections(self) -> None:
        for conn in list(self._conns):
            self._close(conn)

    # --- protocol -----------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, _addr = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _close(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)
        conn.close()
        if conn in self._conns:
            self._conns.remove(conn)

    @staticmethod
    def _recv_exact(conn: socket.socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("peer closed")
            buf += chunk
        return buf

    def _serve(self, conn: socket.socket) -> None:
        seq = _Seq()
        send_lock = threading.Lock()
        bound = False

        def send(pdu) -> None:
            with send_lock:
                conn.sendall(pdu if isinstance(pdu, bytes) else pdu.generate())

        try:
            while not self._stopping.is_set():
                head = self._recv_exact(conn, 4)
                (length,) = struct.unpack(">L", head)
                data = head + self._recv_exact(conn, length - 4)
                command_id, _status, sequence = struct.unpack(">LLL", data[4:16])
                if command_id == SUBMIT_SM and bound:
                    # Parsed by hand: the SMSC must not be the bottleneck of the benchmark.
                    self._on_submit(_parse_submit(data, sequence), send)
                    continue
                req = smpp.parse_pdu(data, client=seq, allow_unknown_opt_params=True)
                cmd = req.command
                if cmd in ("bind_transceiver", "bind_receiver"):
                    status = consts.SMPP_ESME_RBINDFAIL if self.refuse_bind else 0
                    resp = smpp.make_pdu(
                        f"{cmd}_resp", client=seq, status=status, system_id="testsmsc"
                    )
                    resp.sequence = req.sequence
                    if status:
                        send(resp)
                        break
                    bound = True
                    # Registered before the answer: once the client is bound, it gets messages.
                    with self._lock:
                        self.binds += 1
                        self._senders.append(send)
                        if cmd == "bind_receiver":
                            self.receiver_binds += 1
                            self._receivers.append(send)
                    send(resp)
                elif cmd == "enquire_link":
                    with self._lock:
                        self.enquire_links += 1
                    resp = smpp.make_pdu("enquire_link_resp", client=seq)
                    resp.sequence = req.sequence
                    send(resp)
                elif cmd == "unbind":
                    resp = smpp.make_pdu("unbind_resp", client=seq)
                    resp.sequence = req.sequence
                    send(resp)
                    break
                elif cmd == "deliver_sm_resp":
                    with self._lock:
                        self.deliver_resps.append(req.status)
                elif cmd in ("enquire_link_resp", "generic_nack"):
                    continue
                else:
                    resp = smpp.make_pdu("generic_nack", client=seq, status=3)
                    resp.sequence = req.sequence
                    send(resp)
        except (ConnectionError, OSError, struct.error):
            pass
        finally:
            self._close(conn)

    def _on_submit(self, req: dict, send) -> None:
        with self._lock:
            number = len(self.submits) + 1
            drop = self.drop_on_submit is not None and number == self.drop_on_submit
            status = 0
            if not drop and self.refuse_count > 0:
                self.refuse_count -= 1
                status = self.refuse_status
            body = req["short_message"]
            if not drop and not status and req["esm_class"] & 0x40 and self.refuse_parts:
                index = body[body[0]]  # the UDH's last octet: this part's number
                refusal, times = self.refuse_parts.get(index, (0, 0))
                if times > 0:
                    self.refuse_parts[index] = (refusal, times - 1)
                    status = refusal
            if not drop and not status and self.refuse_every and number % self.refuse_every == 0:
                status = self.refuse_every_status
            if not drop and not status and self.max_rate:
                now = time.monotonic()
                self._recent = [t for t in self._recent if now - t < 1.0]
                if len(self._recent) >= self.max_rate:
                    status = 0x58  # ESME_RTHROTTLED
                    self.throttled += 1
                else:
                    self._recent.append(now)
            message_id = "" if drop or status else f"M{next(self._ids):08d}"
            self.submits.append(
                Submit(
                    destination=req["destination_addr"].decode(),
                    short_message=req["short_message"],
                    data_coding=req["data_coding"],
                    esm_class=req["esm_class"],
                    message_id=message_id,
                    status=-1 if drop else status,
                )
            )
        if drop:
            raise ConnectionError("dropping the connection as told")
        if self.delay:
            time.sleep(self.delay)
        send(_pdu(SUBMIT_SM_RESP, status, req["sequence"], message_id.encode() + b"\0"))
        if status or not (req["registered_delivery"] & 1) or not self.receipts:
            return
        stamp = time.strftime("%y%m%d%H%M")
        text = f"id:{message_id} sub:001 dlvrd:001 submit date:{stamp} done date:{stamp} "
        text += "stat:DELIVRD err:000 text:"
        mid = message_id.encode() + b"\0"
        body = (
            b"\0"  # service_type
            + bytes([1, 1]) + req["destination_addr"] + b"\0"  # source: the subscriber
            + bytes([5, 0]) + req["source_addr"] + b"\0"  # destination: our sender name
            + bytes([0x04, 0, 0]) + b"\0\0"  # esm_class = receipt, protocol, priority, times
            + bytes([0, 0, 0, 0, len(text)]) + text.encode()
            + struct.pack(">HH", 0x001E, len(mid)) + mid  # receipted_message_id
            + struct.pack(">HHB", 0x0427, 1, 2)  # message_state = DELIVERED
        )  # fmt: skip
        with self._lock:
            self._out_seq += 1
            self.receipts_sent += 1
            out_seq = self._out_seq
            # A receiver bind, when one is open, gets the receipts (as real SMSCs route them).
            target = self._receivers[-1] if self._receivers else send
        try:
            target(_pdu(DELIVER_SM, 0, out_seq, body))
        except OSError:
            with self._lock:
                if target in self._receivers:
                    self._receivers.remove(target)
            send(_pdu(DELIVER_SM, 0, out_seq, body))


def _mo_body(text: str, source: str, ton: int, npi: int) -> bytes:
    """A deliver_sm from a subscriber's handset: UCS-2 text, the sender as the network gave it."""
    short = text.encode("utf-16-be")
    return (
        b"\0"  # service_type
        + bytes([ton, npi]) + source.encode() + b"\0"
        + bytes([1, 1]) + b"611\0"  # destination: our short number
        + bytes([0, 0, 0]) + b"\0\0"  # esm_class (a plain message), protocol, priority, times
        + bytes([0, 0, 8, 0, len(short)]) + short  # registered, replace, data_coding 8, default
    )  # fmt: skip


SUBMIT_SM, SUBMIT_SM_RESP, DELIVER_SM = 0x00000004, 0x80000004, 0x00000005


def _pdu(command_id: int, status: int, sequence: int, body: bytes) -> bytes:
    return struct.pack(">LLLL", 16 + len(body), command_id, status, sequence) + body


def _parse_submit(data: bytes, sequence: int) -> dict:
    pos = 16

    def cstr() -> bytes:
        nonlocal pos
        end = data.index(b"\0", pos)
        value, pos = data[pos:end], end + 1
        return value

    def byte() -> int:
        nonlocal pos
        pos += 1
        return data[pos - 1]

    req: dict = {"sequence": sequence}
    cstr()  # service_type
    byte(), byte()
    req["source_addr"] = cstr()
    byte(), byte()
    req["destination_addr"] = cstr()
    req["esm_class"] = byte()
    byte(), byte()  # protocol_id, priority_flag
    cstr(), cstr()  # schedule_delivery_time, validity_period
    req["registered_delivery"] = byte()
    byte()  # replace_if_present_flag
    req["data_coding"] = byte()
    byte()  # sm_default_msg_id
    length = byte()
    req["short_message"] = data[pos : pos + length]
    return req


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=2775)
    args = parser.parse_args()
    smsc = SmscServer(port=args.port).start()
    print(f"test SMSC on 127.0.0.1:{smsc.port}", flush=True)
    try:
        while True:
            time.sleep(5)
            print(f"submits={len(smsc.submits)} accepted={len(smsc.accepted())}", flush=True)
    except KeyboardInterrupt:
        smsc.stop()


if __name__ == "__main__":
    main()
