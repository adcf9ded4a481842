package batch

// The record walkers, for the differential tests and benchmarks in package batch_test (which
// builds its batches with batchtest, a package that imports this one).
var (
	CheckRecords          = func(recs []byte, n int32) error { _, err := checkRecords(recs, n); return err }
	CheckRecordsReference = checkRecordsReference
	RecordsWellFormed     = func(recs []byte, n int32) bool { _, ok := recordsWellFormed(recs, n); return ok }
)
