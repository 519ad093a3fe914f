"""A plain WebSocket client of /sock in Python (websocket-client, no socket.io): subscribes to a
topic, publishes once subscribed, sends a bad frame once its own message came back, and prints
every frame it received as one JSON line. Usage: sock_client.py ws://host:port/sock?name=py topic"""
import json
import sys

import websocket

url, topic = sys.argv[1], sys.argv[2]
ws = websocket.create_connection(url, timeout=10)
me = None
try:
    while True:
        frame = json.loads(ws.recv())
        print(json.dumps(frame), flush=True)
        action = frame["action"]
        if action == "connected":
            me = frame["payload"]["connectionId"]
            ws.send(json.dumps({"action": "subscribe", "topic": topic}))
        elif action == "subscribe-topic" and frame["sender"] == me:
            ws.send(json.dumps({"action": "py-message", "topic": topic, "payload": {"text": "grüße ✓"}}))
        elif action == "py-message" and frame["sender"] == me:
            ws.send("{not json")
        elif action == "error":
            break
finally:
    ws.close()
