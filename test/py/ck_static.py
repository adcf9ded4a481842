"""confluent-kafka-python static group membership (group.instance.id) against a
chronik-node: two static members split a topic; one closes (a static member's close does
not leave the group) and comes back under the same instance id before its session times
out: it gets its partition back and the other member sees no rebalance. Then a second
process starts with an instance id that is in use: the member it replaces is fenced with a
fatal error. Prints one JSON line; the Go test judges it."""

import json
import sys
import time

from confluent_kafka import Consumer, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

addr, topic = sys.argv[1], sys.argv[2]
group = topic + "-static"
out = {}

admin = AdminClient({"bootstrap.servers": addr})
for f in admin.create_topics([NewTopic(topic, 2, 1)], operation_timeout=10).values():
    f.result()

events, errors = [], {}


def member(name, instance):
    c = Consumer({"bootstrap.servers": addr, "group.id": group, "group.instance.id": instance,
                  "session.timeout.ms": 10000, "heartbeat.interval.ms": 100})
    c.subscribe([topic],
                on_assign=lambda c, parts: events.append([name, "assign", sorted(p.partition for p in parts)]),
                on_revoke=lambda c, parts: events.append([name, "revoke", sorted(p.partition for p in parts)]))
    errors[name] = []
    return c


def pump(members, cond, timeout=15):
    deadline = time.time() + timeout
    while not cond() and time.time() < deadline:
        for name, c in members:
            try:
                m = c.poll(0.02)
            except KafkaException as e:
                errors[name].append([e.args[0].name(), e.args[0].fatal()])
                continue
            if m is not None and m.error():
                errors[name].append([m.error().name(), m.error().fatal(), m.error().str()])
    return cond()


def owned(c):
    return sorted(p.partition for p in c.assignment())


a, b = member("a", "instance-a"), member("b", "instance-b")
out["split"] = pump([("a", a), ("b", b)], lambda: len(owned(a)) == 1 and len(owned(b)) == 1)
a_owned, b_owned = owned(a), owned(b)
a.close()
mark = len(events)
a = member("a-again", "instance-a")
out["same_partition_back"] = pump([("a-again", a), ("b", b)], lambda: owned(a) == a_owned)
# Had the return started a rebalance, b would have had to give up its partition (range
# is eager) and rejoin before a could be assigned anything: its revoke would be here.
out["events_after_return"] = events[mark:]
out["b_kept"] = owned(b) == b_owned

# A second process with instance-b: the broker hands it b's place and fences b.
b2 = member("b-duplicate", "instance-b")
out["duplicate_took_over"] = pump([("a-again", a), ("b", b), ("b-duplicate", b2)],
                                  lambda: owned(b2) == b_owned and bool(errors["b"]))
out["fenced_errors"] = errors["b"][:3]
a.close()
b2.close()
print(json.dumps(out))
