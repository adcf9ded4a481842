"""kafka-python's admin client (old versions of the admin APIs: CreateTopics v3,
DescribeConfigs v2, AlterConfigs v1, CreatePartitions v1, ListGroups, DescribeGroups,
OffsetFetch, DeleteGroups, DeleteTopics v3) against a chronik-node. Prints one JSON line
of what it saw; test/kafkapython_test.go judges it."""

import json
import sys

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic

addr, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
admin = KafkaAdminClient(bootstrap_servers=addr, client_id="kafka-python-admin")
out = {}

created = admin.create_topics([NewTopic(topic, 2, 1, topic_configs={"retention.ms": "3600000"})])
out["create_errors"] = [e[1] for e in created.topic_errors]
out["listed"] = topic in admin.list_topics()


def topic_config(name):
    resp = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])[0]
    for entry in resp.resources[0][4]:
        if entry[0] == name:
            return entry[1]
    return None


out["retention_at_create"] = topic_config("retention.ms")
altered = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": "7200000"})])
out["alter_errors"] = [r[0] for r in altered.resources]
out["retention_after_alter"] = topic_config("retention.ms")

grown = admin.create_partitions({topic: NewPartitions(4)})
out["create_partitions_errors"] = [e[1] for e in grown.topic_errors]
out["partitions"] = len(admin.describe_topics([topic])[0]["partitions"])

producer = KafkaProducer(bootstrap_servers=addr, acks="all")
for p in range(4):
    for _ in range(p + 1):
        producer.send(topic, b"x", partition=p)
producer.flush()
producer.close()

consumer = KafkaConsumer(topic, bootstrap_servers=addr, group_id=group, auto_offset_reset="earliest",
                         enable_auto_commit=False, consumer_timeout_ms=3000)
out["consumed"] = sum(1 for _ in consumer)
consumer.commit()
out["groups"] = [g[0] for g in admin.list_consumer_groups()]
described = admin.describe_consumer_groups([group])[0]
out["group_state"], out["group_members"] = described.state, len(described.members)
consumer.close()
offsets = admin.list_consumer_group_offsets(group)
out["committed"] = sorted(o.offset for o in offsets.values())
out["delete_group"] = [str(e[1].__name__) for e in admin.delete_consumer_groups([group])]
deleted = admin.delete_topics([topic])
out["delete_topic_errors"] = [e[1] for e in deleted.topic_error_codes]
out["listed_after_delete"] = topic in admin.list_topics()
admin.close()
print(json.dumps(out))
