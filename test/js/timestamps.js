// Driven by test/kafkajs_test.go: kafkajs's lookups by time and its record deletion.
// kafkajs writes the newest timestamp its caller set into a batch's header, though
// messages the caller left unstamped carry the (later) time of sending; the broker must
// take the batch's max timestamp from its records, as Kafka does, or a lookup by time
// skips those messages. Prints one JSON line with what it saw.
const { Kafka, logLevel } = require('kafkajs')

const [broker, topic] = process.argv.slice(2)
const kafka = new Kafka({ clientId: 'chronik-kafkajs', brokers: [broker], logLevel: logLevel.ERROR })

async function main() {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] })
  const producer = kafka.producer()
  await producer.connect()
  const now = Date.now()
  await producer.send({ topic, messages: [
    { value: 'stamped', timestamp: String(now - 60000) },
    { value: 'unstamped' },
  ] })
  await producer.send({ topic, messages: [{ value: 'later', timestamp: String(now + 30000) }] })
  await producer.disconnect()

  const at = async (ts) => (await admin.fetchTopicOffsetsByTimestamp(topic, ts))[0].offset
  const byTime = { before: await at(now - 120000), stampedOnly: await at(now - 59999), afterLater: await at(now + 30001) }
  // kafkajs answers "no record that late" with the high watermark.
  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '1' }] })
  const [{ low, high }] = await admin.fetchTopicOffsets(topic)
  await admin.disconnect()
  console.log(JSON.stringify({ byTime, low, high }))
}

main().catch((e) => { console.error(e); process.exit(1) })
