"""confluent-kafka-python (librdkafka's Python binding, Debian's python3-confluent-kafka)
against a chronik-node: idempotent acks=all producers with every codec, keys and headers,
read back through assign(); a LogAppendTime topic; offsets_for_times,
get_watermark_offsets, seek, position and list_topics. Prints one JSON line with what it
saw; the Go test (test/confluentkafka_test.go) judges it. Exits non-zero, with the reason
on stderr, when a client call fails."""

import json
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

addr, topic = sys.argv[1], sys.argv[2]
PARTITIONS, PER_CODEC = 3, 200
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
lat_topic, time_topic = topic + "-logappend", topic + "-bytime"
out = {}

admin = AdminClient({"bootstrap.servers": addr})
for f in admin.create_topics([
    NewTopic(topic, PARTITIONS, 1),
    NewTopic(lat_topic, 1, 1, config={"message.timestamp.type": "LogAppendTime"}),
    NewTopic(time_topic, 2, 1),
], operation_timeout=10).values():
    f.result()

# Delivery reports, in the order librdkafka serves them. Each record's key names it; its
# headers are kept here because the binding's delivery report does not carry them.
produced, failures, sent_order = {}, [], {}
for codec in CODECS:
    producer = Producer({"bootstrap.servers": addr, "enable.idempotence": True, "acks": "all",
                         "compression.codec": codec, "linger.ms": 5})
    # Metadata first: a new client otherwise learns a topic's leaders only on its next
    # one-second metadata tick.
    producer.list_topics(topic, timeout=10)

    def report(err, msg):
        if err is not None:
            failures.append("%s: %s" % (msg.key(), err))
            return
        produced[msg.key()] = (msg.value(), msg.partition(), msg.offset())

    for i in range(PER_CODEC):
        key = ("%s-%d" % (codec, i)).encode()
        headers = [("i", str(i).encode()), ("codec", codec.encode())]
        sent_order.setdefault(None, []).append((key, headers))
        producer.produce(topic, key=key, value=key * (1 + i % 7), headers=headers, on_delivery=report)
        producer.poll(0)
    if producer.flush(30) != 0:
        failures.append("%s: flush left messages undelivered" % codec)
out["delivered"], out["failures"] = len(produced), failures[:5]

# Each partition's offsets follow the order the records were produced in (the idempotent
# producer keeps it across its in-flight requests).
by_partition = {}
for key, _ in sent_order[None]:
    if key in produced:
        by_partition.setdefault(produced[key][1], []).append(produced[key][2])
out["offsets_in_send_order"] = all(offs == list(range(len(offs))) for offs in by_partition.values())

headers_of = dict(sent_order[None])
consumer = Consumer({"bootstrap.servers": addr, "group.id": topic + "-reader", "enable.auto.commit": False})
consumer.list_topics(timeout=10)  # every topic's leaders, for each assign() below
consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
seen, mismatched, last = 0, 0, {}
out_of_order = 0
deadline = time.time() + 30
while seen < len(produced) and time.time() < deadline:
    m = consumer.poll(0.2)
    if m is None:
        continue
    if m.error():
        raise SystemExit("consume: %s" % m.error())
    seen += 1
    if m.offset() != last.get(m.partition(), -1) + 1:
        out_of_order += 1
    last[m.partition()] = m.offset()
    want = produced.get(m.key())
    if want != (m.value(), m.partition(), m.offset()) or m.headers() != headers_of.get(m.key()):
        mismatched += 1
out.update(consumed=seen, mismatched=mismatched, out_of_order=out_of_order)

# A LogAppendTime topic: the broker's time replaces the producer's, in the delivery report
# and for consumers.
lat = {}
producer = Producer({"bootstrap.servers": addr, "enable.idempotence": True})
producer.list_topics(lat_topic, timeout=10)
producer.list_topics(time_topic, timeout=10)
before = int(time.time() * 1000)
producer.produce(lat_topic, value=b"stamped", timestamp=1000,
                 on_delivery=lambda err, msg: lat.update(report=(str(err) if err else None, msg.timestamp())))
producer.flush(10)
consumer.assign([TopicPartition(lat_topic, 0, 0)])
deadline = time.time() + 10
while "consumed" not in lat and time.time() < deadline:
    m = consumer.poll(0.2)
    if m is not None and not m.error():
        lat["consumed"] = m.timestamp()
after = int(time.time() * 1000)
out["log_append_time"] = {
    "report_error": lat.get("report", ("no report",))[0],
    "report_is_broker_time": lat.get("report", (None, (0, 0)))[1][0] == 2 and before <= lat["report"][1][1] <= after,
    "consumed_same": lat.get("consumed") == lat.get("report", (None, None))[1],
}

# Lookups by time, the log's ends, seek and position, on a partition of ten records one
# second apart in one batch, and an empty partition.
t0 = int(time.time() * 1000) - 60000
for i in range(10):
    producer.produce(time_topic, value=str(i).encode(), partition=0, timestamp=t0 + i * 1000)
producer.flush(10)
# A consumer with nothing assigned: librdkafka sends these on the connection a fetching
# consumer keeps busy with long polls, which the broker answers in order, as Kafka does.
lookup = Consumer({"bootstrap.servers": addr, "group.id": topic + "-lookup"})
found = {}
for name, tp in (("before_first", TopicPartition(time_topic, 0, t0 - 5000)),
                 ("between_3_and_4", TopicPartition(time_topic, 0, t0 + 3500)),
                 ("exactly_9", TopicPartition(time_topic, 0, t0 + 9000)),
                 ("after_last", TopicPartition(time_topic, 0, t0 + 9001)),
                 ("empty_partition", TopicPartition(time_topic, 1, t0))):
    r = lookup.offsets_for_times([tp], timeout=10)[0]
    if r.error:
        raise SystemExit("offsets_for_times %s: %s" % (name, r.error))
    found[name] = r.offset
out["offsets_for_times"] = found
out["watermarks"] = [list(lookup.get_watermark_offsets(TopicPartition(time_topic, p), timeout=10)) for p in (0, 1)]

consumer.assign([TopicPartition(time_topic, 0, 0)])
read = []
deadline = time.time() + 10
while not read and time.time() < deadline:
    m = consumer.poll(0.2)
    if m is not None and not m.error():
        read.append(m.offset())
consumer.seek(TopicPartition(time_topic, 0, 7))
while len(read) < 2 and time.time() < deadline:
    m = consumer.poll(0.2)
    if m is not None and not m.error():
        read.append((m.offset(), m.value().decode(), m.timestamp()[1] - t0))
out["seek"] = read
out["position"] = consumer.position([TopicPartition(time_topic, 0)])[0].offset
consumer.close()
lookup.close()

md = admin.list_topics(timeout=10)
out["list_topics"] = {
    "partitions": {t: len(md.topics[t].partitions) for t in (topic, lat_topic, time_topic) if t in md.topics},
    "brokers": ["%s:%d" % (b.host, b.port) for b in md.brokers.values()],
    "controller_is_a_broker": md.controller_id in md.brokers,
    "leaders_known": all(p.leader in md.brokers and p.error is None for p in md.topics[topic].partitions.values()),
}
print(json.dumps(out))
