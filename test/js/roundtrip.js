// Driven by test/kafkajs_test.go: create a topic, produce with an idempotent producer
// (uncompressed and gzip, kafkajs's built-in codecs), consume everything in a consumer
// group that commits, then check a second consumer of the same group resumes after the
// committed offsets. Prints one JSON line with what it saw.
const { Kafka, CompressionTypes, logLevel } = require('kafkajs')

const [broker, topic, group] = process.argv.slice(2)
const total = 40
const kafka = new Kafka({ clientId: 'chronik-kafkajs', brokers: [broker], logLevel: logLevel.ERROR })

async function consume(want, timeoutMs) {
  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10000, heartbeatInterval: 500 })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const seen = []
  await new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, timeoutMs)
    consumer.run({
      autoCommitInterval: 100,
      eachMessage: async ({ message }) => {
        seen.push(message.value.toString())
        if (want > 0 && seen.length === want) { clearTimeout(timer); resolve() }
      },
    }).catch(reject)
  })
  await consumer.disconnect() // commits what was consumed
  return seen
}

async function main() {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] })
  await admin.disconnect()

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  for (let i = 0; i < total; i++) {
    const compression = i % 2 === 0 ? CompressionTypes.None : CompressionTypes.GZIP
    await producer.send({ topic, compression, messages: [{ key: `k${i}`, value: `v${i}` }] })
  }
  await producer.disconnect()

  const first = await consume(total, 30000)
  // Everything was committed, so the group's next member sees nothing old.
  const again = await consume(0, 3000)
  console.log(JSON.stringify({ produced: total, consumed: first.length, distinct: new Set(first).size, redelivered: again.length }))
}

main().catch((e) => { console.error(e); process.exit(1) })
