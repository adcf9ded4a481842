"""librdkafka's admin API for consumer groups and DeleteRecords (through ctypes, see
rdkafka_admin.py) against a chronik-node: a live group (one subscribed member) and a simple
one (offsets committed without membership); ListConsumerGroups with and without a state
filter, DescribeConsumerGroups, ListConsumerGroupOffsets, AlterConsumerGroupOffsets and
DeleteConsumerGroupOffsets (refused for the live group, as Kafka refuses them),
DeleteRecords, DeleteGroups. Prints one JSON line; the Go test judges it."""

import json
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import rdkafka_admin

addr, topic = sys.argv[1], sys.argv[2]
if not rdkafka_admin.AVAILABLE:
    print(json.dumps({"skip": "librdkafka %s lacks the consumer-group admin API" % __import__("confluent_kafka").libversion()[0]}))
    sys.exit(0)
live, simple, missing = topic + "-live", topic + "-simple", topic + "-missing"
STABLE, DEAD, EMPTY = 3, 4, 5  # rd_kafka_consumer_group_state_t
out = {}

admin = AdminClient({"bootstrap.servers": addr})
for f in admin.create_topics([NewTopic(topic, 2, 1)], operation_timeout=10).values():
    f.result()
producer = Producer({"bootstrap.servers": addr})
producer.list_topics(topic, timeout=10)
for i in range(20):
    producer.produce(topic, value=b"x", partition=i % 2)
if producer.flush(10) != 0:
    raise SystemExit("produce: undelivered")

member = Consumer({"bootstrap.servers": addr, "group.id": live, "heartbeat.interval.ms": 100})
member.subscribe([topic])
deadline = time.time() + 15
while len(member.assignment()) < 2 and time.time() < deadline:
    member.poll(0.05)
member.commit(offsets=[TopicPartition(topic, 0, 3), TopicPartition(topic, 1, 4)], asynchronous=False)
committer = Consumer({"bootstrap.servers": addr, "group.id": simple})
committer.commit(offsets=[TopicPartition(topic, 0, 5)], asynchronous=False)
committer.close()

ad = rdkafka_admin.Admin(addr)
out["list"] = ad.list_groups()
out["list_stable"] = ad.list_groups([STABLE])
out["list_empty"] = ad.list_groups([EMPTY])
out["describe"] = ad.describe_groups([live, simple, missing])
for g in out["describe"].get("groups", []):
    for m in g["members"]:
        m["consumer_id"] = m["consumer_id"].startswith("rdkafka-")  # the member id the broker made up
out["offsets"] = ad.list_offsets(live)
out["offsets_named"] = ad.list_offsets(live, [(topic, 1, -1), (topic, 5, -1)])
out["alter_live"] = ad.alter_offsets(live, [(topic, 0, 1)])
out["alter_simple"] = ad.alter_offsets(simple, [(topic, 0, 1), (topic, 1, 2)])
out["offsets_simple_altered"] = ad.list_offsets(simple)
out["delete_offsets_live"] = ad.delete_offsets(live, [(topic, 0, -1)])
out["delete_offsets_simple"] = ad.delete_offsets(simple, [(topic, 0, -1)])
out["offsets_simple_after_delete"] = ad.list_offsets(simple)
out["delete_records"] = ad.delete_records([(topic, 0, 4), (topic, 1, -1)])  # -1: up to the high watermark
out["watermarks"] = [list(member.get_watermark_offsets(TopicPartition(topic, p), timeout=10)) for p in (0, 1)]
out["delete_records_beyond_end"] = ad.delete_records([(topic, 0, 100)])
out["delete_groups"] = ad.delete_groups([live, simple, missing])
member.close()
out["delete_live_after_close"] = ad.delete_groups([live])
out["list_after"] = ad.list_groups()
print(json.dumps(out, separators=(",", ":")))  # compact: the Go test compares the JSON text
