package batch

// The record walkers, for the differential tests and benchmarks in package batch_test (which
// builds its batches with batchtest, a package that imports this one).
var (
	CheckRecords          = func(recs []byte, n int32) error { _, err := checkRecords(recs, n); return err }
	CheckRecordsReference = checkRecordsReference
	RecordsWellFormed     = func(recs []byte, n int32) bool { _, ok := recordsWellFormed(recs, n); return ok }
)

// MaxRecordTimestamp is the tests' reference for the newest record timestamp that
// ValidateProduced reports: it returns the newest timestamp among the records of the uncompressed
// records section recs of a batch whose first timestamp is firstTimestamp, or -1 (Kafka's
// NO_TIMESTAMP) when no record has a later one. Kafka's broker takes a CreateTime batch's
// max timestamp from its records, not from the producer's header: kafkajs, for one, puts
// the newest of the timestamps its caller set in the header, though records the caller
// left unstamped carry the (later) time of sending.
func MaxRecordTimestamp(recs []byte, firstTimestamp int64) (int64, error) {
	newest := int64(-1)
	err := RecordTimes(recs, func(_ int32, tsDelta int64) bool {
		newest = max(newest, firstTimestamp+tsDelta)
		return true
	})
	if err != nil {
		return 0, err
	}
	return newest, nil
}
