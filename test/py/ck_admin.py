"""confluent-kafka-python's AdminClient (librdkafka 2.0.2 through binding 1.7, which has
no incremental_alter_configs, describe_consumer_groups, consumer-group offset APIs or
delete_records) against a chronik-node: create_topics with configs and validate_only,
errors for a duplicate and a bad config, create_partitions, describe_configs of a topic
and the broker, alter_configs (which replaces a topic's whole config set, as in Kafka),
list_groups with a live member, delete_topics. Prints one JSON line; the Go test judges it."""

import json
import sys
import time

from confluent_kafka import Consumer, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

addr, topic = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": addr})
out = {}


def results(futures):
    """Each future's outcome: None for success, else the error's name."""
    got = {}
    for key, f in futures.items():
        try:
            f.result()
            got[str(key)] = None
        except KafkaException as e:
            got[str(key)] = e.args[0].name()
    return got


def listed():
    return topic in admin.list_topics(timeout=10).topics


def partitions():
    return len(admin.list_topics(topic, timeout=10).topics[topic].partitions)


def topic_configs():
    entries = admin.describe_configs([ConfigResource("topic", topic)])
    configs = list(entries.values())[0].result()
    return {name: [e.value, e.source, e.is_default] for name, e in configs.items()
            if name in ("retention.ms", "cleanup.policy", "segment.bytes")}


configs = {"retention.ms": "3600000", "cleanup.policy": "delete"}
out["validate_only"] = results(admin.create_topics([NewTopic(topic, 2, 1, config=configs)], validate_only=True))
out["listed_after_validate"] = listed()
out["create"] = results(admin.create_topics([NewTopic(topic, 2, 1, config=configs)], operation_timeout=10))
out["listed"] = listed()
out["create_again"] = results(admin.create_topics([NewTopic(topic, 2, 1)]))
out["create_bad_config"] = results(admin.create_topics([NewTopic(topic + "-bad", 1, 1, config={"no.such.config": "1"})]))
out["create_bad_replication"] = results(admin.create_topics([NewTopic(topic + "-rf", 1, 3)]))

out["grow_validate_only"] = results(admin.create_partitions([NewPartitions(topic, 4)], validate_only=True))
out["partitions_after_validate"] = partitions()
out["grow"] = results(admin.create_partitions([NewPartitions(topic, 4)]))
out["shrink"] = results(admin.create_partitions([NewPartitions(topic, 3)]))
out["partitions"] = partitions()

out["configs_at_create"] = topic_configs()
broker = list(admin.describe_configs([ConfigResource("broker", "1")]).values())[0].result()
out["broker_config_count"] = len(broker)
out["alter_validate_only"] = results(admin.alter_configs([ConfigResource("topic", topic, set_config={"retention.ms": "7200000"})], validate_only=True))
out["configs_after_validate"] = topic_configs()
out["alter"] = results(admin.alter_configs([ConfigResource("topic", topic, set_config={"retention.ms": "7200000"})]))
out["configs_after_alter"] = topic_configs()
out["alter_bad_value"] = results(admin.alter_configs([ConfigResource("topic", topic, set_config={"retention.ms": "soon"})]))
out["alter_missing_topic"] = results(admin.alter_configs([ConfigResource("topic", topic + "-missing", set_config={"retention.ms": "1"})]))

# list_groups (ListGroups and DescribeGroups) with one member in the group.
group = topic + "-group"
consumer = Consumer({"bootstrap.servers": addr, "group.id": group, "heartbeat.interval.ms": 100})
consumer.subscribe([topic])
deadline = time.time() + 15
while not consumer.assignment() and time.time() < deadline:
    consumer.poll(0.05)
described = admin.list_groups(group, timeout=10)
out["group"] = [{"id": g.id, "state": g.state, "protocol_type": g.protocol_type, "protocol": g.protocol,
                 "members": [[m.client_id, m.client_host, len(m.metadata) > 0, len(m.assignment) > 0] for m in g.members]}
                for g in described]
out["group_listed"] = group in [g.id for g in admin.list_groups(timeout=10)]
consumer.close()
out["group_after_close"] = [[g.state, len(g.members)] for g in admin.list_groups(group, timeout=10)]

out["delete"] = results(admin.delete_topics([topic, topic + "-missing"], operation_timeout=10))
out["listed_after_delete"] = listed()
print(json.dumps(out))
