// Package wire is the Kafka protocol server core: it accepts TCP connections, frames and
// decodes requests (request header v1/v2 and the body via kmsg), dispatches them to the
// API handlers held in a Registry, and writes the responses back in request order.
//
// Several requests may be in flight on one connection: a reader goroutine decodes and
// starts a handler per request (bounded by ServerConfig.MaxInFlightPerConn) and a writer
// goroutine writes responses strictly in the order the requests arrived, as Kafka clients
// require. ApiVersions is built in and always reflects the Registry.
//
// Requests the Registry does not serve are handled like this:
//   - ApiVersions above v4 gets the KIP-511 answer: a v0 response with UNSUPPORTED_VERSION
//     and the ApiVersions range, so the client retries at a version we serve.
//   - Any other key/version that kmsg can decode is decoded and answered, at the request's
//     version, with UNSUPPORTED_VERSION carried everywhere a client looks (see
//     ErrorResponse), so a client gets a clean error instead of a dropped connection.
//   - A key kmsg does not know, or a version beyond what kmsg can decode, cannot be
//     answered in a shape the client would parse: the connection is logged and closed.
package wire
