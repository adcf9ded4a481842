package memlimit

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeRoot builds a file system root holding files (path → content).
func fakeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for path, content := range files {
		full := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const meminfo24G = "MemTotal:       24684084 kB\nMemFree:        1000 kB\n"

// mountinfo lines: a cgroup v1 memory hierarchy and the unified one, as on this kind of
// machine, and a v2-only layout as in a recent container.
const (
	v1Mounts = "30 25 0:26 / /sys/fs/cgroup/memory rw,relatime shared:10 - cgroup cgroup rw,memory\n" +
		"31 25 0:27 / /sys/fs/cgroup/cpu rw,relatime shared:11 - cgroup cgroup rw,cpu\n" +
		"32 25 0:28 / /sys/fs/cgroup/unified rw,relatime shared:12 - cgroup2 cgroup2 rw\n"
	v2Mounts = "40 35 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate\n"
)

func TestDetect(t *testing.T) {
	for _, c := range []struct {
		name       string
		files      map[string]string
		want       int64
		wantCgroup bool
		wantFound  bool
	}{
		{
			name: "cgroup v1: the hierarchical limit, tighter than the cgroup's own",
			files: map[string]string{
				"proc/meminfo":        meminfo24G,
				"proc/self/cgroup":    "9:cpu:/\n4:memory:/jobs/node\n0::/\n",
				"proc/self/mountinfo": v1Mounts,
				"sys/fs/cgroup/memory/jobs/node/memory.stat":           "cache 0\nhierarchical_memory_limit 419430400\n",
				"sys/fs/cgroup/memory/jobs/node/memory.limit_in_bytes": "9223372036854771712\n",
			},
			want: 419430400, wantCgroup: true, wantFound: true,
		},
		{
			name: "cgroup v1 without hierarchical accounting: the cgroup's own limit",
			files: map[string]string{
				"proc/meminfo":        meminfo24G,
				"proc/self/cgroup":    "4:memory:/node\n",
				"proc/self/mountinfo": v1Mounts,
				"sys/fs/cgroup/memory/node/memory.limit_in_bytes": "1073741824\n",
			},
			want: 1 << 30, wantCgroup: true, wantFound: true,
		},
		{
			name: "cgroup v1 unlimited: the machine's RAM",
			files: map[string]string{
				"proc/meminfo":                     meminfo24G,
				"proc/self/cgroup":                 "4:memory:/\n0::/\n",
				"proc/self/mountinfo":              v1Mounts,
				"sys/fs/cgroup/memory/memory.stat": "hierarchical_memory_limit 9223372036854771712\n",
			},
			want: 24684084 << 10, wantFound: true,
		},
		{
			name: "cgroup v2: a parent's memory.max binds a child with none",
			files: map[string]string{
				"proc/meminfo":        meminfo24G,
				"proc/self/cgroup":    "0::/system.slice/node.service\n",
				"proc/self/mountinfo": v2Mounts,
				"sys/fs/cgroup/system.slice/node.service/memory.max": "max\n",
				"sys/fs/cgroup/system.slice/memory.max":              "536870912\n",
			},
			want: 512 << 20, wantCgroup: true, wantFound: true,
		},
		{
			name: "cgroup v2 in a container without a cgroup namespace: the path below the mount's root",
			files: map[string]string{
				"proc/meminfo":             meminfo24G,
				"proc/self/cgroup":         "0::/docker/abc\n",
				"proc/self/mountinfo":      "40 35 0:30 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
				"sys/fs/cgroup/memory.max": "268435456\n",
			},
			want: 256 << 20, wantCgroup: true, wantFound: true,
		},
		{
			name: "a limit above the RAM: the RAM",
			files: map[string]string{
				"proc/meminfo":                 "MemTotal: 1048576 kB\n",
				"proc/self/cgroup":             "0::/big\n",
				"proc/self/mountinfo":          v2Mounts,
				"sys/fs/cgroup/big/memory.max": "4294967296\n",
			},
			want: 1 << 30, wantFound: true,
		},
		{
			name:  "no cgroup files: the RAM",
			files: map[string]string{"proc/meminfo": meminfo24G},
			want:  24684084 << 10, wantFound: true,
		},
		{
			name: "garbage in the limit file: the RAM",
			files: map[string]string{
				"proc/meminfo":               meminfo24G,
				"proc/self/cgroup":           "0::/x\n",
				"proc/self/mountinfo":        v2Mounts,
				"sys/fs/cgroup/x/memory.max": "lots\n",
			},
			want: 24684084 << 10, wantFound: true,
		},
		{
			name: "a cgroup outside the namespace's view: the RAM",
			files: map[string]string{
				"proc/meminfo":            meminfo24G,
				"proc/self/cgroup":        "0::/../other\n",
				"proc/self/mountinfo":     v2Mounts,
				"sys/fs/other/memory.max": "1048576\n",
			},
			want: 24684084 << 10, wantFound: true,
		},
		{name: "nothing readable", files: map[string]string{}, wantFound: false},
	} {
		lim, found := Detect(fakeRoot(t, c.files))
		if found != c.wantFound || lim.Bytes != c.want || lim.Cgroup != c.wantCgroup {
			t.Errorf("%s: %+v found=%v; want %d bytes, cgroup %v, found %v", c.name, lim, found, c.want, c.wantCgroup, c.wantFound)
		}
	}
}
