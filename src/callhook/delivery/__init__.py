"""Delivery: accepting events into the outbox, and sending it to the subscribers.

accept.Accepter     events -> routed, encoded, durable (group commit)
dispatcher.Dispatcher  fed by the store (new heads, successors), claims the rest; encodes
                    at send time, sends, applies the retry policy
sender.HttpSender   the HTTP client (aiohttp), its errors as sender.SendError
endpoints.Endpoints per-endpoint concurrency limit and circuit breaker
"""
