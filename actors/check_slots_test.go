package actors

import "testing"

// The compressed-batch checks get as many 32 MiB slots as fit the memory the node gives
// them: at least one, at most two per CPU.
func TestCheckSlotsFitTheirMemory(t *testing.T) {
	const MiB = 1 << 20
	for _, c := range []struct {
		memory int64
		procs  int
		want   int
	}{
		{0, 2, 4},          // no bound given: two per CPU
		{50 * MiB, 2, 1},   // a 400 MiB container's eighth
		{16 * MiB, 2, 1},   // less than a slot still gets one
		{128 * MiB, 2, 4},  // a 1 GiB container's
		{3 << 30, 2, 4},    // a big machine: the CPUs bound it
		{128 * MiB, 16, 4}, // many CPUs in a 1 GiB container: the memory bounds it
	} {
		if got := checkSlots(c.memory, c.procs); got != c.want {
			t.Errorf("%d bytes, %d CPUs: %d slots, want %d", c.memory, c.procs, got, c.want)
		}
	}
}
