"""confluent-kafka-python consumer groups through librdkafka's own group code, against a
chronik-node, with the assignment strategy given (range: eager rebalances;
cooperative-sticky: incremental ones). Two members split a topic and read it; one commits
synchronously, the other asynchronously; committed() and position(); the first leaves and
the second takes over its partitions; after both close, a third member resumes from the
committed offsets. Prints one JSON line; the Go test judges it."""

import json
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

addr, topic, strategy = sys.argv[1], sys.argv[2], sys.argv[3]
group = topic + "-group"
PARTITIONS, PER_PARTITION = 4, 100
out = {}

admin = AdminClient({"bootstrap.servers": addr})  # kept: futures fail once it is collected
for f in admin.create_topics([NewTopic(topic, PARTITIONS, 1)], operation_timeout=10).values():
    f.result()
producer = Producer({"bootstrap.servers": addr, "enable.idempotence": True})


def produce(n, value):
    for i in range(n):
        producer.produce(topic, value=value, partition=i % PARTITIONS)
    if producer.flush(10) != 0:
        raise SystemExit("produce: undelivered")


events, commits = [], []
seen = {}


def member(name):
    c = Consumer({"bootstrap.servers": addr, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "partition.assignment.strategy": strategy,
                  "heartbeat.interval.ms": 100, "session.timeout.ms": 6000,
                  "on_commit": lambda err, parts: commits.append(
                      (name, str(err) if err else None, sorted((p.partition, p.offset, str(p.error) if p.error else None) for p in parts)))})
    c.subscribe([topic],
                on_assign=lambda c, parts: events.append([name, "assign", sorted(p.partition for p in parts)]),
                on_revoke=lambda c, parts: events.append([name, "revoke", sorted(p.partition for p in parts)]))
    seen[name] = []
    return c


def pump(members, cond, timeout=20):
    """Polls every member (the group needs all of them polling to rebalance) until cond
    holds or the deadline passes; returns whether it held."""
    deadline = time.time() + timeout
    while not cond() and time.time() < deadline:
        for name, c in members:
            m = c.poll(0.02)
            if m is None:
                continue
            if m.error():
                raise SystemExit("%s: %s" % (name, m.error()))
            seen[name].append((m.partition(), m.offset(), m.value().decode()))
    return cond()


def owned(c):
    return sorted(p.partition for p in c.assignment())


def consumed():
    return sum(len(v) for v in seen.values())


c1, c2 = member("c1"), member("c2")
both = [("c1", c1), ("c2", c2)]
out["split"] = pump(both, lambda: owned(c1) and owned(c2) and len(owned(c1)) + len(owned(c2)) == PARTITIONS)
out["owned"] = [owned(c1), owned(c2)]
# Produced once the members have split the topic: had one of them been given everything
# first, it could have read records the other would then read again, without a commit.
produce(PARTITIONS * PER_PARTITION, b"first")
out["read_all"] = pump(both, lambda: consumed() >= PARTITIONS * PER_PARTITION)
records = [(p, o) for v in seen.values() for p, o, _ in v]
out["consumed"], out["distinct"] = len(records), len(set(records))

c1.commit(asynchronous=False)
c2.commit(asynchronous=True)
out["async_commit_reported"] = pump(both, lambda: any(name == "c2" for name, _, _ in commits), 10)
out["commits"] = commits[:]
out["committed"] = sorted((p.partition, p.offset) for c in (c1, c2) for p in c.committed(c.assignment(), timeout=10))
out["position"] = sorted((p.partition, p.offset) for c in (c1, c2) for p in c.position(c.assignment()))

# c1 leaves (close sends LeaveGroup); c2 takes its partitions over and reads what is
# produced to all four.
events_before_leave = len(events)
c1.close()
out["took_over"] = pump([("c2", c2)], lambda: owned(c2) == list(range(PARTITIONS)))
produce(PARTITIONS * 2, b"second")
out["read_after_takeover"] = pump([("c2", c2)], lambda: sum(1 for _, _, v in seen["c2"] if v == "second") >= PARTITIONS * 2)
out["events_after_leave"] = events[events_before_leave:]
c2.commit(asynchronous=False)
c2.close()

# A new member resumes from the committed offsets: it reads only what comes after them.
c3 = member("c3")
out["resumed_assigned"] = pump([("c3", c3)], lambda: owned(c3) == list(range(PARTITIONS)))
produce(PARTITIONS, b"third")
pump([("c3", c3)], lambda: len(seen["c3"]) >= PARTITIONS, 10)
c3.close()
out["resumed"] = sorted(seen["c3"])
out["events"] = events
print(json.dumps(out))
