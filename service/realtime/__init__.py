"""Real-time: the multiplexed WebSocket at /ws/ and the fan-out behind it.

publisher.py  events → Redis, after commit, never blocking a request
hub.py        one Redis subscription per process → every local session, in id order
session.py    one WebSocket session: its send buffer and subscriptions
ws.py         the /ws/ handler: handshake, frames → the same actions as HTTP
"""
