"""A python-socketio client driven over stdin/stdout by test/python-client.test.ts.

Usage: client.py URL NAMESPACE TRANSPORT [EVENT ...]
  URL        server URL, with an optional query (e.g. http://127.0.0.1:3000?recoveryOffsets=0)
  TRANSPORT  websocket or polling (the only transport the client may use)
  EVENT      server events to listen to, each with an ordinary one-argument handler

Every line on stdin is a JSON command: {"emit": EVENT, "data": ANY, "id": N} emits EVENT with one
argument and an ack callback; {"close": true} disconnects and exits. Every line on stdout is a JSON
object: {"connected": TRANSPORT}, {"on": EVENT, "data": ANY}, {"ack": N, "args": [...]},
{"disconnected": true}, {"log": MESSAGE} for an error logged by python-socketio or
python-engineio (a handler that raised, a payload refused, a dropped connection), and
{"wire": PACKET} for every socket.io EVENT packet as it came off the connection.

python-engineio 4.3 runs each message's handler in a thread of its own, so handlers may run out of
the order the packets arrived in: the "wire" lines (from the connection's read loop) show that order.
"""
import json
import logging
import sys
import threading

import socketio

lock = threading.Lock()


def out(obj):
    with lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


class Report(logging.Handler):
    def emit(self, record):
        text = record.getMessage()
        if record.exc_info:
            text += ": " + repr(record.exc_info[1])
        out({"log": text})


def quiet_logger(name):
    logger = logging.getLogger(name)
    logger.setLevel(logging.ERROR)
    logger.propagate = False
    logger.addHandler(Report())
    return logger


def main():
    url, namespace, transport = sys.argv[1:4]
    events = sys.argv[4:]
    sio = socketio.Client(reconnection=False, logger=quiet_logger("sio"), engineio_logger=quiet_logger("eio"))

    def listener(name):
        def handler(data):  # one argument, as an application writes it
            out({"on": name, "data": data})
        return handler

    receive = sio.eio._receive_packet  # the read loop's per-packet step, in arrival order

    def record(pkt):
        if isinstance(pkt.data, str) and pkt.data.startswith("2"):
            out({"wire": pkt.data})
        return receive(pkt)

    sio.eio._receive_packet = record

    for name in events:
        sio.on(name, listener(name), namespace=namespace)
    sio.on("disconnect", lambda: out({"disconnected": True}), namespace=namespace)

    sio.connect(url, transports=[transport], namespaces=[namespace], wait_timeout=5)
    out({"connected": sio.transport()})

    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd.get("close"):
            break
        ack_id = cmd["id"]
        sio.emit(cmd["emit"], cmd.get("data"), namespace=namespace,
                 callback=lambda *args, ack_id=ack_id: out({"ack": ack_id, "args": list(args)}))
    sio.disconnect()


if __name__ == "__main__":
    main()
