"""Two librdkafka consumers (confluent-kafka-python) in one group, auto-committing with the
assignment strategy given (range by default), polled in turn until stdin closes, while
the Go test kills and restarts the node. Prints as they happen: "msg <member> <partition>
<offset> <value>", "commit <member> <partition> <offset>" for each commit the broker
acknowledged (on_commit), "assign|revoke <member> <partitions,...>", "error <member>
<fatal 0|1> <name>", "lost <member>" when its session timed out. Then closes both members (which commits and leaves) and prints
"done". The Go test (test/clientfaults_test.go) judges it."""

import logging
import sys
import threading

from confluent_kafka import Consumer

addr, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
strategy = sys.argv[4] if len(sys.argv) > 4 else "range"
stop = threading.Event()


def watch_stdin():
    sys.stdin.read()
    stop.set()


def say(*words):
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


class SessionWatch(logging.Handler):
    """librdkafka says only in its log that a member's session timed out (without a
    coordinator to answer it): it then revokes the partitions, if it has any."""

    def __init__(self, name):
        super().__init__(logging.WARNING)
        self.name = name

    def emit(self, record):
        if "session timed out" in record.getMessage():
            say("lost", self.name)


def member(name):
    log = logging.getLogger("rdkafka." + name)
    log.addHandler(SessionWatch(name))
    log.propagate = False
    def committed(err, parts):
        if err is not None:
            say("commit-error", name, err.name())
            return
        for p in parts:
            if p.error is None and p.offset >= 0:
                say("commit", name, p.partition, p.offset)

    c = Consumer({"bootstrap.servers": addr, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": True, "auto.commit.interval.ms": 200,
                  "partition.assignment.strategy": strategy,
                  "session.timeout.ms": 2000, "heartbeat.interval.ms": 200,
                  "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 500,
                  "fetch.wait.max.ms": 100, "on_commit": committed, "logger": log,
                  "error_cb": lambda e: say("error", name, int(e.fatal()), e.name())})
    parts = lambda ps: ",".join(str(p.partition) for p in ps) or "-"
    c.subscribe([topic], on_assign=lambda c, ps: say("assign", name, parts(ps)),
                on_revoke=lambda c, ps: say("revoke", name, parts(ps)))
    return c


def drain(name, c, timeout):
    """Handles the messages one member has ready, waiting up to timeout for the first.
    One message a poll: librdkafka 2.0's batch consume() can store (and so commit) offsets
    of messages it drops at a rebalance, skipping them (a known issue of its 2.0.0)."""
    m = c.poll(timeout)
    for left in range(500, 0, -1):  # then give the other member its turn
        if m is None:
            return
        if m.error():
            say("error", name, int(m.error().fatal()), m.error().name())
        else:
            say("msg", name, m.partition(), m.offset(), m.value().decode())
        if left > 1:
            m = c.poll(0)


threading.Thread(target=watch_stdin, daemon=True).start()
members = [("m1", member("m1")), ("m2", member("m2"))]
while not stop.is_set():
    for name, c in members:
        drain(name, c, 0.01)
for name, c in members:
    c.close()
say("done")
