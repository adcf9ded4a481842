"""A confluent-kafka-python transactional producer (transactional.id) against a
chronik-node, which does not implement transactions: init_transactions() must fail with a
clear, fatal error, fast, instead of retrying until its timeout; an idempotent producer
started afterwards still works. Prints one JSON line; the Go test judges it."""

import json
import sys
import time

from confluent_kafka import KafkaException, Producer

addr, topic = sys.argv[1], sys.argv[2]
TIMEOUT = 30
out = {}

producer = Producer({"bootstrap.servers": addr, "transactional.id": topic + "-txn"})
start = time.time()
try:
    producer.init_transactions(TIMEOUT)
    out["init"] = None
except KafkaException as e:
    err = e.args[0]
    out["init"] = {"name": err.name(), "fatal": err.fatal(), "retriable": err.retriable(), "message": err.str()}
out["init_seconds"] = time.time() - start

# The producer is unusable after a fatal error: begin_transaction() says so at once.
try:
    producer.begin_transaction()
    out["begin"] = None
except KafkaException as e:
    out["begin"] = e.args[0].name()

delivered = []
idempotent = Producer({"bootstrap.servers": addr, "enable.idempotence": True})
idempotent.produce(topic, value=b"after the refusal", on_delivery=lambda err, msg: delivered.append(str(err) if err else None))
idempotent.flush(10)
out["idempotent_after"] = delivered
print(json.dumps(out))
