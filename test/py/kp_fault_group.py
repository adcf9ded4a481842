"""Two kafka-python consumers (its own protocol implementation) in one group,
auto-committing, each polling in its own thread until stdin closes, while the Go test kills and restarts
the node. Prints as they happen: "msg <member> <partition> <offset> <value>", "assign|revoke
<member> <partitions,...>", "error <member> <exception>" for an exception a poll raised,
"lost -" when a member marks its coordinator dead (it stops heartbeating until it finds
the coordinator again).
Then closes both members (which commits and leaves) and prints "done". The Go test
(test/clientfaults_test.go) judges it."""

import logging
import sys
import threading

from kafka import KafkaConsumer
from kafka.consumer.subscription_state import ConsumerRebalanceListener

addr, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
stop = threading.Event()


def watch_stdin():
    sys.stdin.read()
    stop.set()


lock = threading.Lock()


def say(*words):
    with lock:
        sys.stdout.write(" ".join(str(w) for w in words) + "\n")
        sys.stdout.flush()


class SessionWatch(logging.Handler):
    """kafka-python says only in its log that a member lost its coordinator."""

    def emit(self, record):
        if "Marking the coordinator dead" in record.getMessage():
            say("lost", "-")


logging.getLogger("kafka.coordinator").addHandler(SessionWatch(logging.WARNING))


class Listener(ConsumerRebalanceListener):
    def __init__(self, name):
        self.name = name

    def on_partitions_revoked(self, revoked):
        say("revoke", self.name, ",".join(str(p.partition) for p in sorted(revoked)) or "-")

    def on_partitions_assigned(self, assigned):
        say("assign", self.name, ",".join(str(p.partition) for p in sorted(assigned)) or "-")


def member(name):
    c = KafkaConsumer(bootstrap_servers=addr, group_id=group, client_id=name,
                      auto_offset_reset="earliest", enable_auto_commit=True, auto_commit_interval_ms=200,
                      session_timeout_ms=2000, heartbeat_interval_ms=200, fetch_max_wait_ms=100,
                      reconnect_backoff_ms=50, reconnect_backoff_max_ms=500, request_timeout_ms=5000)
    c.subscribe([topic], listener=Listener(name))
    return c


def run(name):
    # Each member polls in its own thread: kafka-python's poll blocks while it joins, and
    # the group waits for every member to rejoin.
    c = member(name)
    while not stop.is_set():
        try:
            batches = c.poll(timeout_ms=50, max_records=200)
        except Exception as e:  # what the application sees
            say("error", name, type(e).__name__)
            continue
        for records in batches.values():
            for m in records:
                say("msg", name, m.partition, m.offset, m.value.decode())
    c.close()


threading.Thread(target=watch_stdin, daemon=True).start()
threads = [threading.Thread(target=run, args=(name,)) for name in ("m1", "m2")]
for t in threads:
    t.start()
for t in threads:
    t.join()
say("done")
