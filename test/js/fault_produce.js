// Driven by test/clientfaults_test.go: an idempotent kafkajs producer (acks=all, its
// default unlimited retries) sends numbered records round-robin over a topic's partitions,
// one send at a time, until stdin closes, while the test kills, restarts or freezes the
// node. Prints "ack <partition> <offset> <value>" for every acknowledged record and
// "fail <value> <error>" for every record of a send that threw, "timeout" for every request
// that timed out (and will be retried), then "done".
const { Kafka, logLevel } = require('kafkajs')

const [broker, topic, partitionsArg] = process.argv.slice(2)
const partitions = Number(partitionsArg)
const kafka = new Kafka({
  clientId: 'chronik-kafkajs-faults', brokers: [broker], logLevel: logLevel.NOTHING,
  connectionTimeout: 1000, requestTimeout: 1500,
  retry: { initialRetryTime: 100, maxRetryTime: 1000 },
})

let stopping = false
process.stdin.on('data', () => {})
process.stdin.on('end', () => { stopping = true })
process.stdin.resume()

const out = []
function say(line) { out.push(line); if (out.length >= 200) flush() }
function flush() { if (out.length) { process.stdout.write(out.join('\n') + '\n'); out.length = 0 } }
setInterval(flush, 50).unref()

async function main() {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  producer.on(producer.events.REQUEST_TIMEOUT, () => say('timeout'))
  await producer.connect()
  let i = 0
  while (!stopping) {
    const messages = []
    for (let k = 0; k < 30; k++, i++) {
      messages.push({ partition: i % partitions, value: 'r' + String(i).padStart(7, '0') })
    }
    try {
      const meta = await producer.send({ topic, acks: -1, messages })
      const base = new Map(meta.map((m) => [m.partition, BigInt(m.baseOffset)]))
      const next = new Map()
      for (const m of messages) {
        const n = next.get(m.partition) || 0n
        next.set(m.partition, n + 1n)
        say(`ack ${m.partition} ${base.get(m.partition) + n} ${m.value}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 2)) // a steady stream, not a flood
    } catch (e) {
      for (const m of messages) say(`fail ${m.value} ${e.name}:${String(e.message).replace(/\s+/g, '_')}`)
    }
  }
  await producer.disconnect()
  say('done')
  flush()
}

main().catch((e) => { flush(); console.error(e); process.exit(1) })
