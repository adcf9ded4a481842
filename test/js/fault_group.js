// Driven by test/clientfaults_test.go: two kafkajs consumers in one group, auto-committing,
// until stdin closes, while the test kills and restarts the node. Prints as they happen:
// "msg <member> <partition> <offset> <value>", "commit <member> <partition> <offset>" for
// every commit the broker acknowledged, "assign <member> <partitions,...>" at each join,
// "crash <member> <error name> <restart true|false> <message>" when the consumer's run
// loop fails. Then disconnects both (which commits and leaves) and prints "done".
const { Kafka, logLevel } = require('kafkajs')

const [broker, topic, group] = process.argv.slice(2)
const kafka = new Kafka({
  clientId: 'chronik-kafkajs-faults', brokers: [broker], logLevel: logLevel.NOTHING,
  connectionTimeout: 1000, requestTimeout: 5000,
  retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 3 },
})

const out = []
function say(...words) { out.push(words.join(' ')); if (out.length >= 200) flush() }
function flush() { if (out.length) { process.stdout.write(out.join('\n') + '\n'); out.length = 0 } }
setInterval(flush, 50).unref()

async function member(name) {
  const c = kafka.consumer({ groupId: group, sessionTimeout: 2000, heartbeatInterval: 200, maxWaitTimeInMs: 100 })
  const { COMMIT_OFFSETS, GROUP_JOIN, CRASH } = c.events
  c.on(COMMIT_OFFSETS, ({ payload }) => {
    for (const t of payload.topics) for (const p of t.partitions) say('commit', name, p.partition, p.offset)
  })
  c.on(GROUP_JOIN, ({ payload }) => say('assign', name, (payload.memberAssignment[topic] || []).join(',') || '-'))
  c.on(CRASH, ({ payload }) => say('crash', name, payload.error.name, payload.restart, String(payload.error.message).replace(/\s+/g, '_')))
  await c.connect()
  await c.subscribe({ topic, fromBeginning: true })
  await c.run({
    autoCommitInterval: 200,
    eachMessage: async ({ partition, message }) => say('msg', name, partition, message.offset, message.value.toString()),
  })
  return c
}

async function main() {
  const members = [await member('m1'), await member('m2')]
  await new Promise((resolve) => {
    process.stdin.on('data', () => {})
    process.stdin.on('end', resolve)
    process.stdin.resume()
  })
  for (const c of members) await c.disconnect()
  say('done')
  flush()
}

main().catch((e) => { flush(); console.error(e); process.exit(1) })
