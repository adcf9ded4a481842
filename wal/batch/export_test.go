package batch

// The record walkers, for the differential tests and benchmarks in package batch_test (which
// builds its batches with batchtest, a package that imports this one).
var (
	CheckRecords          = checkRecords
	CheckRecordsReference = checkRecordsReference
	RecordsWellFormed     = recordsWellFormed
)
