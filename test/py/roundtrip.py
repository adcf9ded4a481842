"""kafka-python (its own protocol implementation, Debian's python3-kafka) against a
chronik-node: admin, acks=all produce with every codec it has with keys and headers, a consumer
group that commits and resumes, and offset lookups by time. Prints one JSON line with
what it saw; the Go test (test/kafkapython_test.go) judges it. Exits non-zero, with the
reason on stderr, when a client call fails."""

import json
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

addr, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
PARTITIONS, PER_CODEC = 3, 500

admin = KafkaAdminClient(bootstrap_servers=addr, client_id="kafka-python-admin")
admin.create_topics([NewTopic(name=topic, num_partitions=PARTITIONS, replication_factor=1)])
admin.close()

produced = {}  # key -> (value, headers, partition, offset)
start_ms = int(time.time() * 1000)
# gzip is in the standard library; the other codecs need Debian's python3-snappy,
# python3-lz4 and python3-zstandard, and are skipped (and reported) without them.
# kafka-python frames snappy the Java client's way (xerial).
codecs, missing = [None, "gzip"], []
for codec, module in (("snappy", "snappy"), ("lz4", "lz4.frame"), ("zstd", "zstandard")):
    try:
        __import__(module)
        codecs.append(codec)
    except ImportError:
        missing.append(codec)


def produce(to, codec, record):
    producer = KafkaProducer(bootstrap_servers=addr, acks="all", compression_type=codec, linger_ms=5)
    futures = []
    for i in range(PER_CODEC):
        key = ("%s-%d" % (codec or "none", i)).encode()
        value = ("value of %s" % key.decode()).encode() * 3
        headers = [("i", str(i).encode()), ("codec", (codec or "none").encode())]
        futures.append((key, value, headers, producer.send(to, key=key, value=value, headers=headers)))
    producer.flush()
    for key, value, headers, f in futures:
        md = f.get(timeout=30)
        record(key, value, headers, md)
    producer.close()


# kafka-python 2.0.2 produces zstd with Produce v7 but always fetches with Fetch v4: it
# reads zstd batches because the topic's compression.type is "producer" (Kafka refuses
# Fetch below v10 only for topics whose compression.type is zstd).
for codec in codecs:
    def record(key, value, headers, md):
        produced[key] = (value, headers, md.partition, md.offset)
    produce(topic, codec, record)


def consume(expect, timeout_s=60):
    consumer = KafkaConsumer(topic, bootstrap_servers=addr, group_id=group,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=1000)
    seen = []
    deadline = time.time() + timeout_s
    while len(seen) < expect and time.time() < deadline:
        for msg in consumer:
            seen.append(msg)
            if len(seen) >= expect:
                break
    consumer.commit()
    consumer.close()
    return seen


seen = consume(len(produced))
mismatched = 0
for m in seen:
    want = produced.get(m.key)
    if want is None or want[0] != m.value or list(want[1]) != list(m.headers) or (want[2], want[3]) != (m.partition, m.offset):
        mismatched += 1
distinct = len({m.key for m in seen})

# The group committed: a new consumer in it gets only what is produced after.
producer = KafkaProducer(bootstrap_servers=addr, acks="all")
producer.send(topic, key=b"after-commit", value=b"late", partition=0).get(timeout=30)
producer.close()
resumed = [m.key.decode() for m in consume(1, timeout_s=30)]

# Offsets by time, beginning and end offsets.
lookup = KafkaConsumer(bootstrap_servers=addr)
tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
by_time = lookup.offsets_for_times({tp: start_ms for tp in tps})
first_by_time = sum(1 for tp in tps if by_time[tp] is not None and by_time[tp].offset == 0)
ends = lookup.end_offsets(tps)
begins = lookup.beginning_offsets(tps)
lookup.close()

print(json.dumps({
    "codecs": [c or "none" for c in codecs], "missing_codecs": missing,
    "produced": len(produced), "consumed": len(seen), "distinct": distinct, "mismatched": mismatched,
    "resumed": resumed, "first_by_time": first_by_time,
    "end_total": sum(ends.values()), "begin_total": sum(begins.values()),
}))
