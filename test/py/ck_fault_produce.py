"""An idempotent acks=all librdkafka producer (confluent-kafka-python) streaming numbered
records round-robin over a topic's partitions until its stdin closes, while the Go test
kills, restarts or freezes the node. Every delivery report is printed as it arrives:
"ack <partition> <offset> <value>" or "fail <value> <error>"; error_cb's reports are
"error <fatal 0|1> <name> <text>". After stdin closes it flushes and prints
"done <undelivered>". The Go test (test/clientfaults_test.go) judges the stream."""

import sys
import threading
import time

from confluent_kafka import Producer

addr, topic, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
extra = dict(kv.split("=", 1) for kv in sys.argv[4:])  # more librdkafka settings
stop = threading.Event()


def watch_stdin():
    sys.stdin.read()
    stop.set()


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def report(err, msg):
    if err is not None:
        say("fail %s %s" % (msg.value().decode(), err.str().replace("\n", " ")))
    else:
        say("ack %d %d %s" % (msg.partition(), msg.offset(), msg.value().decode()))


p = Producer({"bootstrap.servers": addr, "enable.idempotence": True, "acks": "all",
              "linger.ms": 2, "message.timeout.ms": 60000,
              "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 500,
              "error_cb": lambda e: say("error %d %s %s" % (int(e.fatal()), e.name(), e.str().replace("\n", " "))),
              **extra})
threading.Thread(target=watch_stdin, daemon=True).start()

i = 0
while not stop.is_set():
    try:
        p.produce(topic, value=b"r%07d" % i, partition=i % partitions, on_delivery=report)
    except BufferError:
        p.poll(0.05)
        continue
    i += 1
    p.poll(0)
    if i % 20 == 0:
        time.sleep(0.002)  # a steady stream, not a flood the test must keep in memory
say("done %d" % p.flush(60))
